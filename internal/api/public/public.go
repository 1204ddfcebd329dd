// Package public serves the public surface (seed 002, StaticBackend's user
// API): register, login, the current user, logout, password reset, and the
// token signing keys.
package public

import (
	"context"
	"net/http"
	"strings"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/totp"
	"github.com/usherhq/usher/internal/usher"
)

// Accounts are the use cases the public surface calls.
type Accounts interface {
	TenantByKey(ctx context.Context, key string) (usher.Tenant, error)
	Authenticate(ctx context.Context, tenantID, raw string) (usher.User, token.Claims, error)
	Register(ctx context.Context, tenantID, email, pw string) (string, error)
	Login(ctx context.Context, tenantID, email, pw string) (string, error)
	PasswordGrant(ctx context.Context, tenantID, email, pw string) (account.TokenPair, error)
	RefreshGrant(ctx context.Context, tenantID, raw string) (account.TokenPair, error)
	MFAGrant(ctx context.Context, tenantID, mfaToken, code string) (account.TokenPair, error)
	EnrollTOTP(ctx context.Context, tenantID, userID string) (totp.Key, error)
	ConfirmTOTP(ctx context.Context, tenantID, userID, sessionID, code string) ([]string, error)
	DisableTOTP(ctx context.Context, tenantID, userID, code string) error
	RegenerateRecoveryCodes(ctx context.Context, tenantID, userID, code string) ([]string, error)
	ChangeOwnPassword(ctx context.Context, tenantID, userID, sessionID, current, next string) error
	RequestEmailChange(ctx context.Context, tenantID, userID, email, pw string) error
	ApplyEmailChange(ctx context.Context, tenantID, email, tok string) (account.Record, error)
	DeleteOwnAccount(ctx context.Context, tenantID, userID, pw string) error
	Sessions(ctx context.Context, tenantID, userID string) ([]usher.Session, error)
	EndSession(ctx context.Context, tenantID, userID, sessionID string) error
	Logout(ctx context.Context, tenantID, userID, sessionID string) error
	SendReset(ctx context.Context, tenantID, email string) error
	ResetPassword(ctx context.Context, tenantID, email, code, pw string) error
	VerifyEmail(ctx context.Context, tenantID, email, tok string) (account.Record, error)
}

// Handler serves the public surface.
type Handler struct {
	accounts Accounts
	tenantID string // the tenant of verification links
	jwks     func() ([]byte, error)
	// limitAuth limits the routes that take credentials or send email.
	limitAuth *api.Limiter
}

// New returns a Handler; jwks renders the current key set; limitAuth is
// the rate limit of the credential routes (nil for none).
func New(accounts Accounts, tenantID string, jwks func() ([]byte, error), limitAuth *api.Limiter) *Handler {
	return &Handler{accounts: accounts, tenantID: tenantID, jwks: jwks, limitAuth: limitAuth}
}

// Routes is the public surface's route table.
func (h *Handler) Routes() []api.Route {
	tenantKey, bearer := h.TenantKey(), h.Bearer()
	return []api.Route{
		{Pattern: "POST /register", Guard: tenantKey, Limit: h.limitAuth, Handler: h.register},
		{Pattern: "POST /login", Guard: tenantKey, Limit: h.limitAuth, Handler: h.login},
		{Pattern: "POST /token", Guard: tenantKey, Limit: h.limitAuth, Handler: h.token},
		{Pattern: "GET /me", Guard: bearer, Handler: h.me},
		{Pattern: "POST /logout", Guard: bearer, Handler: h.logout},
		{Pattern: "PUT /me/password", Guard: bearer, Limit: h.limitAuth, Handler: h.changePassword},
		{Pattern: "PUT /me/email", Guard: bearer, Limit: h.limitAuth, Handler: h.changeEmail},
		{Pattern: "DELETE /me", Guard: bearer, Limit: h.limitAuth, Handler: h.deleteMe},
		{Pattern: "GET /me/sessions", Guard: bearer, Handler: h.mySessions},
		{Pattern: "DELETE /me/sessions/{id}", Guard: bearer, Handler: h.endMySession},
		{Pattern: "POST /me/mfa/totp", Guard: bearer, Handler: h.enrollTOTP},
		{Pattern: "POST /me/mfa/totp/confirm", Guard: bearer, Limit: h.limitAuth, Handler: h.confirmTOTP},
		{Pattern: "DELETE /me/mfa/totp", Guard: bearer, Limit: h.limitAuth, Handler: h.disableTOTP},
		{Pattern: "POST /me/mfa/recovery-codes", Guard: bearer, Limit: h.limitAuth, Handler: h.regenerateRecoveryCodes},
		{Pattern: "POST /password/send", Guard: tenantKey, Limit: h.limitAuth, Handler: h.sendReset},
		{Pattern: "POST /password/reset", Guard: tenantKey, Limit: h.limitAuth, Handler: h.reset},
		{Pattern: "GET /.well-known/jwks.json", Guard: api.Open, Handler: h.keys},
		{Pattern: "GET /verify", Guard: api.Open, Handler: h.verify},
		{Pattern: "GET /verify/success", Guard: api.Open, Handler: api.SuccessPage},
		{Pattern: "GET /verify/email", Guard: api.Open, Handler: h.applyEmailChange},
		{Pattern: "GET /healthz", Guard: api.Open, Exempt: true, Handler: func(w http.ResponseWriter, r *http.Request) error {
			api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
			return nil
		}},
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
	tok, err := h.accounts.Register(r.Context(), TenantOf(r).ID, req.Email, req.Password)
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
	tok, err := h.accounts.Login(r.Context(), TenantOf(r).ID, req.Email, req.Password)
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
	u, _ := UserOf(r)
	api.WriteJSON(w, http.StatusOK, me{UserID: u.ID, AccountID: u.TenantID, Email: u.Email, Confirmed: u.Confirmed})
	return nil
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	u, sid := UserOf(r)
	if err := h.accounts.Logout(usher.WithActor(r.Context(), "user"), TenantOf(r).ID, u.ID, sid); err != nil {
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
	if err := h.accounts.SendReset(r.Context(), TenantOf(r).ID, req.Email); err != nil {
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
	if err := h.accounts.ResetPassword(r.Context(), TenantOf(r).ID, req.Email, req.Code, req.Password); err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, true)
	return nil
}

// verify is the link in verification emails. It works in the tenant the
// link names (links name tenants other than the default one).
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) error {
	tenantID, email, tok, err := h.linkTenant(r)
	if err != nil {
		return err
	}
	rec, err := h.accounts.VerifyEmail(r.Context(), tenantID, email, tok)
	if usher.ErrorCode(err) == usher.NotFound {
		// An unknown address is answered as a wrong token: the link must not
		// tell who has an account.
		return account.ErrToken
	}
	if err != nil {
		return err
	}
	linkAnswer(w, r, rec.User)
	return nil
}

// linkTenant reads an email link: its address and token (both required)
// and the tenant it names (the default one unless its tenant parameter
// names another).
func (h *Handler) linkTenant(r *http.Request) (tenantID, email, tok string, err error) {
	q := r.URL.Query()
	email, tok = q.Get("email"), q.Get("token")
	if email == "" || tok == "" {
		return "", "", "", usher.Errorf(usher.Invalid, "The email and token query parameters are required.")
	}
	t := q.Get("tenant")
	if t == "" {
		return h.tenantID, email, tok, nil
	}
	if !usher.ValidID(t) {
		return "", "", "", account.ErrToken
	}
	return t, email, tok, nil
}

// linkAnswer answers an email link that worked: a redirect to the success
// page with response_type=html (as the links in emails ask), else the
// user as JSON.
func linkAnswer(w http.ResponseWriter, r *http.Request, u usher.User) {
	if strings.EqualFold(r.URL.Query().Get("response_type"), "html") {
		http.Redirect(w, r, "/verify/success", http.StatusSeeOther)
		return
	}
	api.WriteJSON(w, http.StatusOK, api.UserOf(u))
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
