package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/usherhq/usher/internal/usher"
)

// testSurface serves one route per scenario under /e/…, each returning a
// fixed error, and a guarded route.
func testSurface(t *testing.T, render Renderer, noRoute func(http.ResponseWriter, *http.Request, int)) (http.Handler, *bytes.Buffer, *Metrics) {
	t.Helper()
	fail := func(err error) HandlerFunc {
		return func(http.ResponseWriter, *http.Request) error { return err }
	}
	deny := Guard{Name: "deny", Check: func(w http.ResponseWriter, _ *http.Request) (*http.Request, error) {
		w.Header().Set("WWW-Authenticate", "Test")
		return nil, usher.Errorf(usher.Unauthorized, "No.")
	}}
	busy := &usher.Error{Code: usher.Overloaded, Message: "Busy.", RetryAfter: 2500 * time.Millisecond}
	s := Surface{
		Name: "test", Render: render, NoRoute: noRoute,
		Routes: []Route{
			{Pattern: "GET /ok", Guard: Open, Handler: func(w http.ResponseWriter, _ *http.Request) error {
				WriteJSON(w, http.StatusOK, "ok")
				return nil
			}},
			{Pattern: "GET /panic", Guard: Open, Handler: func(http.ResponseWriter, *http.Request) error { panic("boom") }},
			{Pattern: "GET /internal", Guard: Open, Handler: fail(errors.New("disk on fire at /var/x"))},
			{Pattern: "GET /busy", Guard: Open, Handler: fail(busy)},
			{Pattern: "GET /down", Guard: Open, Handler: fail(usher.Wrap(usher.Unavailable, "Down.", errors.New("dial")))},
			{Pattern: "GET /deadline", Guard: Open, Handler: fail(context.DeadlineExceeded)},
			{Pattern: "GET /gone", Guard: Open, Handler: func(_ http.ResponseWriter, r *http.Request) error {
				return r.Context().Err() // the test cancels the request first
			}},
			{Pattern: "GET /taken", Guard: Open, Handler: fail(usher.Errorf(usher.EmailTaken, "Taken."))},
			{Pattern: "GET /guarded", Guard: deny, Handler: fail(errors.New("unreachable"))},
			{Pattern: "GET /limited", Guard: Open, Limit: NewLimiter(1, time.Minute), Handler: fail(nil)},
			{Pattern: "POST /only-post", Guard: Open, Handler: fail(nil)},
		},
	}
	var logs bytes.Buffer
	m := NewMetrics(prometheus.NewRegistry())
	h, err := s.Handler(slog.New(LogHandler{Handler: slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})}), m, false)
	if err != nil {
		t.Fatal(err)
	}
	return h, &logs, m
}

type nativeBody struct {
	Error struct{ Code, Message string }
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestSurfaceErrorRules(t *testing.T) {
	h, logs, _ := testSurface(t, nil, nil)
	tests := []struct {
		path       string
		status     int
		code       string
		retryAfter string
		header     [2]string // a header the answer must carry
		logged     string    // an event the log must hold
	}{
		{path: "/ok", status: 200},
		{path: "/panic", status: 500, code: "internal_error", logged: `"event":"panic"`},
		{path: "/internal", status: 500, code: "internal_error", logged: `"event":"internal_error"`},
		{path: "/busy", status: 503, code: "overloaded", retryAfter: "3", logged: `"level":"DEBUG","msg":"request refused","event":"overloaded"`},
		{path: "/down", status: 503, code: "unavailable", retryAfter: "1", logged: `"level":"WARN","msg":"request refused","event":"unavailable"`},
		{path: "/deadline", status: 503, code: "unavailable", retryAfter: "1"},
		{path: "/taken", status: 409, code: "email_taken"},
		{path: "/guarded", status: 401, code: "unauthorized", header: [2]string{"WWW-Authenticate", "Test"}},
		{path: "/nowhere", status: 404, code: "not_found"},
		{path: "/only-post", status: 405, code: "method_not_allowed", header: [2]string{"Allow", "POST"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			logs.Reset()
			rec := serve(h, httptest.NewRequest("GET", tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status: got %d, want %d (%s)", rec.Code, tt.status, rec.Body)
			}
			if rec.Header().Get("X-Request-ID") == "" || rec.Header().Get("Cache-Control") != "no-store" ||
				rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("common headers missing: %v", rec.Header())
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After: got %q, want %q", got, tt.retryAfter)
			}
			if k := tt.header[0]; k != "" && rec.Header().Get(k) != tt.header[1] {
				t.Errorf("%s: got %q, want %q", k, rec.Header().Get(k), tt.header[1])
			}
			if tt.code != "" {
				var b nativeBody
				if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Error.Code != tt.code {
					t.Errorf("body: got %s, want code %q", rec.Body, tt.code)
				}
			}
			if strings.Contains(rec.Body.String(), "boom") || strings.Contains(rec.Body.String(), "/var/x") {
				t.Errorf("an internal cause reached the client: %s", rec.Body)
			}
			if tt.logged != "" && !strings.Contains(logs.String(), tt.logged) {
				t.Errorf("log lacks %s:\n%s", tt.logged, logs)
			}
			if tt.logged != "" && !strings.Contains(logs.String(), `"request_id":"`+rec.Header().Get("X-Request-ID")+`"`) {
				t.Errorf("log line without the request id:\n%s", logs)
			}
		})
	}
}

func TestSurfaceIgnoresAClientThatWentAway(t *testing.T) {
	h, logs, _ := testSurface(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := serve(h, httptest.NewRequest("GET", "/gone", nil).WithContext(ctx))
	if rec.Body.Len() != 0 || strings.Contains(logs.String(), "request failed") {
		t.Errorf("answered a client that went away: %d %s; log:\n%s", rec.Code, rec.Body, logs)
	}
}

func TestSurfaceOwnRenderer(t *testing.T) {
	type call struct {
		status int
		code   usher.Code
	}
	var got []call
	render := func(w http.ResponseWriter, _ *http.Request, status int, code usher.Code, _ error) {
		got = append(got, call{status, code})
		w.WriteHeader(status)
		w.Write([]byte("own"))
	}
	noRoute := func(w http.ResponseWriter, _ *http.Request, status int) {
		w.WriteHeader(status)
		w.Write([]byte("no route"))
	}
	h, _, _ := testSurface(t, render, noRoute)
	for _, tt := range []struct {
		path   string
		status int
		body   string
		allow  string
	}{
		{"/panic", 500, "own", ""},
		{"/busy", 503, "own", ""},
		{"/guarded", 401, "own", ""},
		{"/nowhere", 404, "no route", ""},
		{"/only-post", 405, "no route", "POST"},
	} {
		rec := serve(h, httptest.NewRequest("GET", tt.path, nil))
		if rec.Code != tt.status || rec.Body.String() != tt.body || rec.Header().Get("Allow") != tt.allow {
			t.Errorf("GET %s: got %d %q Allow %q; want %d %q Allow %q", tt.path, rec.Code, rec.Body, rec.Header().Get("Allow"), tt.status, tt.body, tt.allow)
		}
	}
	want := []call{{500, usher.Internal}, {503, usher.Overloaded}, {401, usher.Unauthorized}}
	if len(got) != len(want) {
		t.Fatalf("renderer calls: got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("renderer call %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestSurfaceRateLimitKeepsTheRoute(t *testing.T) {
	h, _, m := testSurface(t, nil, nil)
	for i, want := range []int{200, 429} {
		rec := serve(h, httptest.NewRequest("GET", "/limited", nil))
		if want == 200 && rec.Code == 429 || want == 429 && rec.Code != 429 {
			t.Fatalf("request %d: got %d, want %d", i, rec.Code, want)
		}
		if want == 429 && (rec.Header().Get("Retry-After") != "60" || rec.Header().Get("Connection") != "close") {
			t.Errorf("Retry-After %q, Connection %q; want 60, close", rec.Header().Get("Retry-After"), rec.Header().Get("Connection"))
		}
	}
	var n dto.Metric
	if err := m.requests.WithLabelValues("test", "GET /limited", "429").Write(&n); err != nil {
		t.Fatal(err)
	}
	if got := n.GetCounter().GetValue(); got != 1 {
		t.Errorf("429s counted under the route: got %v, want 1", got)
	}
}

func TestSurfaceRefusesARouteWithoutAGuard(t *testing.T) {
	ok := func(http.ResponseWriter, *http.Request) error { return nil }
	for name, rt := range map[string]Route{
		"no guard":   {Pattern: "GET /x", Handler: ok},
		"no method":  {Pattern: "/x", Guard: Open, Handler: ok},
		"no handler": {Pattern: "GET /x", Guard: Open},
	} {
		if _, err := (Surface{Name: "t", Routes: []Route{rt}}).Handler(slog.New(slog.DiscardHandler), nil, false); err == nil {
			t.Errorf("%s: Handler accepted %+v", name, rt)
		}
	}
}

func TestRequestID(t *testing.T) {
	h, _, _ := testSurface(t, nil, nil)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"sane id is echoed", "abc-123_x.y:z", true},
		{"none sent", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"odd characters", "a b<script>", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/ok", nil)
			if tt.sent != "" {
				r.Header.Set("X-Request-ID", tt.sent)
			}
			got := serve(h, r).Header().Get("X-Request-ID")
			if tt.echoed && got != tt.sent || !tt.echoed && (got == "" || got == tt.sent) {
				t.Fatalf("X-Request-ID = %q for %q sent (echo expected: %v)", got, tt.sent, tt.echoed)
			}
		})
	}
}
