package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLimitKey(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.7":                  "192.0.2.7",
		"2001:db8:1:2:aaaa::1":       "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff::99": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":            "2001:db8:1:3::/64",
		"::ffff:192.0.2.7":           "::ffff:192.0.2.7",
		"not an address":             "not an address",
	} {
		if got := limitKey(ip); got != want {
			t.Errorf("limitKey(%q) = %q, want %q", ip, got, want)
		}
	}
}

// A surface's per-client limit counts an IPv6 client by its /64, and leaves
// exempt routes (health checks) out.
func TestSurfaceLimitByIPv6PrefixAndExemptRoutes(t *testing.T) {
	ok := func(w http.ResponseWriter, _ *http.Request) error { w.WriteHeader(http.StatusNoContent); return nil }
	s := Surface{Name: "t", Limit: NewLimiter(2, time.Minute), Routes: []Route{
		{Pattern: "GET /work", Guard: Open, Handler: ok},
		{Pattern: "GET /healthz", Guard: Open, Handler: ok, Exempt: true},
	}}
	h, err := s.Handler(slog.New(slog.DiscardHandler), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, remote string) int {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	for i, remote := range []string{"[2001:db8:1:2::1]:1000", "[2001:db8:1:2::ffff]:1000"} {
		if got := get("/work", remote); got != http.StatusNoContent {
			t.Fatalf("request %d: got %d, want 204", i, got)
		}
	}
	if got := get("/work", "[2001:db8:1:2:9::9]:1000"); got != http.StatusTooManyRequests {
		t.Errorf("a third address of the same /64: got %d, want 429", got)
	}
	if got := get("/work", "[2001:db8:1:3::1]:1000"); got != http.StatusNoContent {
		t.Errorf("another /64: got %d, want 204", got)
	}
	for i := range 5 {
		if got := get("/healthz", "[2001:db8:1:2::1]:1000"); got != http.StatusNoContent {
			t.Fatalf("exempt route, request %d: got %d, want 204", i, got)
		}
	}
}
