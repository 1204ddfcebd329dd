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
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/store/postgres/pgtest"
)

// pfBound is the contract's bound on any answer while the database is away.
// It is a correctness bound, not a benchmark: a request that takes longer
// is a request that hangs.
const pfBound = 5 * time.Second

// Bounds of the phases of a fault test.
const (
	pfPhaseTimeout   = 60 * time.Second // each phase reaches its goal within this
	pfRequestTimeout = 20 * time.Second // a request still unanswered is reported as a hang
)

// pfMode is what the proxy does with traffic.
type pfMode int

const (
	pfForward   pfMode = iota // healthy: bytes flow both ways
	pfReset                   // PostgreSQL is down: connections are reset, new ones as soon as accepted
	pfBlackhole               // partition: connections are accepted but nothing is forwarded
)

// pfProxy is a TCP proxy to PostgreSQL that a test can break and heal.
type pfProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup // accept loop and copy goroutines

	mu      sync.Mutex
	mode    pfMode
	changed chan struct{} // closed (and replaced) on every mode change
	conns   map[*pfConn]struct{}
	closed  bool
}

// pfConn is one client connection and, once forwarded, its upstream.
type pfConn struct {
	client, server net.Conn // server is nil for a connection held in a blackhole
	dropped        bool
}

// pfNewProxy listens on a free loopback port and forwards to target. It is
// closed when the test ends.
func pfNewProxy(t testing.TB, target string) *pfProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pfProxy{ln: ln, target: target, changed: make(chan struct{}), conns: map[*pfConn]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's host:port.
func (p *pfProxy) Addr() string { return p.ln.Addr().String() }

func (p *pfProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		switch {
		case p.closed || p.mode == pfReset:
			p.mu.Unlock()
			pfAbort(c) // as a stopped server: the connection dies at once
		case p.mode == pfBlackhole:
			// Accepted and never answered, nor read: the client waits
			// until its own timeout. Heal or Close drops it.
			p.conns[&pfConn{client: c}] = struct{}{}
			p.mu.Unlock()
		default:
			pc := &pfConn{client: c}
			p.conns[pc] = struct{}{}
			p.wg.Add(1)
			p.mu.Unlock()
			go p.forward(pc)
		}
	}
}

// forward dials the target and copies both ways until either side ends or
// the proxy drops the connection.
func (p *pfProxy) forward(pc *pfConn) {
	defer p.wg.Done()
	s, err := net.DialTimeout("tcp", p.target, 3*time.Second)
	p.mu.Lock()
	if err != nil || pc.dropped {
		p.dropLocked(pc)
		p.mu.Unlock()
		if s != nil {
			s.Close()
		}
		return
	}
	pc.server = s
	p.wg.Add(2)
	p.mu.Unlock()
	var once sync.Once
	end := func() {
		once.Do(func() {
			p.mu.Lock()
			p.dropLocked(pc)
			p.mu.Unlock()
		})
	}
	go func() { defer p.wg.Done(); defer end(); p.copy(pc, s, pc.client) }()
	go func() { defer p.wg.Done(); defer end(); p.copy(pc, pc.client, s) }()
}

// copy moves bytes from src to dst. In a blackhole it holds what it read
// until the proxy heals (or drops the connection).
func (p *pfProxy) copy(pc *pfConn, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.pass(pc) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pass waits while the proxy is blackholed and reports whether pc may still
// carry bytes.
func (p *pfProxy) pass(pc *pfConn) bool {
	for {
		p.mu.Lock()
		dropped, mode, changed := pc.dropped, p.mode, p.changed
		p.mu.Unlock()
		switch {
		case dropped:
			return false
		case mode == pfForward:
			return true
		}
		<-changed
	}
}

// dropLocked closes pc (resetting the client side) and forgets it.
func (p *pfProxy) dropLocked(pc *pfConn) {
	if pc.dropped {
		return
	}
	pc.dropped = true
	delete(p.conns, pc)
	pfAbort(pc.client)
	if pc.server != nil {
		pc.server.Close()
	}
}

// pfAbort closes c with a TCP reset rather than an orderly close, as a
// crashed server or a broken network does.
func pfAbort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func (p *pfProxy) setLocked(m pfMode) {
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
}

// Cut resets every open connection and refuses new ones, as when
// PostgreSQL stops.
func (p *pfProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		p.dropLocked(pc)
	}
	p.setLocked(pfReset)
}

// Blackhole stops forwarding on every open connection and accepts new ones
// without ever answering, as a network partition does.
func (p *pfProxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setLocked(pfBlackhole)
}

// Heal forwards again. Connections caught in a blackhole are dropped: their
// clients gave up on them long ago, as they would after a real partition.
func (p *pfProxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == pfBlackhole {
		for pc := range p.conns {
			p.dropLocked(pc)
		}
	}
	p.setLocked(pfForward)
}

// Close stops the proxy and waits for its goroutines.
func (p *pfProxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.ln.Close()
	for pc := range p.conns {
		p.dropLocked(pc)
	}
	p.setLocked(pfForward) // wakes copies held in a blackhole; they see the drop
	p.mu.Unlock()
	p.wg.Wait()
}

// pfResult is one request of the load.
type pfResult struct {
	op         string // "create" or "get"
	start, end time.Time
	status     int
	retryAfter string
	body       string
	err        error
	id, email  string // create: the acknowledged user; get: the user read
}

func (r pfResult) String() string {
	s := fmt.Sprintf("%s %s started %s, took %v: ", r.op, r.email, r.start.Format("15:04:05.000"), r.end.Sub(r.start).Round(time.Millisecond))
	if r.err != nil {
		return s + "error " + r.err.Error()
	}
	return s + fmt.Sprintf("status %d, Retry-After %q, body %s", r.status, r.retryAfter, strings.TrimSpace(r.body))
}

func (r pfResult) ok() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// pfLoad is a light steady load on the backend: each worker creates a
// user, then reads back the last user it created, in turn, paced.
type pfLoad struct {
	s       *testServer
	results chan pfResult
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func pfStartLoad(s *testServer, workers int, every time.Duration) *pfLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &pfLoad{s: s, results: make(chan pfResult, 4096), cancel: cancel}
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
				var r pfResult
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
func (l *pfLoad) Stop() []pfResult {
	l.cancel()
	l.wg.Wait()
	close(l.results)
	var rest []pfResult
	for r := range l.results {
		rest = append(rest, r)
	}
	return rest
}

func (l *pfLoad) do(ctx context.Context, r *pfResult, method, url string, body any) {
	ctx, cancel := context.WithTimeout(ctx, pfRequestTimeout)
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

func (l *pfLoad) create(ctx context.Context, email string) pfResult {
	r := pfResult{op: "create", email: email}
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

func (l *pfLoad) get(ctx context.Context, id, email string) pfResult {
	r := pfResult{op: "get", id: id, email: email}
	l.do(ctx, &r, http.MethodGet, l.s.Backend+"/users/"+id, nil)
	return r
}

// pfLogs keeps the in-process Usher's log lines, printed when a test fails:
// the internal cause of a 500 is only there.
type pfLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *pfLogs) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *pfLogs) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(l.buf.String()), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// pfStart starts Usher in-process on a fresh PostgreSQL schema reached
// through a new proxy.
func pfStart(t *testing.T) (*testServer, *pfProxy) {
	t.Helper()
	dsn := pgtest.DSN(t) // skips (or fails in CI) without PostgreSQL
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := pfNewProxy(t, u.Host)
	u.Host = proxy.Addr()
	logs := &pfLogs{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("usher log, last lines:\n%s", logs.tail(60))
		}
	})
	s := startServer(t, func(m *Main) {
		m.Config.DB = u.String()
		m.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if s.Config.DBTimeout >= pfBound {
		t.Fatalf("db-timeout %v: the test needs the default (3s), below the %v bound", s.Config.DBTimeout, pfBound)
	}
	return s, proxy
}

// pfReadyz returns the status of GET /readyz and how long it took.
func pfReadyz(t *testing.T, s *testServer) (status int, retryAfter string, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pfRequestTimeout)
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
		fault func(*pfProxy)
	}{
		{name: "connections reset", fault: (*pfProxy).Cut},
		{name: "blackhole", fault: (*pfProxy).Blackhole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, proxy := pfStart(t)
			pfRun(t, s, proxy, tt.fault)
		})
	}
}

// pfRun drives one fault: healthy load, fault, heal, recovery; then checks
// every answer and every acknowledged write.
func pfRun(t *testing.T, s *testServer, proxy *pfProxy, fault func(*pfProxy)) {
	const (
		workers      = 4
		healthyAcks  = 8  // creates acknowledged before the fault
		faultAnswers = 12 // requests started and answered during the fault
		recoverAcks  = 8  // creates acknowledged after the heal
	)
	load := pfStartLoad(s, workers, 20*time.Millisecond)
	var all []pfResult
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
	next := func(phase string, done func(pfResult) bool) {
		t.Helper()
		timeout := time.NewTimer(pfPhaseTimeout)
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
				t.Fatalf("%s: goal not reached within %v; %d results:\n%s", phase, pfPhaseTimeout, len(all), pfSummary(all))
			}
		}
	}

	acks := 0
	next("before the fault", func(r pfResult) bool {
		if r.op == "create" && r.ok() {
			acks++
		}
		return acks >= healthyAcks
	})

	fault(proxy)
	cutAt := time.Now()
	status, retryAfter, took := pfReadyz(t, s)
	if status != http.StatusServiceUnavailable || retryAfter == "" || took > pfBound {
		t.Errorf("GET /readyz with the database away: status %d, Retry-After %q, after %v; want 503 with Retry-After within %v",
			status, retryAfter, took.Round(time.Millisecond), pfBound)
	}
	answered := map[string]int{} // op -> requests started after the fault
	next("during the fault", func(r pfResult) bool {
		if r.start.After(cutAt) {
			answered[r.op]++
		}
		return answered["create"]+answered["get"] >= faultAnswers && answered["create"] > 0 && answered["get"] > 0
	})

	proxy.Heal()
	healAt := time.Now()
	acks = 0
	next("after the heal", func(r pfResult) bool {
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
	var created []pfResult
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
		case took > pfBound:
			t.Errorf("answered after %v, over the %v bound: %v", took.Round(time.Millisecond), pfBound, r)
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

	status, _, _ = pfReadyz(t, s)
	if status != http.StatusOK {
		t.Errorf("GET /readyz after the heal: status %d, want 200", status)
	}

	// Every acknowledged write is there, read through the same Usher.
	l := &pfLoad{s: s}
	for _, c := range created {
		r := l.get(context.Background(), c.id, c.email)
		var u struct{ Email string }
		_ = json.Unmarshal([]byte(r.body), &u)
		if r.status != http.StatusOK || u.Email != c.email {
			t.Errorf("acknowledged create %s (id %s) at the end: %v; want 200 with that email", c.email, c.id, r)
		}
	}
}

// pfSummary lists results, one a line, for a failure message.
func pfSummary(rs []pfResult) string {
	var b strings.Builder
	for _, r := range rs[max(0, len(rs)-40):] {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}
