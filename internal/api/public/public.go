// Package public serves the public surface (seed 002, StaticBackend's user
// API): register, login, the current user, logout, password reset, and the
// token signing keys.
package public

import (
	"net/http"
	"strings"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/api/thunder"
	"github.com/usherhq/usher/internal/usher"
)

// Handler serves the public surface.
type Handler struct {
	accounts *account.Service
	tenantID string // the tenant of verification links
	jwks     func() ([]byte, error)
	// limitAuth wraps the routes that take credentials or send email.
	limitAuth func(http.Handler) http.Handler
}

// New returns a Handler; jwks renders the current key set; limitAuth is
// the rate limit of the credential routes.
func New(accounts *account.Service, tenantID string, jwks func() ([]byte, error), limitAuth func(http.Handler) http.Handler) *Handler {
	return &Handler{accounts: accounts, tenantID: tenantID, jwks: jwks, limitAuth: limitAuth}
}

// Routes is the public surface's route table.
func (h *Handler) Routes() []api.Route {
	return []api.Route{
		{Pattern: "POST /register", Auth: api.TenantKey, Handler: h.limited(h.register)},
		{Pattern: "POST /login", Auth: api.TenantKey, Handler: h.limited(h.login)},
		{Pattern: "GET /me", Auth: api.Bearer, Handler: h.me},
		{Pattern: "POST /logout", Auth: api.Bearer, Handler: h.logout},
		{Pattern: "POST /password/send", Auth: api.TenantKey, Handler: h.limited(h.sendReset)},
		{Pattern: "POST /password/reset", Auth: api.TenantKey, Handler: h.limited(h.reset)},
		{Pattern: "GET /.well-known/jwks.json", Auth: api.Public, Handler: h.keys},
		{Pattern: "GET /verify", Auth: api.Public, Handler: h.verify},
		{Pattern: "GET /verify/success", Auth: api.Public, Handler: thunder.SuccessPage},
		{Pattern: "GET /healthz", Auth: api.Public, Handler: func(w http.ResponseWriter, r *http.Request) error {
			api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
			return nil
		}},
	}
}

// limited applies the credential routes' rate limit to a handler.
func (h *Handler) limited(fn api.HandlerFunc) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var err error
		h.limitAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { err = fn(w, r) })).ServeHTTP(w, r)
		return err
	}
}

type credentials struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	AccountID any    `json:"accountId"` // sent by some StaticBackend clients; ignored
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request) error {
	var req credentials
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	tok, err := h.accounts.Register(r.Context(), api.TenantOf(r).ID, req.Email, req.Password)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, tok)
	return nil
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	var req credentials
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	tok, err := h.accounts.Login(r.Context(), api.TenantOf(r).ID, req.Email, req.Password)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, tok)
	return nil
}

type me struct {
	UserID    string `json:"userId"`
	AccountID string `json:"accountId"`
	Email     string `json:"email"`
	Confirmed bool   `json:"confirmed"`
	Role      int    `json:"role"`
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request) error {
	u, _ := api.UserOf(r)
	api.WriteJSON(w, http.StatusOK, me{UserID: u.ID, AccountID: u.TenantID, Email: u.Email, Confirmed: u.Confirmed})
	return nil
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	_, sid := api.UserOf(r)
	if err := h.accounts.Logout(r.Context(), api.TenantOf(r).ID, sid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) sendReset(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email string `json:"email"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	if err := h.accounts.SendReset(r.Context(), api.TenantOf(r).ID, req.Email); err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, true)
	return nil
}

func (h *Handler) reset(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email    string `json:"email"`
		Code     string `json:"code"`
		Password string `json:"password"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	if err := h.accounts.ResetPassword(r.Context(), api.TenantOf(r).ID, req.Email, req.Code, req.Password); err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, true)
	return nil
}

// verify is the link in verification emails. Without a tenant key it works
// in the default tenant, the one verification emails are sent for.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("email") == "" || q.Get("token") == "" {
		return usher.Errorf(usher.Invalid, "The email and token query parameters are required.")
	}
	u, err := h.accounts.VerifyEmail(r.Context(), h.tenantID, q.Get("email"), q.Get("token"))
	if err != nil {
		return err
	}
	if strings.EqualFold(q.Get("response_type"), "html") {
		http.Redirect(w, r, "/verify/success", http.StatusSeeOther)
		return nil
	}
	api.WriteJSON(w, http.StatusOK, backend.Wire(u))
	return nil
}

func (h *Handler) keys(w http.ResponseWriter, r *http.Request) error {
	b, err := h.jwks()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err = w.Write(b)
	return err
}
