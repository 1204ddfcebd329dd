// Package backend serves the backend surface (seed 000): user management for
// the application's own backend, behind mutual TLS.
package backend

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// Accounts are the use cases the backend surface calls.
type Accounts interface {
	Create(ctx context.Context, tenantID string, in account.NewUser) (usher.User, error)
	User(ctx context.Context, tenantID, id string) (usher.User, error)
	Delete(ctx context.Context, tenantID, id string) error
	SetEmail(ctx context.Context, tenantID, id, email string) error
	SetPassword(ctx context.Context, tenantID, id, pw string) error
	SetEnabled(ctx context.Context, tenantID, id string, enabled bool) error
	SetData(ctx context.Context, tenantID, id string, raw []byte) error
	CheckPassword(ctx context.Context, tenantID, id, pw string) (bool, error)
	SendVerification(ctx context.Context, tenantID, id string) error

	UserByEmail(ctx context.Context, tenantID, email string) (usher.User, error)
	ListUsers(ctx context.Context, tenantID string, q account.ListQuery) (account.Page, error)
	LockedUntil(u usher.User) time.Time
	Unlock(ctx context.Context, tenantID, id string) error
	Sessions(ctx context.Context, tenantID, userID string) ([]usher.Session, error)
	EndSessions(ctx context.Context, tenantID, userID string) error
	EndSession(ctx context.Context, tenantID, userID, sessionID string) error

	Tenant(ctx context.Context, ref string) (usher.Tenant, error)
	Tenants(ctx context.Context) ([]usher.Tenant, error)
	CreateTenant(ctx context.Context, name string) (usher.Tenant, error)
	RotateTenantKey(ctx context.Context, ref string, overlap time.Duration) (usher.Tenant, error)
	DeleteTenant(ctx context.Context, ref string, force bool) error

	Events(ctx context.Context, tenantID string, q account.EventQuery) (account.EventPage, error)
	CreateWebhook(ctx context.Context, tenantID, url string, events []string) (usher.Webhook, string, error)
	Webhooks(ctx context.Context, tenantID string) ([]usher.Webhook, error)
	DeleteWebhook(ctx context.Context, tenantID, id string) error

	HasTOTP(ctx context.Context, tenantID, userID string) (bool, error)
	RemoveTOTP(ctx context.Context, tenantID, userID string) error
}

// Handler serves the backend surface: in the default tenant, or in the
// one a request names.
type Handler struct {
	accounts Accounts
	transfer Transfer
	tenantID string
	imports  chan struct{} // the imports running: at most maxImports
}

// New returns a Handler whose default tenant is tenantID.
func New(accounts Accounts, transfer Transfer, tenantID string) *Handler {
	return &Handler{accounts: accounts, transfer: transfer, tenantID: tenantID, imports: make(chan struct{}, maxImports)}
}

// Routes is the backend surface's route table. Every route requires the
// mutual-TLS client certificate; Ops lists the operational routes.
func (h *Handler) Routes() []api.Route {
	return []api.Route{
		{Pattern: "POST /users/{$}", Guard: api.ClientCert, Handler: h.create},
		{Pattern: "POST /users", Guard: api.ClientCert, Handler: h.create},
		{Pattern: "GET /users/{$}", Guard: api.ClientCert, Handler: h.list},
		{Pattern: "GET /users", Guard: api.ClientCert, Handler: h.list},
		{Pattern: "POST /users/import", Guard: api.ClientCert, Handler: h.importUsers},
		{Pattern: "GET /users/export", Guard: api.ClientCert, Handler: h.exportUsers},
		{Pattern: "GET /users/{id}", Guard: api.ClientCert, Handler: h.get},
		{Pattern: "DELETE /users/{id}", Guard: api.ClientCert, Handler: h.delete},
		{Pattern: "PUT /users/{id}/email", Guard: api.ClientCert, Handler: h.setEmail},
		{Pattern: "PUT /users/{id}/password", Guard: api.ClientCert, Handler: h.setPassword},
		{Pattern: "PUT /users/{id}/disable", Guard: api.ClientCert, Handler: h.setEnabled(false)},
		{Pattern: "PUT /users/{id}/enable", Guard: api.ClientCert, Handler: h.setEnabled(true)},
		{Pattern: "PUT /users/{id}/data", Guard: api.ClientCert, Handler: h.setData},
		{Pattern: "GET /users/{id}/data", Guard: api.ClientCert, Handler: h.getData},
		{Pattern: "POST /users/{id}/checkpw", Guard: api.ClientCert, Handler: h.checkPassword},
		{Pattern: "POST /users/{id}/verify", Guard: api.ClientCert, Handler: h.sendVerification},
		{Pattern: "POST /users/{id}/unlock", Guard: api.ClientCert, Handler: h.unlock},
		{Pattern: "GET /users/{id}/sessions", Guard: api.ClientCert, Handler: h.sessions},
		{Pattern: "DELETE /users/{id}/sessions", Guard: api.ClientCert, Handler: h.endSessions},
		{Pattern: "DELETE /users/{id}/sessions/{sid}", Guard: api.ClientCert, Handler: h.endSession},
		{Pattern: "GET /users/{id}/mfa", Guard: api.ClientCert, Handler: h.mfa},
		{Pattern: "DELETE /users/{id}/mfa", Guard: api.ClientCert, Handler: h.removeMFA},

		{Pattern: "POST /tenants", Guard: api.ClientCert, Handler: h.createTenant},
		{Pattern: "GET /tenants", Guard: api.ClientCert, Handler: h.listTenants},
		{Pattern: "GET /tenants/{tenant}", Guard: api.ClientCert, Handler: h.getTenant},
		{Pattern: "POST /tenants/{tenant}/rotate-key", Guard: api.ClientCert, Handler: h.rotateTenantKey},
		{Pattern: "DELETE /tenants/{tenant}", Guard: api.ClientCert, Handler: h.deleteTenant},

		{Pattern: "GET /events", Guard: api.ClientCert, Handler: h.events},
		{Pattern: "POST /webhooks", Guard: api.ClientCert, Handler: h.createWebhook},
		{Pattern: "GET /webhooks", Guard: api.ClientCert, Handler: h.listWebhooks},
		{Pattern: "DELETE /webhooks/{id}", Guard: api.ClientCert, Handler: h.deleteWebhook},
	}
}

type createRequest struct {
	Email     string          `json:"email"`
	Password  string          `json:"password"`
	Confirmed *bool           `json:"confirmed"`
	Enabled   *bool           `json:"enabled"`
	Data      json.RawMessage `json:"data"`
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	var req createRequest
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	in := account.NewUser{Email: req.Email, Password: req.Password, Enabled: true, Data: req.Data}
	if req.Confirmed != nil {
		in.Confirmed = *req.Confirmed
	}
	if req.Enabled != nil {
		in.Enabled = *req.Enabled
	}
	u, err := h.accounts.Create(r.Context(), tid, in)
	if err != nil {
		return err
	}
	w.Header().Set("X-Object-ID", u.ID)
	w.Header().Set("Location", "/users/"+u.ID)
	api.WriteJSON(w, http.StatusCreated, h.userOf(u))
	return nil
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	u, err := h.accounts.User(r.Context(), tid, r.PathValue("id"))
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, h.userOf(u))
	return nil
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	if err := h.accounts.Delete(r.Context(), tid, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) setEmail(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	var req struct {
		Email string `json:"email"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	if err := h.accounts.SetEmail(r.Context(), tid, r.PathValue("id"), req.Email); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	var req struct {
		Password string `json:"password"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	if err := h.accounts.SetPassword(r.Context(), tid, r.PathValue("id"), req.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) setEnabled(enabled bool) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tid, err := h.tenant(r)
		if err != nil {
			return err
		}
		if err := h.accounts.SetEnabled(r.Context(), tid, r.PathValue("id"), enabled); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (h *Handler) setData(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	body, err := api.ReadBody(r, account.MaxDataDepth)
	if err != nil {
		return err
	}
	if err := h.accounts.SetData(r.Context(), tid, r.PathValue("id"), body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) getData(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	u, err := h.accounts.User(r.Context(), tid, r.PathValue("id"))
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, u.Data)
	return nil
}

func (h *Handler) checkPassword(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	var req struct {
		Password string `json:"password"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	ok, err := h.accounts.CheckPassword(r.Context(), tid, r.PathValue("id"), req.Password)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, struct {
		Result bool `json:"result"`
	}{ok})
	return nil
}

func (h *Handler) sendVerification(w http.ResponseWriter, r *http.Request) error {
	tid, err := h.tenant(r)
	if err != nil {
		return err
	}
	if err := h.accounts.SendVerification(r.Context(), tid, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Ops returns the operational routes of the backend listener: liveness,
// readiness (the database answers) and Prometheus metrics.
func Ops(ready func(*http.Request) error, metrics http.Handler) []api.Route {
	return []api.Route{
		{Pattern: "GET /healthz", Guard: api.ClientCert, Handler: healthz},
		{Pattern: "GET /readyz", Guard: api.ClientCert, Handler: func(w http.ResponseWriter, r *http.Request) error {
			if err := ready(r); err != nil {
				return usher.Wrap(usher.Unavailable, "Not ready: the database is unavailable.", err)
			}
			return healthz(w, r)
		}},
		{Pattern: "GET /metrics", Guard: api.ClientCert, Handler: func(w http.ResponseWriter, r *http.Request) error {
			metrics.ServeHTTP(w, r)
			return nil
		}},
	}
}

func healthz(w http.ResponseWriter, _ *http.Request) error {
	api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
