package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/usherhq/usher/internal/usher"
)

// Policy is the authentication a route requires. Every route names one.
type Policy string

// The policies.
const (
	// MutualTLS: the connection presented a client certificate that the
	// listener verified against the client CA.
	MutualTLS Policy = "mtls"
	// Public: no credentials (health checks, JWKS, verification links).
	Public Policy = "public"
	// TenantKey: a known tenant public key in SB-PUBLIC-KEY (or ?sbpk=).
	TenantKey Policy = "tenant-key"
	// Bearer: a tenant key and an access token of a live session of that
	// tenant in "Authorization: Bearer".
	Bearer Policy = "bearer"
)

// Auth resolves the credentials that the TenantKey and Bearer policies
// need.
type Auth struct {
	// Tenant returns the tenant whose public key is key.
	Tenant func(ctx context.Context, key string) (usher.Tenant, error)
	// Authenticate returns the user and session id of a bearer token.
	Authenticate func(ctx context.Context, tenantID, token string) (usher.User, string, error)
}

type principal struct {
	tenant    usher.Tenant
	user      usher.User
	sessionID string
}

const principalKey ctxKey = 1

// TenantOf returns the tenant that a TenantKey or Bearer route resolved.
func TenantOf(r *http.Request) usher.Tenant {
	p, _ := r.Context().Value(principalKey).(*principal)
	if p == nil {
		return usher.Tenant{}
	}
	return p.tenant
}

// UserOf returns the user and session id that a Bearer route resolved.
func UserOf(r *http.Request) (usher.User, string) {
	p, _ := r.Context().Value(principalKey).(*principal)
	if p == nil {
		return usher.User{}, ""
	}
	return p.user, p.sessionID
}

var (
	errNoKey   = usher.Errorf(usher.Unauthorized, "A valid SB-PUBLIC-KEY is required.")
	errNoToken = usher.Errorf(usher.Unauthorized, "A valid bearer token is required.")
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
func Mux(routes []Route, log *slog.Logger, auth *Auth) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	for _, rt := range routes {
		h, err := guard(rt, log, auth)
		if err != nil {
			return nil, err
		}
		mux.Handle(rt.Pattern, h)
	}
	return mux, nil
}

func guard(rt Route, log *slog.Logger, auth *Auth) (http.Handler, error) {
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
	case TenantKey, Bearer:
		if auth == nil {
			return nil, fmt.Errorf("api: route %q needs an Auth for policy %q", rt.Pattern, rt.Auth)
		}
		bearer := rt.Auth == Bearer
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := authenticate(r, auth, bearer)
			if err != nil {
				if bearer && usher.ErrorCode(err) == usher.Unauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="usher"`)
				}
				WriteError(w, r, log, err)
				return
			}
			handle(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
		}), nil
	}
	return nil, fmt.Errorf("api: route %q has no known auth policy (%q)", rt.Pattern, rt.Auth)
}

func authenticate(r *http.Request, auth *Auth, bearer bool) (*principal, error) {
	key := r.Header.Get("SB-PUBLIC-KEY")
	if key == "" {
		key = r.URL.Query().Get("sbpk")
	}
	if key == "" || len(key) > 256 {
		return nil, errNoKey
	}
	t, err := auth.Tenant(r.Context(), key)
	if usher.ErrorCode(err) == usher.NotFound {
		return nil, errNoKey
	}
	if err != nil {
		return nil, err
	}
	p := &principal{tenant: t}
	if !bearer {
		return p, nil
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, errNoToken
	}
	p.user, p.sessionID, err = auth.Authenticate(r.Context(), t.ID, strings.TrimSpace(tok))
	if err != nil {
		return nil, err
	}
	return p, nil
}

// NotFound answers requests that no route matched: 405 with Allow when the
// path exists under another method, 404 otherwise, both as native errors.
func NotFound(mux *http.ServeMux, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // the mux sets the path values and r.Pattern
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
