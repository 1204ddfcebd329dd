package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// recorder is a slog.Handler that keeps what is logged.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec)
	r.mu.Unlock()
	return nil
}

// attrs returns a record's attributes as strings.
func attrs(rec slog.Record) map[string]string {
	m := map[string]string{}
	rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	return m
}

func (r *recorder) warnings() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []slog.Record
	for _, rec := range r.records {
		if rec.Level == slog.LevelWarn {
			out = append(out, rec)
		}
	}
	return out
}

// A flood of failed handshakes gives one warning per interval, which
// counts the failures it left out; EOFs and other lines stay at debug.
func TestErrorLogRateLimitsHandshakeFailures(t *testing.T) {
	rec := &recorder{}
	now := time.Unix(1_800_000_000, 0)
	e := newErrorLog("backend", slog.New(rec))
	e.now = func() time.Time { return now }
	fail := func(i int) {
		fmt.Fprintf(stdWriter{e}, "http: TLS handshake error from 192.0.2.%d:4000: tls: client didn't provide a certificate\n", i)
	}
	for i := range 50 {
		fail(i)
	}
	fmt.Fprintf(stdWriter{e}, "http: TLS handshake error from 192.0.2.9:4000: EOF\n")
	fmt.Fprintf(stdWriter{e}, "http: superfluous response.WriteHeader call\n")
	now = now.Add(handshakeLogEvery - time.Millisecond)
	fail(60)
	now = now.Add(time.Millisecond)
	fail(61)

	w := rec.warnings()
	if len(w) != 2 {
		t.Fatalf("warnings: got %d, want 2 (one per interval)", len(w))
	}
	first, second := attrs(w[0]), attrs(w[1])
	want := map[string]string{
		"event": "tls_handshake_failed", "listener": "backend", "remote": "192.0.2.0:4000",
		"error": "tls: client didn't provide a certificate", "suppressed": "0",
		"hint": "the client presented no certificate: give it one signed by the client CA (client-ca)",
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("first warning %s: got %q, want %q", k, first[k], v)
		}
	}
	if second["remote"] != "192.0.2.61:4000" || second["suppressed"] != "50" {
		t.Errorf("second warning: remote %s suppressed %s, want 192.0.2.61:4000 and 50", second["remote"], second["suppressed"])
	}
	if got := len(rec.records); got != 4 {
		t.Errorf("records: got %d, want 4 (two warnings, the EOF and the other line at debug)", got)
	}
}

// stdWriter lets a test write lines as log.Logger does: one Write each.
type stdWriter struct{ e *errorLog }

func (w stdWriter) Write(p []byte) (int, error) { return w.e.Write(p) }
