package api

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usherhq/usher/internal/usher"
)

// request is what the common middleware puts in a request's context: its
// id, and what it takes to find its client's address, worked out only when
// asked (by lockout and per-address counting; most requests never ask).
type request struct {
	id      string
	surface string
	r       *http.Request
	trusted []netip.Prefix
	addr    string // worked out at the first ClientAddr
}

// Actor names who sends the request: its surface, and on the backend the
// common name of its verified client certificate. Guards that know more
// (the Thunder application, the signed-in user) say so with
// usher.WithActor.
func (q *request) Actor() string {
	if t := q.r.TLS; t != nil && len(t.VerifiedChains) > 0 && len(t.VerifiedChains[0]) > 0 {
		if cn := t.VerifiedChains[0][0].Subject.CommonName; cn != "" {
			return q.surface + ":" + cn
		}
	}
	return q.surface
}

// RequestID is the request's id (X-Request-ID).
func (q *request) RequestID() string { return q.id }

// Surface is the name of the surface the request came through.
func (q *request) Surface() string { return q.surface }

// ClientIP is the client's IP address, as the trusted proxies report it.
func (q *request) ClientIP() string { return ClientIP(q.r, q.trusted) }

// maxUserAgent bounds the user agent kept with a session.
const maxUserAgent = 256

// UserAgent is the request's User-Agent header, cut to a bounded length on
// a character boundary.
func (q *request) UserAgent() string {
	ua := q.r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent] // a rune cut in two is dropped below
	}
	return strings.ToValidUTF8(ua, "")
}

// ClientAddr is the address the request's client is counted under. A
// request is served by one goroutine, so the cache needs no lock.
func (q *request) ClientAddr() string {
	if q.addr == "" {
		q.addr = limitKey(ClientIP(q.r, q.trusted))
	}
	return q.addr
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	if q, ok := usher.CallerOf(ctx).(*request); ok {
		return q.id
	}
	return ""
}

// LogHandler is a slog.Handler that adds the request id of the context to
// every record, so any layer's log line can be tied to its request.
type LogHandler struct {
	slog.Handler
	// out, when set, is the buffer Handler writes to: every line but the
	// access log's is flushed at once (see LogWriter).
	out *LogWriter
	// derived is set on the handlers WithAttrs and WithGroup make, whose
	// lines the access log's direct path would not match.
	derived bool
}

// accessLogMsg is the message of the access log's lines, the only ones left
// in the buffer.
const accessLogMsg = "request"

// Handle adds request_id to r.
func (h LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	err := h.Handler.Handle(ctx, r)
	if h.out != nil && (r.Message != accessLogMsg || r.Level != slog.LevelInfo) {
		if ferr := h.out.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// WithAttrs keeps the wrapper around the derived handler.
func (h LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return LogHandler{h.Handler.WithAttrs(as), h.out, true}
}

// WithGroup keeps the wrapper around the derived handler.
func (h LogHandler) WithGroup(name string) slog.Handler {
	return LogHandler{h.Handler.WithGroup(name), h.out, true}
}

// Metrics are the HTTP metrics of all surfaces.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usher_http_requests_total", Help: "HTTP requests by surface, route and status.",
		}, []string{"surface", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "usher_http_request_duration_seconds", Help: "HTTP request latency by surface and route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"surface", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

var (
	noStore = []string{"no-store"}
	noSniff = []string{"nosniff"}
)

// common applies the middleware every surface has: request id, panic
// recovery, Cache-Control: no-store, metrics and the access log.
func common(surface string, h http.Handler, fail errorWriter, m *Metrics, accessLog bool, trusted []netip.Prefix) http.Handler {
	log := fail.log
	direct := accessWriter(log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !saneRequestID(id) {
			id = rand.Text()
		}
		q := &request{id: id, surface: surface, trusted: trusted}
		ctx := usher.WithCaller(r.Context(), q)
		r = r.WithContext(ctx)
		q.r = r
		hdr := w.Header()
		hdr.Set("X-Request-ID", id)
		// The fixed headers share one value slice each (no allocation per
		// request); a handler that sets its own replaces the slice.
		hdr["Cache-Control"] = noStore
		// Error texts may echo a query parameter (Thunder's "(User: …)"):
		// no response is ever to be sniffed into HTML.
		hdr["X-Content-Type-Options"] = noSniff
		sw := &statusWriter{ResponseWriter: w}

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(ctx, "handler panicked", "event", "panic", "panic", p, "stack", string(debug.Stack()))
				if !sw.wrote {
					fail.write(sw, r, usher.Wrap(usher.Internal, "", errors.New("panic")))
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			if m != nil {
				m.requests.WithLabelValues(surface, route, strconv.Itoa(status)).Inc()
				m.duration.WithLabelValues(surface, route).Observe(elapsed.Seconds())
			}
			if accessLog && direct != nil {
				// The path only: query strings may carry keys or tokens.
				if log.Enabled(ctx, slog.LevelInfo) {
					direct.writeAccess(&accessEntry{surface: surface, method: r.Method, path: r.URL.Path, remote: r.RemoteAddr,
						requestID: id, status: status, elapsed: elapsed})
				}
			} else if accessLog {
				// Typed attributes: no value boxed into an interface.
				log.LogAttrs(ctx, slog.LevelInfo, accessLogMsg, slog.String("event", "http_request"), slog.String("surface", surface),
					slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
					slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000), slog.String("remote", r.RemoteAddr))
			}
		}()
		h.ServeHTTP(sw, r)
	})
}

// saneRequestID accepts a client's id only when it is short and plain, so it
// cannot smuggle anything into logs or headers.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
