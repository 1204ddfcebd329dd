package server

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Caps bound the connections a listener keeps open, so that no client can
// hold every file descriptor of the process by opening connections and
// leaving them idle.
type Caps struct {
	Total int            // open connections in all (0: no cap)
	PerIP int            // open connections per client address, an IPv6 /64 counting as one (0: no cap)
	Trust []netip.Prefix // addresses without a per-address cap (the proxies in front)
}

// capListener accepts connections within Caps; a connection over a cap is
// closed at once, before any byte is read.
type capListener struct {
	net.Listener
	caps Caps
	name string
	log  *slog.Logger

	mu     sync.Mutex
	total  int
	byAddr map[netip.Prefix]int
	warned map[string]time.Time // last warning per kind, to keep floods out of the log
}

func newCapListener(ln net.Listener, name string, caps Caps, log *slog.Logger) *capListener {
	return &capListener{Listener: ln, caps: caps, name: name, log: log,
		byAddr: map[netip.Prefix]int{}, warned: map[string]time.Time{}}
}

// Accept returns the next connection within the caps. Accept errors (file
// descriptors exhausted, say) are logged at warn, at most every 10 seconds.
func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) { // closed: shutting down
				l.warn("accept", "listener accept failed", "error", err)
			}
			return nil, err
		}
		key, counted := l.key(c.RemoteAddr())
		if l.admit(key, counted) {
			return &cappedConn{Conn: c, l: l, key: key, counted: counted}, nil
		}
		c.Close()
		l.warn("cap", "connection refused: too many open connections", "remote", key.String())
	}
}

// key is the address a connection counts under, and whether it counts
// against the per-address cap.
func (l *capListener) key(addr net.Addr) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Prefix{}, false
	}
	a := ap.Addr().Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	for _, t := range l.caps.Trust {
		if t.Contains(a) {
			return p, false
		}
	}
	return p, true
}

func (l *capListener) admit(key netip.Prefix, counted bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.caps.Total > 0 && l.total >= l.caps.Total {
		return false
	}
	if counted && l.caps.PerIP > 0 && l.byAddr[key] >= l.caps.PerIP {
		return false
	}
	l.total++
	if counted {
		l.byAddr[key]++
	}
	return true
}

func (l *capListener) release(key netip.Prefix, counted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if counted {
		if l.byAddr[key]--; l.byAddr[key] <= 0 {
			delete(l.byAddr, key)
		}
	}
}

// warn logs msg at warn, at most once every 10 seconds per kind.
func (l *capListener) warn(kind, msg string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	quiet := now.Sub(l.warned[kind]) < 10*time.Second
	if !quiet {
		l.warned[kind] = now
	}
	l.mu.Unlock()
	if !quiet {
		l.log.Warn(msg, append([]any{"event", "listener_" + kind, "listener", l.name}, args...)...)
	}
}

// cappedConn gives its place back when closed (once, however often Close
// is called).
type cappedConn struct {
	net.Conn
	l       *capListener
	key     netip.Prefix
	counted bool
	once    sync.Once
}

func (c *cappedConn) Close() error {
	c.once.Do(func() { c.l.release(c.key, c.counted) })
	return c.Conn.Close()
}
