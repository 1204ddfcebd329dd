package thunderadmin

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// Check is one health check. Run returns nil when healthy, or an error
// whose text is safe to show (it is the result's message).
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Admin is Thunder's admin connector.
type Admin struct {
	Registry *Registry
	Checks   []Check
	// Allow are the client addresses answered; others get 403. The
	// connection's own address decides (X-Forwarded-For is not believed).
	Allow []netip.Prefix
	// Timeout bounds each health check (default 5 s).
	Timeout time.Duration
	Now     func() time.Time
}

// Surface is the admin listener's routes, behind its address check.
func (a *Admin) Surface() api.Surface {
	return api.Surface{
		Name: "thunder-admin",
		Routes: []api.Route{
			{Pattern: "GET /healthcheck", Guard: api.Open, Handler: a.health},
			{Pattern: "GET /ping", Guard: api.Open, Handler: ping},
			{Pattern: "GET /metrics", Guard: api.Open, Handler: a.metrics},
		},
		Render:     renderText,
		NoRoute:    noRoute,
		Middleware: []func(http.Handler) http.Handler{a.allowed},
	}
}

// allowed answers 403 to clients outside Allow, before any route.
func (a *Admin) allowed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.admits(r.RemoteAddr) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("Forbidden: this address may not use the admin listener.\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *Admin) admits(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range a.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// noStore is the caching header of Dropwizard's admin servlets.
const noStore = "must-revalidate,no-cache,no-store"

func ping(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	w.Header().Set("Cache-Control", noStore)
	_, err := w.Write([]byte("pong\n"))
	return err
}

func (a *Admin) metrics(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", noStore)
	return json.NewEncoder(w).Encode(a.Registry.snapshot())
}

// result is one check's result as Dropwizard writes it.
type result struct {
	Healthy   bool   `json:"healthy"`
	Message   string `json:"message,omitempty"`
	Duration  int64  `json:"duration"` // milliseconds
	Timestamp string `json:"timestamp"`
}

// health runs every check at once and answers 200 when all are healthy,
// 500 otherwise (501 with none), as Dropwizard's health check servlet.
func (a *Admin) health(w http.ResponseWriter, r *http.Request) error {
	now := a.Now
	if now == nil {
		now = time.Now
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	results := make(map[string]result, len(a.Checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range a.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			t0 := time.Now()
			err := safeRun(ctx, c.Run)
			res := result{Healthy: err == nil, Duration: time.Since(t0).Milliseconds(), Timestamp: timestamp(now())}
			if err != nil {
				res.Message = message(err)
			}
			mu.Lock()
			results[c.Name] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	status := http.StatusOK
	if len(results) == 0 {
		status = http.StatusNotImplemented
	}
	for _, res := range results {
		if !res.Healthy {
			status = http.StatusInternalServerError
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", noStore)
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(results)
}

// message is an unhealthy result's message: a domain error's safe text,
// or the error's own.
func message(err error) string {
	var e *usher.Error
	if errors.As(err, &e) {
		return usher.ErrorMessage(err)
	}
	return err.Error()
}

// safeRun turns a check's panic into an unhealthy result.
func safeRun(ctx context.Context, run func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errPanicked
		}
	}()
	return run(ctx)
}

var errPanicked = usher.Errorf(usher.Internal, "The health check failed unexpectedly.")

func renderText(w http.ResponseWriter, _ *http.Request, status int, _ usher.Code, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(usher.ErrorMessage(err) + "\n"))
}

func noRoute(w http.ResponseWriter, _ *http.Request, status int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(http.StatusText(status) + "\n"))
}
