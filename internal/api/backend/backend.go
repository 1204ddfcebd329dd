// Package backend serves the backend surface (seed 000): user management for
// the application's own backend, behind mutual TLS.
package backend

import (
	"encoding/json"
	"net/http"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// Handler serves the backend surface for one tenant.
type Handler struct {
	accounts *account.Service
	tenantID string
}

// New returns a Handler working in tenantID.
func New(accounts *account.Service, tenantID string) *Handler {
	return &Handler{accounts: accounts, tenantID: tenantID}
}

// Routes is the backend surface's route table. Every route requires the
// mutual-TLS client certificate; ops lists extra routes (health, metrics).
func (h *Handler) Routes() []api.Route {
	return []api.Route{
		{Pattern: "POST /users/{$}", Auth: api.MutualTLS, Handler: h.create},
		{Pattern: "POST /users", Auth: api.MutualTLS, Handler: h.create},
		{Pattern: "GET /users/{id}", Auth: api.MutualTLS, Handler: h.get},
		{Pattern: "DELETE /users/{id}", Auth: api.MutualTLS, Handler: h.delete},
		{Pattern: "PUT /users/{id}/email", Auth: api.MutualTLS, Handler: h.setEmail},
		{Pattern: "PUT /users/{id}/password", Auth: api.MutualTLS, Handler: h.setPassword},
		{Pattern: "PUT /users/{id}/disable", Auth: api.MutualTLS, Handler: h.setEnabled(false)},
		{Pattern: "PUT /users/{id}/enable", Auth: api.MutualTLS, Handler: h.setEnabled(true)},
		{Pattern: "PUT /users/{id}/data", Auth: api.MutualTLS, Handler: h.setData},
		{Pattern: "GET /users/{id}/data", Auth: api.MutualTLS, Handler: h.getData},
		{Pattern: "POST /users/{id}/checkpw", Auth: api.MutualTLS, Handler: h.checkPassword},
		{Pattern: "POST /users/{id}/verify", Auth: api.MutualTLS, Handler: h.sendVerification},
	}
}

// user is the wire form of a user. It has no password or hash field.
type user struct {
	ID        string          `json:"id"`
	Email     string          `json:"email"`
	Confirmed bool            `json:"confirmed"`
	Enabled   bool            `json:"enabled"`
	Data      json.RawMessage `json:"data"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// Wire returns the wire form of a user, as GET /users/{id} shows it.
func Wire(u usher.User) any { return toWire(u) }

func toWire(u usher.User) user {
	return user{
		ID: u.ID, Email: u.Email, Confirmed: u.Confirmed, Enabled: u.Enabled, Data: u.Data,
		CreatedAt: u.CreatedAt.UTC().Format(timeFormat), UpdatedAt: u.UpdatedAt.UTC().Format(timeFormat),
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
	u, err := h.accounts.Create(r.Context(), h.tenantID, in)
	if err != nil {
		return err
	}
	w.Header().Set("X-Object-ID", u.ID)
	w.Header().Set("Location", "/users/"+u.ID)
	api.WriteJSON(w, http.StatusCreated, toWire(u))
	return nil
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) error {
	u, err := h.accounts.User(r.Context(), h.tenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, toWire(u))
	return nil
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.accounts.Delete(r.Context(), h.tenantID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) setEmail(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email string `json:"email"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	if err := h.accounts.SetEmail(r.Context(), h.tenantID, r.PathValue("id"), req.Email); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Password string `json:"password"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	if err := h.accounts.SetPassword(r.Context(), h.tenantID, r.PathValue("id"), req.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) setEnabled(enabled bool) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := h.accounts.SetEnabled(r.Context(), h.tenantID, r.PathValue("id"), enabled); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (h *Handler) setData(w http.ResponseWriter, r *http.Request) error {
	body, err := api.ReadBody(r, account.MaxDataDepth)
	if err != nil {
		return err
	}
	if err := h.accounts.SetData(r.Context(), h.tenantID, r.PathValue("id"), body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) getData(w http.ResponseWriter, r *http.Request) error {
	u, err := h.accounts.User(r.Context(), h.tenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, u.Data)
	return nil
}

func (h *Handler) checkPassword(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Password string `json:"password"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	ok, err := h.accounts.CheckPassword(r.Context(), h.tenantID, r.PathValue("id"), req.Password)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, struct {
		Result bool `json:"result"`
	}{ok})
	return nil
}

func (h *Handler) sendVerification(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := h.accounts.SendVerification(r.Context(), h.tenantID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Ops returns the operational routes of the backend listener: liveness,
// readiness (the database answers) and Prometheus metrics.
func Ops(ready func(*http.Request) error, metrics http.Handler) []api.Route {
	return []api.Route{
		{Pattern: "GET /healthz", Auth: api.MutualTLS, Handler: healthz},
		{Pattern: "GET /readyz", Auth: api.MutualTLS, Handler: func(w http.ResponseWriter, r *http.Request) error {
			if err := ready(r); err != nil {
				return usher.Wrap(usher.Unavailable, "Not ready: the database is unavailable.", err)
			}
			return healthz(w, r)
		}},
		{Pattern: "GET /metrics", Auth: api.MutualTLS, Handler: func(w http.ResponseWriter, r *http.Request) error {
			metrics.ServeHTTP(w, r)
			return nil
		}},
	}
}

func healthz(w http.ResponseWriter, _ *http.Request) error {
	api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
