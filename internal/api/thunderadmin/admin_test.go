package thunderadmin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func serve(t *testing.T, a *Admin, path, remote string) *httptest.ResponseRecorder {
	t.Helper()
	h, err := a.Surface().Handler(slog.New(slog.DiscardHandler), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func TestPing(t *testing.T) {
	rec := serve(t, &Admin{Registry: NewRegistry(nil, nil, nil, nil), Allow: loopback}, "/ping", "127.0.0.1:5000")
	if rec.Code != 200 || rec.Body.String() != "pong\n" {
		t.Fatalf("GET /ping = %d %q, want 200 pong", rec.Code, rec.Body)
	}
}

func TestAccessControl(t *testing.T) {
	a := &Admin{Registry: NewRegistry(nil, nil, nil, nil), Allow: loopback}
	for remote, want := range map[string]int{
		"127.0.0.1:5000":        200,
		"127.9.9.9:5000":        200,
		"[::1]:5000":            200,
		"[::ffff:127.0.0.1]:50": 200,
		"192.0.2.1:5000":        403,
		"[2001:db8::1]:5000":    403,
		"garbage":               403,
	} {
		for _, path := range []string{"/ping", "/metrics", "/healthcheck", "/nothing"} {
			rec := serve(t, a, path, remote)
			if want == 403 && rec.Code != 403 {
				t.Errorf("%s from %s: %d, want 403", path, remote, rec.Code)
			}
			if want == 200 && rec.Code == 403 {
				t.Errorf("%s from %s: 403, want it answered", path, remote)
			}
		}
	}
	open := &Admin{Registry: NewRegistry(nil, nil, nil, nil), Allow: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}
	if rec := serve(t, open, "/ping", "192.0.2.1:5000"); rec.Code != 200 {
		t.Errorf("with 0.0.0.0/0 allowed: %d, want 200", rec.Code)
	}
}

func TestUnknownRoute(t *testing.T) {
	rec := serve(t, &Admin{Registry: NewRegistry(nil, nil, nil, nil), Allow: loopback}, "/threads", "127.0.0.1:1")
	if rec.Code != 404 {
		t.Fatalf("GET /threads = %d, want 404", rec.Code)
	}
}

func TestHealthcheck(t *testing.T) {
	c := &clock{t0}
	healthy := func(context.Context) error { return nil }
	tests := []struct {
		name   string
		checks []Check
		status int
		want   map[string]result
	}{
		{"all healthy", []Check{{"Database", healthy}, {"Email", healthy}, {"deadlocks", healthy}}, 200,
			map[string]result{"Database": {Healthy: true}, "Email": {Healthy: true}, "deadlocks": {Healthy: true}}},
		{"database down", []Check{{"Database", func(context.Context) error { return usher.Errorf(usher.Unavailable, "Database is unreachable.") }}, {"deadlocks", healthy}}, 500,
			map[string]result{"Database": {Healthy: false, Message: "Database is unreachable."}, "deadlocks": {Healthy: true}}},
		{"a check panics", []Check{{"Email", func(context.Context) error { panic("boom") }}}, 500,
			map[string]result{"Email": {Healthy: false, Message: "The health check failed unexpectedly."}}},
		{"a check past its time", []Check{{"Database", func(ctx context.Context) error { <-ctx.Done(); return errors.New("timed out") }}}, 500,
			map[string]result{"Database": {Healthy: false, Message: "timed out"}}},
		{"no checks", nil, 501, map[string]result{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &Admin{Registry: NewRegistry(c.now, nil, nil, nil), Checks: tc.checks, Allow: loopback, Now: c.now, Timeout: time.Millisecond}
			rec := serve(t, a, "/healthcheck", "127.0.0.1:1")
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got map[string]map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("%s: %v", rec.Body, err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %s, want %d results", rec.Body, len(tc.want))
			}
			for name, w := range tc.want {
				g := got[name]
				if g["healthy"] != w.Healthy || (w.Message == "" && g["message"] != nil) || (w.Message != "" && g["message"] != w.Message) {
					t.Errorf("%s: got %v, want healthy=%v message=%q", name, g, w.Healthy, w.Message)
				}
				if g["timestamp"] != "2026-12-06T10:00:00.000Z" {
					t.Errorf("%s: timestamp %v", name, g["timestamp"])
				}
				if _, ok := g["duration"].(float64); !ok {
					t.Errorf("%s: no duration: %v", name, g)
				}
			}
		})
	}
}

func TestMetricsShapeAndCounts(t *testing.T) {
	c := &clock{t0}
	r := NewRegistry(c.now, []string{"m.requests"}, []string{"c.ok", "c.bad"}, []string{"t.time"})
	for range 3 {
		r.Count("c.ok")
	}
	r.Count("not.registered") // ignored: the set of names is fixed
	r.Mark("not.registered")
	r.Time("not.registered", time.Second)
	for i := range 4 {
		r.Time("t.time", time.Duration(i+1)*100*time.Millisecond)
	}
	for range 60 {
		r.Mark("m.requests")
	}
	c.t = c.t.Add(10 * time.Second)

	rec := serve(t, &Admin{Registry: r, Allow: loopback}, "/metrics", "127.0.0.1:1")
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	var doc struct {
		Version    string
		Gauges     map[string]any
		Histograms map[string]any
		Counters   map[string]struct{ Count int64 }
		Meters     map[string]map[string]any
		Timers     map[string]map[string]any
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "4.0.0" || doc.Gauges == nil || doc.Histograms == nil {
		t.Errorf("document head: %s", rec.Body)
	}
	if len(doc.Counters) != 2 || doc.Counters["c.ok"].Count != 3 || doc.Counters["c.bad"].Count != 0 {
		t.Errorf("counters: %+v", doc.Counters)
	}
	if len(doc.Meters) != 1 || len(doc.Timers) != 1 {
		t.Errorf("unregistered names were added: %s", rec.Body)
	}
	m := doc.Meters["m.requests"]
	// 60 events in the first 5-second tick: 12/s; then a tick of none.
	wantM1 := 12 * (1 - alphas[0])
	if m["count"] != 60.0 || m["units"] != "events/second" || math.Abs(m["m1_rate"].(float64)-wantM1) > 1e-9 || m["mean_rate"] != 6.0 {
		t.Errorf("meter: %v (want m1_rate %v, mean_rate 6)", m, wantM1)
	}
	tm := doc.Timers["t.time"]
	for k, want := range map[string]any{"count": 4.0, "min": 0.1, "max": 0.4, "duration_units": "seconds", "rate_units": "calls/second"} {
		if got, ok := tm[k].(float64); ok {
			if math.Abs(got-want.(float64)) > 1e-9 {
				t.Errorf("timer %s = %v, want %v", k, got, want)
			}
		} else if tm[k] != want {
			t.Errorf("timer %s = %v, want %v", k, tm[k], want)
		}
	}
	if mean := tm["mean"].(float64); math.Abs(mean-0.25) > 1e-9 {
		t.Errorf("timer mean %v, want 0.25", mean)
	}
	for _, k := range []string{"p50", "p75", "p95", "p98", "p99", "p999", "stddev", "m1_rate", "m5_rate", "m15_rate", "mean_rate"} {
		if _, ok := tm[k]; !ok {
			t.Errorf("timer lacks %s", k)
		}
	}
	if strings.Contains(rec.Body.String(), "not.registered") {
		t.Error("an unregistered name shows")
	}
}

func TestMeterDecays(t *testing.T) {
	c := &clock{t0}
	r := NewRegistry(c.now, []string{"m"}, nil, nil)
	r.Mark("m")
	c.t = c.t.Add(5 * time.Second)
	first := r.snapshot().Meters["m"].M1Rate
	if first != 0.2 {
		t.Fatalf("m1 after one tick %v, want 0.2", first)
	}
	c.t = c.t.Add(24 * time.Hour) // a day of idle ticks, bounded work
	if got := r.snapshot().Meters["m"]; got.M1Rate > 1e-12 || got.M15Rate > 1e-3 || got.Count != 1 {
		t.Fatalf("after a day: %+v", got)
	}
}

func TestQuantile(t *testing.T) {
	s := []float64{1, 2, 3, 4}
	for q, want := range map[float64]float64{0: 1, 1: 4, 0.5: 2.5, 0.999: 4} {
		if got := quantile(s, q); math.Abs(got-want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
}

func BenchmarkRegistryMark(b *testing.B) {
	r := NewRegistry(nil, []string{"m"}, []string{"c"}, []string{"t"})
	for b.Loop() {
		r.Mark("m")
		r.Count("c")
		r.Time("t", time.Millisecond)
	}
}
