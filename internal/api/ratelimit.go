package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-chi/httprate"

	"github.com/usherhq/usher/internal/usher"
)

// ClientIP returns the address of the client: the connection's peer, or,
// when the peer is a trusted proxy, the nearest untrusted address in
// X-Forwarded-For. Anyone else's X-Forwarded-For is ignored, so a client
// cannot pick the address it is limited under.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !contains(trusted, peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: trust nothing before it
		}
		a = a.Unmap()
		if !contains(trusted, a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Limiter limits requests per client IP to n per window.
type Limiter struct {
	rl     *httprate.RateLimiter
	window time.Duration
}

// NewLimiter returns a limit of n requests per client address (as the
// surface's common middleware finds it: usher.ClientAddr) per window; nil
// (no limit) when n <= 0.
func NewLimiter(n int, window time.Duration) *Limiter {
	if n <= 0 {
		return nil
	}
	return &Limiter{rl: httprate.NewRateLimiter(n, window), window: window}
}

var errRateLimited = usher.Errorf(usher.RateLimited, "Too many requests; try again later.")

// Allow counts r against its client's limit, and returns a RateLimited
// error (with the window as Retry-After) when the limit is reached. A nil
// Limiter allows everything.
func (l *Limiter) Allow(w http.ResponseWriter, r *http.Request) error {
	if l == nil {
		return nil
	}
	if l.rl.OnLimit(w, r, usher.ClientAddr(r.Context())) {
		return &usher.Error{Code: errRateLimited.Code, Message: errRateLimited.Message, RetryAfter: l.window}
	}
	return nil
}

// limitKey is the key a client is limited under: its IPv4 address, or the
// /64 of its IPv6 address (one host commonly holds a whole /64, so a key per
// address would give it 2^64 budgets).
func limitKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}
