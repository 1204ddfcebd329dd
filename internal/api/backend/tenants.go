package backend

import (
	"net/http"
	"time"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// tenantBody is the wire form of a tenant. Public keys are not secrets:
// browsers send them.
type tenantBody struct {
	ID               string  `json:"id"`
	Name             string  `json:"name"`
	PublicKey        string  `json:"public_key"`
	PreviousKey      *string `json:"previous_key"`
	PreviousKeyUntil *string `json:"previous_key_until"`
	CreatedAt        string  `json:"created_at"`
}

func (h *Handler) tenantOf(t usher.Tenant) tenantBody {
	b := tenantBody{ID: t.ID, Name: t.Name, PublicKey: t.PublicKey, CreatedAt: t.CreatedAt.UTC().Format(api.TimeFormat)}
	if t.PreviousKey != "" {
		until := t.PreviousKeyUntil.UTC().Format(api.TimeFormat)
		b.PreviousKey, b.PreviousKeyUntil = &t.PreviousKey, &until
	}
	return b
}

func (h *Handler) createTenant(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	t, err := h.accounts.CreateTenant(r.Context(), req.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/tenants/"+t.ID)
	api.WriteJSON(w, http.StatusCreated, h.tenantOf(t))
	return nil
}

func (h *Handler) listTenants(w http.ResponseWriter, r *http.Request) error {
	ts, err := h.accounts.Tenants(r.Context())
	if err != nil {
		return err
	}
	body := struct {
		Tenants []tenantBody `json:"tenants"`
	}{Tenants: make([]tenantBody, len(ts))}
	for i, t := range ts {
		body.Tenants[i] = h.tenantOf(t)
	}
	api.WriteJSON(w, http.StatusOK, body)
	return nil
}

func (h *Handler) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := h.accounts.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, h.tenantOf(t))
	return nil
}

// rotateTenantKey is POST /tenants/{tenant}/rotate-key, with an optional
// body {"overlap": "24h"}: how long the old key keeps working.
func (h *Handler) rotateTenantKey(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Overlap *string `json:"overlap"`
	}
	if err := api.Decode(r, &req); err != nil && err != api.ErrEmptyBody {
		return err
	}
	overlap := DefaultKeyOverlap
	if req.Overlap != nil {
		d, err := time.ParseDuration(*req.Overlap)
		if err != nil {
			return usher.Errorf(usher.Invalid, "overlap must be a duration, such as \"24h\" or \"0s\".")
		}
		overlap = d
	}
	t, err := h.accounts.RotateTenantKey(r.Context(), r.PathValue("tenant"), overlap)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, h.tenantOf(t))
	return nil
}

// DefaultKeyOverlap is how long a rotated public key keeps working when
// the rotation does not say.
const DefaultKeyOverlap = 24 * time.Hour

func (h *Handler) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "force"); err != nil {
		return err
	}
	p := params{q: q}
	force := p.bool("force")
	if p.err != nil {
		return p.err
	}
	if err := h.accounts.DeleteTenant(r.Context(), r.PathValue("tenant"), force != nil && *force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
