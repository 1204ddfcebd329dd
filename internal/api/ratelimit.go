package api

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
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

// RateLimit limits requests per client IP to n per window (n <= 0: no
// limit), answering 429 with Retry-After and the native error body.
func RateLimit(n int, window time.Duration, trusted []netip.Prefix, log *slog.Logger) func(http.Handler) http.Handler {
	if n <= 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	retry := strconv.Itoa(int(window.Round(time.Second) / time.Second))
	return httprate.LimitBy(n, window,
		func(r *http.Request) (string, error) { return ClientIP(r, trusted), nil },
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", retry)
			WriteError(w, r, log, usher.Errorf(usher.RateLimited, "Too many requests; try again later."))
		}),
	)
}
