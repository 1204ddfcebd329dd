package public

import (
	"net/http"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// The self-service calls (Usher's own, beside StaticBackend's): a
// signed-in user changes its password or its email address, lists and
// ends its sessions, and deletes its account.

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	u, sid := UserOf(r)
	ctx := usher.WithActor(r.Context(), "user")
	if err := h.accounts.ChangeOwnPassword(ctx, TenantOf(r).ID, u.ID, sid, req.Current, req.New); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changeEmail asks for the user's address to change: nothing changes
// until the link sent to the new address is opened (applyEmailChange).
func (h *Handler) changeEmail(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	u, _ := UserOf(r)
	if err := h.accounts.RequestEmailChange(usher.WithActor(r.Context(), "user"), TenantOf(r).ID, u.ID, req.Email, req.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// applyEmailChange is the link in an email-change email. It works in the
// tenant the link names, as GET /verify does.
func (h *Handler) applyEmailChange(w http.ResponseWriter, r *http.Request) error {
	tenantID, email, tok, err := h.linkTenant(r)
	if err != nil {
		return err
	}
	rec, err := h.accounts.ApplyEmailChange(r.Context(), tenantID, email, tok)
	if err != nil {
		return err
	}
	linkAnswer(w, r, rec.User)
	return nil
}

func (h *Handler) deleteMe(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Password string `json:"password"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	u, _ := UserOf(r)
	if err := h.accounts.DeleteOwnAccount(usher.WithActor(r.Context(), "user"), TenantOf(r).ID, u.ID, req.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) mySessions(w http.ResponseWriter, r *http.Request) error {
	u, sid := UserOf(r)
	ss, err := h.accounts.Sessions(r.Context(), TenantOf(r).ID, u.ID)
	if err != nil {
		return err
	}
	body := struct {
		Sessions []api.Session `json:"sessions"`
	}{Sessions: make([]api.Session, len(ss))}
	for i, s := range ss {
		body.Sessions[i] = api.SessionOf(s)
		body.Sessions[i].Current = new(s.ID == sid)
	}
	api.WriteJSON(w, http.StatusOK, body)
	return nil
}

func (h *Handler) endMySession(w http.ResponseWriter, r *http.Request) error {
	u, _ := UserOf(r)
	if err := h.accounts.EndSession(usher.WithActor(r.Context(), "user"), TenantOf(r).ID, u.ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
