package public

import (
	"encoding/base64"
	"net/http"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// TOTP two-factor sign-in, for the signed-in user.

func (h *Handler) enrollTOTP(w http.ResponseWriter, r *http.Request) error {
	u, _ := UserOf(r)
	k, err := h.accounts.EnrollTOTP(usher.WithActor(r.Context(), "user"), TenantOf(r).ID, u.ID)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
		PNG    string `json:"qr_png"`
	}{k.Secret, k.URI, base64.StdEncoding.EncodeToString(k.PNG)})
	return nil
}

type codeRequest struct {
	Code string `json:"code"`
}

type recoveryAnswer struct {
	Codes []string `json:"recovery_codes"`
}

func (h *Handler) confirmTOTP(w http.ResponseWriter, r *http.Request) error {
	var req codeRequest
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	u, sid := UserOf(r)
	codes, err := h.accounts.ConfirmTOTP(usher.WithActor(r.Context(), "user"), TenantOf(r).ID, u.ID, sid, req.Code)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, recoveryAnswer{codes})
	return nil
}

func (h *Handler) disableTOTP(w http.ResponseWriter, r *http.Request) error {
	var req codeRequest
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	u, _ := UserOf(r)
	if err := h.accounts.DisableTOTP(usher.WithActor(r.Context(), "user"), TenantOf(r).ID, u.ID, req.Code); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	var req codeRequest
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	u, _ := UserOf(r)
	codes, err := h.accounts.RegenerateRecoveryCodes(usher.WithActor(r.Context(), "user"), TenantOf(r).ID, u.ID, req.Code)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, recoveryAnswer{codes})
	return nil
}
