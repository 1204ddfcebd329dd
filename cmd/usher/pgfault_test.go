package main

// PostgreSQL faults, end to end: Usher runs in-process on PostgreSQL through
// a TCP proxy inside the test, which can cut every connection or swallow
// them (a network partition). The contract under a steady light load: while
// the database is away, every request gets 503 + Retry-After within 5
// seconds (never 500, never a hang) and /readyz fails; once it is back,
// requests succeed again without a restart; no write acknowledged with a
// 2xx is lost.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/store/postgres/pgtest"
)

// faultBound is the contract's bound on any answer while the database is away.
// It is a correctness bound, not a benchmark: a request that takes longer
// is a request that hangs.
const faultBound = 5 * time.Second

// Bounds of the phases of a fault test.
const (
	phaseTimeout   = 60 * time.Second // each phase reaches its goal within this
	requestTimeout = 20 * time.Second // a request still unanswered is reported as a hang
)

// loadResult is one request of the load.
type loadResult struct {
	op         string // "create" or "get"
	start, end time.Time
	status     int
	retryAfter string
	body       string
	err        error
	id, email  string // create: the acknowledged user; get: the user read
}

func (r loadResult) String() string {
	s := fmt.Sprintf("%s %s started %s, took %v: ", r.op, r.email, r.start.Format("15:04:05.000"), r.end.Sub(r.start).Round(time.Millisecond))
	if r.err != nil {
		return s + "error " + r.err.Error()
	}
	return s + fmt.Sprintf("status %d, Retry-After %q, body %s", r.status, r.retryAfter, strings.TrimSpace(r.body))
}

func (r loadResult) ok() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// backendLoad is a light steady load on the backend: each worker creates a
// user, then reads back the last user it created, in turn, paced.
type backendLoad struct {
	s       *testServer
	results chan loadResult
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func startLoad(s *testServer, workers int, every time.Duration) *backendLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &backendLoad{s: s, results: make(chan loadResult, 4096), cancel: cancel}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(every)
			defer tick.Stop()
			var lastID, lastEmail string
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				var r loadResult
				if i%2 == 0 || lastID == "" {
					r = l.create(ctx, fmt.Sprintf("pf-%d-%d@example.com", w, i))
					if r.ok() {
						lastID, lastEmail = r.id, r.email
					}
				} else {
					r = l.get(ctx, lastID, lastEmail)
				}
				if ctx.Err() != nil && r.err != nil {
					return // stopped mid-request: not a result
				}
				l.results <- r
			}
		}()
	}
	return l
}

// Stop ends the load and returns the results not yet received.
func (l *backendLoad) Stop() []loadResult {
	l.cancel()
	l.wg.Wait()
	close(l.results)
	var rest []loadResult
	for r := range l.results {
		rest = append(rest, r)
	}
	return rest
}

func (l *backendLoad) do(ctx context.Context, r *loadResult, method, url string, body any) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		r.err = err
		return
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	r.start = time.Now()
	res, err := l.s.Client.Do(req)
	if err != nil {
		r.end, r.err = time.Now(), err
		return
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	r.end = time.Now()
	r.status, r.retryAfter, r.body, r.err = res.StatusCode, res.Header.Get("Retry-After"), string(b), err
}

func (l *backendLoad) create(ctx context.Context, email string) loadResult {
	r := loadResult{op: "create", email: email}
	l.do(ctx, &r, http.MethodPost, l.s.Backend+"/users", map[string]any{"email": email, "password": "correct horse battery"})
	if r.status == http.StatusCreated {
		var u struct{ ID, Email string }
		if err := json.Unmarshal([]byte(r.body), &u); err != nil || u.ID == "" {
			r.err = fmt.Errorf("201 without a user id: %v", err)
		}
		r.id = u.ID
	}
	return r
}

func (l *backendLoad) get(ctx context.Context, id, email string) loadResult {
	r := loadResult{op: "get", id: id, email: email}
	l.do(ctx, &r, http.MethodGet, l.s.Backend+"/users/"+id, nil)
	return r
}

// startBehindProxy starts Usher in-process on a fresh PostgreSQL schema reached
// through a new proxy.
func startBehindProxy(t *testing.T) (*testServer, *dbProxy) {
	t.Helper()
	dsn := pgtest.DSN(t) // skips (or fails in CI) without PostgreSQL
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newDBProxy(t, u.Host)
	u.Host = proxy.Addr()
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("usher log, last lines:\n%s", logs.tail(60))
		}
	})
	s := startServer(t, func(m *Main) {
		m.Config.DB = u.String()
		m.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if s.Config.DBTimeout >= faultBound {
		t.Fatalf("db-timeout %v: the test needs the default (3s), below the %v bound", s.Config.DBTimeout, faultBound)
	}
	return s, proxy
}

// readyz returns the status of GET /readyz and how long it took.
func readyz(t *testing.T, s *testServer) (status int, retryAfter string, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Backend+"/readyz", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := s.Client.Do(req)
	took = time.Since(start)
	if err != nil {
		t.Fatalf("GET /readyz: %v after %v", err, took.Round(time.Millisecond))
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After"), took
}

func TestPGFault(t *testing.T) {
	if !pgtest.Available(t) { // fails in CI
		t.Skipf("PostgreSQL tests need %s", pgtest.Env)
	}
	tests := []struct {
		name  string
		fault func(*dbProxy)
	}{
		{name: "connections reset", fault: (*dbProxy).Cut},
		{name: "blackhole", fault: (*dbProxy).Blackhole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, proxy := startBehindProxy(t)
			runFault(t, s, proxy, tt.fault)
		})
	}
}

// runFault drives one fault: healthy load, fault, heal, recovery; then checks
// every answer and every acknowledged write.
func runFault(t *testing.T, s *testServer, proxy *dbProxy, fault func(*dbProxy)) {
	const (
		workers      = 4
		healthyAcks  = 8  // creates acknowledged before the fault
		faultAnswers = 12 // requests started and answered during the fault
		recoverAcks  = 8  // creates acknowledged after the heal
	)
	load := startLoad(s, workers, 20*time.Millisecond)
	var all []loadResult
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			all = append(all, load.Stop()...)
		}
	}
	t.Cleanup(stop)

	// next receives results until done reports true, or fails the test when
	// the phase takes too long.
	next := func(phase string, done func(loadResult) bool) {
		t.Helper()
		timeout := time.NewTimer(phaseTimeout)
		defer timeout.Stop()
		for {
			select {
			case r := <-load.results:
				all = append(all, r)
				if done(r) {
					return
				}
			case <-timeout.C:
				stop()
				t.Fatalf("%s: goal not reached within %v; %d results:\n%s", phase, phaseTimeout, len(all), summary(all))
			}
		}
	}

	acks := 0
	next("before the fault", func(r loadResult) bool {
		if r.op == "create" && r.ok() {
			acks++
		}
		return acks >= healthyAcks
	})

	fault(proxy)
	cutAt := time.Now()
	status, retryAfter, took := readyz(t, s)
	if status != http.StatusServiceUnavailable || retryAfter == "" || took > faultBound {
		t.Errorf("GET /readyz with the database away: status %d, Retry-After %q, after %v; want 503 with Retry-After within %v",
			status, retryAfter, took.Round(time.Millisecond), faultBound)
	}
	answered := map[string]int{} // op -> requests started after the fault
	next("during the fault", func(r loadResult) bool {
		if r.start.After(cutAt) {
			answered[r.op]++
		}
		return answered["create"]+answered["get"] >= faultAnswers && answered["create"] > 0 && answered["get"] > 0
	})

	proxy.Heal()
	healAt := time.Now()
	acks = 0
	next("after the heal", func(r loadResult) bool {
		if r.op == "create" && r.ok() && r.start.After(healAt) {
			acks++
		}
		return acks >= recoverAcks
	})
	stop()
	recoveredIn := time.Duration(0)
	for _, r := range all {
		if r.ok() && r.start.After(healAt) {
			recoveredIn = r.end.Sub(healAt)
			break
		}
	}

	// Every answer, in every phase.
	var created []loadResult
	var inFault, faultFailed int
	var slowest time.Duration
	for _, r := range all {
		during := r.start.After(cutAt) && r.end.Before(healAt)
		took := r.end.Sub(r.start)
		if during {
			inFault++
			slowest = max(slowest, took)
		}
		switch {
		case r.err != nil:
			t.Errorf("no answer (a hang or a broken connection): %v", r)
			continue
		case took > faultBound:
			t.Errorf("answered after %v, over the %v bound: %v", took.Round(time.Millisecond), faultBound, r)
		}
		switch {
		case r.ok():
			if during {
				t.Errorf("a success while the database was away: %v", r)
			}
			if r.op == "create" {
				created = append(created, r)
			}
		case r.status == http.StatusServiceUnavailable:
			if r.retryAfter == "" {
				t.Errorf("503 without Retry-After: %v", r)
			}
			if during {
				faultFailed++
			}
		default:
			t.Errorf("want 2xx, or 503 + Retry-After while the database is away; got %v", r)
		}
	}
	t.Logf("%d requests (%d created users); %d answered wholly during the fault, %d of them 503, the slowest in %v; first success %v after the heal",
		len(all), len(created), inFault, faultFailed, slowest.Round(time.Millisecond), recoveredIn.Round(time.Millisecond))

	status, _, _ = readyz(t, s)
	if status != http.StatusOK {
		t.Errorf("GET /readyz after the heal: status %d, want 200", status)
	}

	// Every acknowledged write is there, read through the same Usher.
	l := &backendLoad{s: s}
	for _, c := range created {
		r := l.get(context.Background(), c.id, c.email)
		var u struct{ Email string }
		_ = json.Unmarshal([]byte(r.body), &u)
		if r.status != http.StatusOK || u.Email != c.email {
			t.Errorf("acknowledged create %s (id %s) at the end: %v; want 200 with that email", c.email, c.id, r)
		}
	}
}

// summary lists results, one a line, for a failure message.
func summary(rs []loadResult) string {
	var b strings.Builder
	for _, r := range rs[max(0, len(rs)-40):] {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}
