package public

import (
	"context"
	"net/http"
	"strings"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// principal is what the public guards resolved for a request.
type principal struct {
	tenant    usher.Tenant
	user      usher.User
	sessionID string
}

type principalKey struct{}

// TenantOf returns the tenant that the TenantKey or Bearer guard resolved.
func TenantOf(r *http.Request) usher.Tenant {
	p, _ := r.Context().Value(principalKey{}).(*principal)
	if p == nil {
		return usher.Tenant{}
	}
	return p.tenant
}

// UserOf returns the user and session id that the Bearer guard resolved.
func UserOf(r *http.Request) (usher.User, string) {
	p, _ := r.Context().Value(principalKey{}).(*principal)
	if p == nil {
		return usher.User{}, ""
	}
	return p.user, p.sessionID
}

var (
	errNoKey   = usher.Errorf(usher.Unauthorized, "A valid SB-PUBLIC-KEY is required.")
	errNoToken = usher.Errorf(usher.Unauthorized, "A valid bearer token is required.")
)

// TenantKey admits requests that name a known tenant by its public key, in
// SB-PUBLIC-KEY or ?sbpk=.
func (h *Handler) TenantKey() api.Guard {
	return api.Guard{Name: "tenant-key", Check: func(_ http.ResponseWriter, r *http.Request) (*http.Request, error) {
		t, err := h.tenant(r)
		if err != nil {
			return nil, err
		}
		return r.WithContext(context.WithValue(r.Context(), principalKey{}, &principal{tenant: t})), nil
	}}
}

// Bearer admits requests with a tenant key and, in "Authorization: Bearer",
// an access token of a live session of that tenant.
func (h *Handler) Bearer() api.Guard {
	return api.Guard{Name: "bearer", Check: func(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
		p, err := h.session(r)
		if err != nil {
			if usher.ErrorCode(err) == usher.Unauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="usher"`)
			}
			return nil, err
		}
		return r.WithContext(context.WithValue(r.Context(), principalKey{}, p)), nil
	}}
}

// session resolves the tenant and the bearer token's session.
func (h *Handler) session(r *http.Request) (*principal, error) {
	t, err := h.tenant(r)
	if err != nil {
		return nil, err
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, errNoToken
	}
	u, claims, err := h.accounts.Authenticate(r.Context(), t.ID, strings.TrimSpace(tok))
	if err != nil {
		return nil, err
	}
	return &principal{tenant: t, user: u, sessionID: claims.SessionID}, nil
}

// tenant returns the tenant whose public key the request carries.
func (h *Handler) tenant(r *http.Request) (usher.Tenant, error) {
	key := r.Header.Get("SB-PUBLIC-KEY")
	if key == "" {
		key = r.URL.Query().Get("sbpk")
	}
	if !plausibleKey(key) {
		return usher.Tenant{}, errNoKey // no query for what no key can be
	}
	t, err := h.accounts.TenantByKey(r.Context(), key)
	if usher.ErrorCode(err) == usher.NotFound {
		return usher.Tenant{}, errNoKey
	}
	return t, err
}

// plausibleKey reports whether key could be a tenant public key: short, and
// in the URL-safe alphabet keys are made of. Anything else (invalid UTF-8,
// NUL, spaces) is refused before it reaches the database.
func plausibleKey(key string) bool {
	if key == "" || len(key) > 256 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
