package public

import (
	"net/http"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

// tokenAnswer is POST /token's answer, in OAuth 2.0's words (RFC 6749
// 5.1).
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"` // seconds
	RefreshToken string `json:"refresh_token"`
}

type mfaError struct {
	Code    usher.Code `json:"code"`
	Message string     `json:"message"`
}

// mfaAnswer is the password grant's answer for a user with a second
// factor: the native error body, and the mfa token.
type mfaAnswer struct {
	Error    mfaError `json:"error"`
	MFAToken string   `json:"mfa_token"`
}

// token is POST /token?grant_type=password ({email, password}) or
// ?grant_type=refresh_token ({refresh_token}): Usher's own call beside
// StaticBackend's /login, for apps that keep their users signed in with
// short-lived access tokens and rotating refresh tokens.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k, v := range q {
		// sbpk is the tenant key, as other routes take it.
		if k != "grant_type" && k != "sbpk" || len(v) != 1 {
			return usher.Errorf(usher.Invalid, "The grant_type query parameter is required (password, refresh_token or mfa), once, and no other.")
		}
	}
	if !q.Has("grant_type") {
		return usher.Errorf(usher.Invalid, "The grant_type query parameter is required (password, refresh_token or mfa), once, and no other.")
	}
	tenant := TenantOf(r).ID
	var pair account.TokenPair
	var err error
	switch q.Get("grant_type") {
	case "password":
		var req struct {
			Email    string `json:"email"`
			Password string `json:"password"`
		}
		if err := api.Decode(r, &req); err != nil {
			return err
		}
		pair, err = h.accounts.PasswordGrant(r.Context(), tenant, req.Email, req.Password)
	case "refresh_token":
		var req struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := api.Decode(r, &req); err != nil {
			return err
		}
		pair, err = h.accounts.RefreshGrant(r.Context(), tenant, req.RefreshToken)
	case "mfa":
		var req struct {
			MFAToken string `json:"mfa_token"`
			Code     string `json:"code"`
		}
		if err := api.Decode(r, &req); err != nil {
			return err
		}
		pair, err = h.accounts.MFAGrant(r.Context(), tenant, req.MFAToken, req.Code)
	default:
		return usher.Errorf(usher.Invalid, "grant_type must be password, refresh_token or mfa.")
	}
	if usher.ErrorCode(err) == usher.MFARequired && pair.MFAToken != "" {
		// The password was right: the answer carries the token that the
		// second step (grant_type=mfa) takes with a code.
		api.WriteJSON(w, http.StatusUnauthorized, mfaAnswer{
			Error: mfaError{Code: usher.MFARequired, Message: usher.ErrorMessage(err)}, MFAToken: pair.MFAToken,
		})
		return nil
	}
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, tokenAnswer{
		AccessToken: pair.Access, TokenType: "Bearer", ExpiresIn: int(pair.ExpiresIn.Seconds()), RefreshToken: pair.Refresh,
	})
	return nil
}
