package server

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// handshakeLogEvery is how often, at most, a listener logs a failed TLS
// handshake: a scanner or a misconfigured client fails many a second, and
// one line per interval (with the count of those left out) tells as much.
const handshakeLogEvery = 10 * time.Second

// errorLog is the http.Server's error log. A failed TLS handshake, above
// all a client without a certificate on the mutual-TLS backend, is what an
// operator needs to see when a backend cannot connect, so it is logged at
// warn, rate-limited; a connection closed before its handshake (port
// scans, TCP health checks) and the server's other messages go to debug.
type errorLog struct {
	listener string
	log      *slog.Logger
	every    time.Duration
	now      func() time.Time

	mu         sync.Mutex
	last       time.Time // when the last failure was logged
	suppressed int       // failures since then that were not
}

func newErrorLog(listener string, log *slog.Logger) *errorLog {
	return &errorLog{listener: listener, log: log, every: handshakeLogEvery, now: time.Now}
}

// handshakePrefix starts net/http's line for a failed TLS handshake:
// "http: TLS handshake error from ADDR: ERROR".
const handshakePrefix = "http: TLS handshake error from "

// Write takes one line of the server's log.
func (e *errorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	rest, ok := strings.CutPrefix(msg, handshakePrefix)
	if !ok {
		e.log.Log(context.Background(), slog.LevelDebug, msg, "listener", e.listener)
		return len(p), nil
	}
	remote, reason, _ := strings.Cut(rest, ": ")
	if reason == "EOF" {
		e.log.Debug("connection closed before the TLS handshake", "event", "tls_handshake_eof", "listener", e.listener, "remote", remote)
		return len(p), nil
	}
	e.mu.Lock()
	now := e.now()
	quiet := !e.last.IsZero() && now.Sub(e.last) < e.every
	suppressed := e.suppressed
	if quiet {
		e.suppressed++
	} else {
		e.last, e.suppressed = now, 0
	}
	e.mu.Unlock()
	if quiet {
		return len(p), nil
	}
	args := []any{"event", "tls_handshake_failed", "listener", e.listener, "remote", remote, "error", reason,
		"suppressed", suppressed}
	if hint := handshakeHint(reason); hint != "" {
		args = append(args, "hint", hint)
	}
	e.log.Warn("TLS handshake failed", args...)
	return len(p), nil
}

// handshakeHint says what to do about the usual failures on the backend.
func handshakeHint(reason string) string {
	switch {
	case strings.Contains(reason, "didn't provide a certificate"):
		return "the client presented no certificate: give it one signed by the client CA (client-ca)"
	case strings.Contains(reason, "unknown authority"):
		return "the client's certificate is not signed by the client CA (client-ca)"
	case strings.Contains(reason, "expired"):
		return "a certificate has expired or is not yet valid"
	}
	return ""
}
