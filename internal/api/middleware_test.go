package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestWrapTurnsAPanicIntoA500AndALogLine(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(LogHandler{slog.NewJSONHandler(&logs, nil)})
	h := Wrap("test", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }),
		log, NewMetrics(prometheus.NewRegistry()), false)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))

	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != "internal_error" {
		t.Fatalf("body = %s, want the native internal_error body", rec.Body)
	}
	if strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("the panic value reached the client: %s", rec.Body)
	}
	id := rec.Header().Get("X-Request-ID")
	if !strings.Contains(logs.String(), `"event":"panic"`) || !strings.Contains(logs.String(), `"request_id":"`+id+`"`) {
		t.Fatalf("no panic log line with the request id %q:\n%s", id, logs.String())
	}
}

func TestWrapRequestID(t *testing.T) {
	h := Wrap("test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := RequestID(r.Context()); got != w.Header().Get("X-Request-ID") {
			t.Errorf("context id %q differs from the response header %q", got, w.Header().Get("X-Request-ID"))
		}
	}), slog.New(slog.DiscardHandler), nil, false)
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
			r := httptest.NewRequest("GET", "/", nil)
			if tt.sent != "" {
				r.Header.Set("X-Request-ID", tt.sent)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			got := rec.Header().Get("X-Request-ID")
			if tt.echoed && got != tt.sent || !tt.echoed && (got == "" || got == tt.sent) {
				t.Fatalf("X-Request-ID = %q for %q sent (echo expected: %v)", got, tt.sent, tt.echoed)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control = %q, want no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestMuxRefusesARouteWithoutAPolicy(t *testing.T) {
	ok := func(http.ResponseWriter, *http.Request) error { return nil }
	for _, p := range []Policy{"", "admin"} {
		if _, err := Mux([]Route{{Pattern: "GET /x", Auth: p, Handler: ok}}, slog.New(slog.DiscardHandler), &Auth{}); err == nil {
			t.Errorf("Mux accepted a route with policy %q", p)
		}
	}
	if _, err := Mux([]Route{{Pattern: "GET /x", Auth: Bearer, Handler: ok}}, slog.New(slog.DiscardHandler), nil); err == nil {
		t.Error("Mux accepted a Bearer route without an Auth")
	}
}
