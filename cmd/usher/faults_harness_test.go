package main

// Fault injection for the end-to-end tests: a TCP proxy to PostgreSQL that
// cuts or swallows connections, SQLite's write lock held from outside, and
// a log handler that signals one event.

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxyMode is what the proxy does with traffic.
type proxyMode int

const (
	proxyForward   proxyMode = iota // healthy: bytes flow both ways
	proxyReset                      // PostgreSQL is down: connections are reset, new ones as soon as accepted
	proxyBlackhole                  // partition: connections are accepted but nothing is forwarded
)

// dbProxy is a TCP proxy to PostgreSQL that a test can break and heal.
type dbProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup // accept loop and copy goroutines

	mu      sync.Mutex
	mode    proxyMode
	changed chan struct{} // closed (and replaced) on every mode change
	conns   map[*proxyConn]struct{}
	closed  bool
}

// proxyConn is one client connection and, once forwarded, its upstream.
type proxyConn struct {
	client, server net.Conn // server is nil for a connection held in a blackhole
	dropped        bool
}

// newDBProxy listens on a free loopback port and forwards to target. It is
// closed when the test ends.
func newDBProxy(t testing.TB, target string) *dbProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, target: target, changed: make(chan struct{}), conns: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's host:port.
func (p *dbProxy) Addr() string { return p.ln.Addr().String() }

func (p *dbProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		switch {
		case p.closed || p.mode == proxyReset:
			p.mu.Unlock()
			abortConn(c) // as a stopped server: the connection dies at once
		case p.mode == proxyBlackhole:
			// Accepted and never answered, nor read: the client waits
			// until its own timeout. Heal or Close drops it.
			p.conns[&proxyConn{client: c}] = struct{}{}
			p.mu.Unlock()
		default:
			pc := &proxyConn{client: c}
			p.conns[pc] = struct{}{}
			p.wg.Add(1)
			p.mu.Unlock()
			go p.forward(pc)
		}
	}
}

// forward dials the target and copies both ways until either side ends or
// the proxy drops the connection.
func (p *dbProxy) forward(pc *proxyConn) {
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
func (p *dbProxy) copy(pc *proxyConn, dst, src net.Conn) {
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
func (p *dbProxy) pass(pc *proxyConn) bool {
	for {
		p.mu.Lock()
		dropped, mode, changed := pc.dropped, p.mode, p.changed
		p.mu.Unlock()
		switch {
		case dropped:
			return false
		case mode == proxyForward:
			return true
		}
		<-changed
	}
}

// dropLocked closes pc (resetting the client side) and forgets it.
func (p *dbProxy) dropLocked(pc *proxyConn) {
	if pc.dropped {
		return
	}
	pc.dropped = true
	delete(p.conns, pc)
	abortConn(pc.client)
	if pc.server != nil {
		pc.server.Close()
	}
}

// abortConn closes c with a TCP reset rather than an orderly close, as a
// crashed server or a broken network does.
func abortConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func (p *dbProxy) setLocked(m proxyMode) {
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
}

// Cut resets every open connection and refuses new ones, as when
// PostgreSQL stops.
func (p *dbProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		p.dropLocked(pc)
	}
	p.setLocked(proxyReset)
}

// Blackhole stops forwarding on every open connection and accepts new ones
// without ever answering, as a network partition does.
func (p *dbProxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setLocked(proxyBlackhole)
}

// Heal forwards again. Connections caught in a blackhole are dropped: their
// clients gave up on them long ago, as they would after a real partition.
func (p *dbProxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == proxyBlackhole {
		for pc := range p.conns {
			p.dropLocked(pc)
		}
	}
	p.setLocked(proxyForward)
}

// Close stops the proxy and waits for its goroutines.
func (p *dbProxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.ln.Close()
	for pc := range p.conns {
		p.dropLocked(pc)
	}
	p.setLocked(proxyForward) // wakes copies held in a blackhole; they see the drop
	p.mu.Unlock()
	p.wg.Wait()
}

// proxyDB puts a new proxy between m and its PostgreSQL server.
func proxyDB(t testing.TB, m *Main) *dbProxy {
	t.Helper()
	u, err := url.Parse(m.Config.DB)
	if err != nil {
		t.Fatal(err)
	}
	p := newDBProxy(t, u.Host)
	u.Host = p.Addr()
	m.Config.DB = u.String()
	return p
}

// lockSQLite takes SQLite's write lock from another connection and
// returns the function that releases it (also run at cleanup).
func (s *testServer) lockSQLite(t testing.TB) (release func()) {
	t.Helper()
	path := (&url.URL{Path: SQLitePath(s.Config.Data)}).EscapedPath()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatalf("lock: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Errorf("unlock: %v", err)
			}
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// eventWatch is a slog.Handler that signals ch on every record whose
// "event" attribute is event, and drops everything.
type eventWatch struct {
	event string
	ch    chan struct{}
}

func (h *eventWatch) Enabled(context.Context, slog.Level) bool { return true }

func (h *eventWatch) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "event" && a.Value.String() == h.event {
			select {
			case h.ch <- struct{}{}:
			default:
			}
			return false
		}
		return true
	})
	return nil
}

func (h *eventWatch) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *eventWatch) WithGroup(string) slog.Handler      { return h }

// syncBuffer collects what Usher (or a child process) writes, safe for
// concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n lines written.
func (b *syncBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
