package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the LogWriter's timer goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAccessLineIsSlogsLine: the access log's direct line carries the same
// keys, in the same order, with the same values and escapes as the line
// slog's JSON handler writes for the same request, for paths with quotes,
// control characters, invalid UTF-8 and JavaScript line separators.
func TestAccessLineIsSlogsLine(t *testing.T) {
	for _, path := range []string{"/users/019a", `/a"b\c`, "/tab\there\nnl\x01", "/bad\xffutf8", "/ls\u2028ps\u2029", "/ünï/中"} {
		var direct, viaSlog lockedBuffer
		lw := NewLogWriter(&direct)
		e := &accessEntry{surface: "backend", method: "GET", path: path, remote: "127.0.0.1:5", requestID: "rid-1",
			status: 404, elapsed: 1234567 * time.Nanosecond}
		lw.writeAccess(e)
		if err := lw.Flush(); err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewJSONHandler(&viaSlog, nil))
		log.LogAttrs(context.Background(), slog.LevelInfo, accessLogMsg, slog.String("event", "http_request"),
			slog.String("surface", e.surface), slog.String("method", e.method), slog.String("path", e.path),
			slog.Int("status", e.status), slog.Float64("duration_ms", float64(e.elapsed.Microseconds())/1000),
			slog.String("remote", e.remote), slog.String("request_id", e.requestID))
		// The times differ; everything after them must not.
		cut := func(s string) string { return s[strings.Index(s, `","level"`):] }
		if got, want := cut(direct.String()), cut(viaSlog.String()); got != want {
			t.Errorf("path %q:\n direct %s\n slog   %s", path, got, want)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(direct.String()), &m); err != nil {
			t.Errorf("path %q: the line is not JSON: %v", path, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
			t.Errorf("path %q: time %v: %v", path, m["time"], err)
		}
	}
}

// TestLogWriterHoldsOnlyAccessLines: access lines wait in the buffer; any
// other line is written at once, after the access lines before it; what is
// held is written within the flush interval, and by Flush.
func TestLogWriterHoldsOnlyAccessLines(t *testing.T) {
	var out lockedBuffer
	lw := NewLogWriter(&out)
	log := NewLogger(lw, slog.LevelInfo)
	h := common("backend", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), errorWriter{log: log}, nil, true, nil)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/first", nil))
	if out.String() != "" {
		t.Fatalf("an access line was written at once: %q", out.String())
	}
	log.Warn("something", "event", "config_warning")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"path":"/first"`) || !strings.Contains(lines[1], `"msg":"something"`) {
		t.Fatalf("after a warning: %q, want the access line then the warning", out.String())
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/second", nil))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), `"path":"/second"`) {
		if time.Now().After(deadline) {
			t.Fatal("an access line was not written within the flush interval")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/third", nil))
	if err := lw.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"path":"/third"`) {
		t.Fatal("Flush left an access line in the buffer")
	}
	// A logger with attributes added goes through slog, and still logs.
	h = common("backend", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), errorWriter{log: log.With("node", "n1")}, nil, true, nil)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/fourth", nil))
	_ = lw.Flush()
	if !strings.Contains(out.String(), `"path":"/fourth","status":200`) || !strings.Contains(out.String(), `"node":"n1"`) {
		t.Errorf("a derived logger's access line: %q", out.String())
	}
}

// TestLogWriterFlushesWhenFull: a buffer past its size is written without
// waiting for the timer.
func TestLogWriterFlushesWhenFull(t *testing.T) {
	var out lockedBuffer
	lw := NewLogWriter(&out)
	e := &accessEntry{surface: "public", method: "GET", path: "/" + strings.Repeat("p", 1000), status: 200}
	for range logBufferSize/1000 + 2 {
		lw.writeAccess(e)
	}
	if out.String() == "" {
		t.Error("a full buffer was not written")
	}
	_ = lw.Flush()
}
