package api

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/usherhq/usher/internal/usher"
)

// Policy is the authentication a route requires. Every route names one.
type Policy string

// The policies.
const (
	// MutualTLS: the connection presented a client certificate that the
	// listener verified against the client CA.
	MutualTLS Policy = "mtls"
	// Public: no credentials (health checks).
	Public Policy = "public"
)

// HandlerFunc is an HTTP handler that returns its error for rendering.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one row of a surface's route table.
type Route struct {
	Pattern string // http.ServeMux pattern with method, e.g. "GET /users/{id}"
	Auth    Policy
	Handler HandlerFunc
}

// Mux builds a ServeMux from routes, each wrapped in the check its policy
// requires. Unknown paths and methods get the native error body.
func Mux(routes []Route, log *slog.Logger) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	for _, rt := range routes {
		h, err := guard(rt, log)
		if err != nil {
			return nil, err
		}
		mux.Handle(rt.Pattern, h)
	}
	return mux, nil
}

func guard(rt Route, log *slog.Logger) (http.Handler, error) {
	handle := func(w http.ResponseWriter, r *http.Request) {
		if err := rt.Handler(w, r); err != nil {
			WriteError(w, r, log, err)
		}
	}
	switch rt.Auth {
	case Public:
		return http.HandlerFunc(handle), nil
	case MutualTLS:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The listener already refuses a handshake without a verified
			// client certificate; this holds if it is ever misconfigured.
			if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
				WriteError(w, r, log, usher.Errorf(usher.Unauthorized, "A verified client certificate is required."))
				return
			}
			handle(w, r)
		}), nil
	}
	return nil, fmt.Errorf("api: route %q has no known auth policy (%q)", rt.Pattern, rt.Auth)
}

// NotFound answers requests that no route matched: 405 with Allow when the
// path exists under another method, 404 otherwise, both as native errors.
func NotFound(mux *http.ServeMux, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			h.ServeHTTP(w, r)
			return
		}
		// Ask the mux what it would have said (404, or 405 with Allow),
		// then say it in our format.
		probe := &probeWriter{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			WriteError(w, r, log, usher.Errorf(usher.MethodNotAllow, "Method not allowed."))
			return
		}
		WriteError(w, r, log, usher.Errorf(usher.NotFound, "Not found."))
	})
}

type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header         { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *probeWriter) WriteHeader(status int)      { p.status = status }
