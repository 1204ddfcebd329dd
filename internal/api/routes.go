package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/usherhq/usher/internal/usher"
)

// HandlerFunc is an HTTP handler that returns its error for rendering.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Guard is a route's authentication. Check admits a request, returning the
// request to serve (whose context may carry what the guard resolved: a
// tenant, a user), or refuses it with the error to render; it may set
// response headers (a challenge) before refusing. Each surface brings its
// own guards; every route names one.
type Guard struct {
	Name  string
	Check func(w http.ResponseWriter, r *http.Request) (*http.Request, error)
}

// Open admits every request: health checks, key sets, verification links.
var Open = Guard{Name: "open", Check: func(_ http.ResponseWriter, r *http.Request) (*http.Request, error) { return r, nil }}

// ClientCert admits requests whose TLS connection presented a client
// certificate that the listener verified against the client CA.
var ClientCert = Guard{Name: "mtls", Check: func(_ http.ResponseWriter, r *http.Request) (*http.Request, error) {
	// The listener already refuses a handshake without a verified client
	// certificate; this holds if it is ever misconfigured.
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return nil, usher.Errorf(usher.Unauthorized, "A verified client certificate is required.")
	}
	return r, nil
}}

// Route is one row of a surface's route table.
type Route struct {
	Pattern string // http.ServeMux pattern with method, e.g. "GET /users/{id}"
	Guard   Guard
	Limit   *Limiter // a per-client limit of this route, after the guard; nil for none
	Handler HandlerFunc
	// Exempt keeps the route out of the surface's limit (health checks,
	// which a load balancer calls often from one address).
	Exempt bool
}

// Renderer writes an error response: status and code are decided by the
// shared rules (Status), and headers such as Retry-After are already set.
type Renderer func(w http.ResponseWriter, r *http.Request, status int, code usher.Code, err error)

// Surface is one listener's API: its routes and what it renders its own
// way. Everything else (routing, guards, limits, 404 and 405, error rules,
// request ids, recovery, metrics, access log) is shared.
type Surface struct {
	Name   string
	Routes []Route
	// Render writes errors; nil renders the native error body.
	Render Renderer
	// NoRoute writes the body of a 404 (no route) or 405 (Allow is set);
	// nil renders them as errors.
	NoRoute func(w http.ResponseWriter, r *http.Request, status int)
	// Limit is a per-client limit on every request (nil: none), applied
	// once the route is known, so a refusal is counted under its route.
	Limit *Limiter
	// Middleware runs in order before routing, inside the common
	// middleware (e.g. CORS).
	Middleware []func(http.Handler) http.Handler
	// Trusted are the proxies whose X-Forwarded-For names the client
	// (usher.ClientAddr).
	Trusted []netip.Prefix
}

// Handler builds the surface.
func (s Surface) Handler(log *slog.Logger, m *Metrics, accessLog bool) (http.Handler, error) {
	render := s.Render
	if render == nil {
		render = RenderNative
	}
	fail := errorWriter{log: log, render: render}
	mux := http.NewServeMux()
	for _, rt := range s.Routes {
		if rt.Guard.Check == nil || rt.Handler == nil || !strings.Contains(rt.Pattern, " ") {
			return nil, fmt.Errorf("api: %s route %q needs a method, a guard and a handler", s.Name, rt.Pattern)
		}
		mux.Handle(rt.Pattern, s.route(rt, fail))
	}
	var h http.Handler = s.unmatched(mux, fail)
	for i := len(s.Middleware) - 1; i >= 0; i-- {
		h = s.Middleware[i](h)
	}
	return common(s.Name, h, fail, m, accessLog, s.Trusted), nil
}

// route serves one route: the surface's limit, the guard, the route's
// limit, then the handler; any error is rendered.
func (s Surface) route(rt Route, fail errorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rt.Exempt {
			if err := s.Limit.Allow(w, r); err != nil {
				fail.write(w, r, err)
				return
			}
		}
		admitted, err := rt.Guard.Check(w, r)
		if err == nil {
			err = rt.Limit.Allow(w, admitted)
		}
		if err == nil {
			r = admitted
			err = rt.Handler(w, r)
		}
		if err != nil {
			fail.write(w, r, err)
		}
	})
}

// unmatched answers requests that no route matched: 405 with Allow when the
// path exists under another method, 404 otherwise.
func (s Surface) unmatched(mux *http.ServeMux, fail errorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // the mux sets the path values and r.Pattern
			return
		}
		if err := s.Limit.Allow(w, r); err != nil {
			fail.write(w, r, err)
			return
		}
		// Ask the mux what it would have said (404, or 405 with Allow),
		// then say it in the surface's format.
		probe := &probeWriter{header: http.Header{}}
		h.ServeHTTP(probe, r)
		status := http.StatusNotFound
		if probe.status == http.StatusMethodNotAllowed {
			status = http.StatusMethodNotAllowed
			w.Header().Set("Allow", probe.header.Get("Allow"))
		}
		if s.NoRoute != nil {
			s.NoRoute(w, r, status)
			return
		}
		if status == http.StatusMethodNotAllowed {
			fail.write(w, r, usher.Errorf(usher.MethodNotAllow, "Method not allowed."))
			return
		}
		fail.write(w, r, usher.Errorf(usher.NotFound, "Not found."))
	})
}

type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header         { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *probeWriter) WriteHeader(status int)      { p.status = status }
