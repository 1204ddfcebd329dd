package account_test

import (
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

func TestSendVerification(t *testing.T) {
	h := newTestService(t)
	u := h.createUser(t, "send@example.com", oldPassword)

	if err := h.svc.SendVerification(t.Context(), tenant, u.ID); err != nil {
		t.Fatalf("SendVerification: %v", err)
	}
	m := onlyMail(t, h, u.Email, usher.MailVerify)
	if m.Params.Token == "" || m.Params.Email != u.Email {
		t.Errorf("verification email params: got %+v, want a token for %s", m.Params, u.Email)
	}
	if got := h.liveToken(t, u.Email); got != m.Params.Token {
		t.Errorf("live token: got %q, want the emailed %q", got, m.Params.Token)
	}
}

func TestSendVerificationUnknownUser(t *testing.T) {
	h := newTestService(t)
	u := h.createUser(t, "gone@example.com", oldPassword)
	if err := h.svc.Delete(t.Context(), tenant, u.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	tests := []struct{ name, id string }{
		{name: "deleted user", id: u.ID},
		{name: "malformed id", id: "not-an-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.svc.SendVerification(t.Context(), tenant, tt.id)
			wantCode(t, "SendVerification", err, usher.NotFound)
		})
	}
}

func TestVerifyEmail(t *testing.T) {
	h := newTestService(t)
	ctx := t.Context()
	u := h.createUser(t, "verify@example.com", oldPassword)
	tok := h.sendVerification(t, u)

	uses := []string{"first use", "second use", "third use, an hour later"}
	for i, use := range uses {
		if i == 2 {
			h.clock.Advance(time.Hour)
		}
		got, err := h.svc.VerifyEmail(ctx, tenant, u.Email, tok)
		if err != nil {
			t.Fatalf("%s: %v", use, err)
		}
		if !got.Confirmed || got.ID != u.ID || got.VerifyToken != tok {
			t.Errorf("%s: got user %s confirmed %v token %q, want %s confirmed, token %q",
				use, got.ID, got.Confirmed, got.VerifyToken, u.ID, tok)
		}
		if !h.user(t, u.ID).Confirmed {
			t.Errorf("%s: stored user not confirmed", use)
		}
	}
}

func TestVerifyEmailWrongToken(t *testing.T) {
	h := newTestService(t)
	u := h.createUser(t, "wrong@example.com", oldPassword)
	tok := h.sendVerification(t, u)
	tests := []struct{ name, tok string }{
		{name: "empty", tok: ""},
		{name: "another token", tok: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{name: "truncated", tok: tok[:len(tok)-1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.svc.VerifyEmail(t.Context(), tenant, u.Email, tt.tok)
			wantCode(t, "VerifyEmail", err, usher.InvalidCode)
		})
	}
	if h.user(t, u.ID).Confirmed {
		t.Errorf("after wrong tokens: user confirmed, want unconfirmed")
	}
}

// TestVerificationTokenEnds: expiry, an email change (however made),
// deletion, a newer token and ClearVerification end a verification token;
// a change of the address's case only does not.
func TestVerificationTokenEnds(t *testing.T) {
	const (
		email = "ends@example.com"
		ttl   = 24 * time.Hour
	)
	tests := []struct {
		name string
		// after runs between sending the token and using it; it returns
		// the address the token is then used with.
		after    func(t *testing.T, h *harness, u usher.User) string
		wantCode usher.Code
	}{
		{
			name: "just before TTL",
			after: func(t *testing.T, h *harness, u usher.User) string {
				h.clock.Advance(ttl - time.Millisecond)
				return email
			},
		},
		{
			name:     "at TTL",
			after:    func(t *testing.T, h *harness, u usher.User) string { h.clock.Advance(ttl); return email },
			wantCode: usher.InvalidCode,
		},
		{
			name: "email changed",
			after: func(t *testing.T, h *harness, u usher.User) string {
				setEmail(t, h, u.ID, "new@example.com")
				return "new@example.com"
			},
			wantCode: usher.InvalidCode,
		},
		{
			name: "email changed and changed back",
			after: func(t *testing.T, h *harness, u usher.User) string {
				setEmail(t, h, u.ID, "new@example.com")
				setEmail(t, h, u.ID, email)
				return email
			},
			wantCode: usher.InvalidCode,
		},
		{
			name: "email changed in case only",
			after: func(t *testing.T, h *harness, u usher.User) string {
				setEmail(t, h, u.ID, "Ends@Example.com")
				return "Ends@Example.com"
			},
		},
		{
			name: "user deleted",
			after: func(t *testing.T, h *harness, u usher.User) string {
				if err := h.svc.Delete(t.Context(), tenant, u.ID); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				return email
			},
			wantCode: usher.NotFound,
		},
		{
			name: "user deleted and the address registered again",
			after: func(t *testing.T, h *harness, u usher.User) string {
				if err := h.svc.Delete(t.Context(), tenant, u.ID); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				h.createUser(t, email, oldPassword)
				return email
			},
			wantCode: usher.InvalidCode,
		},
		{
			name: "email changed by ReplaceUser",
			after: func(t *testing.T, h *harness, u usher.User) string {
				a := account.Access{Email: email, Password: oldPassword, Check: true}
				if _, err := h.svc.ReplaceUser(t.Context(), tenant, a, account.Replacement{Email: "new@example.com"}); err != nil {
					t.Fatalf("ReplaceUser: %v", err)
				}
				return "new@example.com"
			},
			wantCode: usher.InvalidCode,
		},
		{
			name: "verification cleared",
			after: func(t *testing.T, h *harness, u usher.User) string {
				if _, err := h.svc.ClearVerification(t.Context(), tenant, account.Access{Email: email}); err != nil {
					t.Fatalf("ClearVerification: %v", err)
				}
				return email
			},
			wantCode: usher.InvalidCode,
		},
		{
			name: "newer token sent",
			after: func(t *testing.T, h *harness, u usher.User) string {
				h.sendVerification(t, u)
				return email
			},
			wantCode: usher.InvalidCode,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			u := h.createUser(t, email, oldPassword)
			tok := h.sendVerification(t, u)
			to := tt.after(t, h, u)
			got, err := h.svc.VerifyEmail(t.Context(), tenant, to, tok)
			wantCode(t, "VerifyEmail", err, tt.wantCode)
			if err == nil && !got.Confirmed {
				t.Errorf("VerifyEmail: got an unconfirmed user, want confirmed")
			}
			if err != nil && got.Confirmed {
				t.Errorf("VerifyEmail failed but returned a confirmed user")
			}
		})
	}
}

func TestVerificationNewerTokenWorks(t *testing.T) {
	h := newTestService(t)
	u := h.createUser(t, "newer-token@example.com", oldPassword)
	older := h.sendVerification(t, u)
	newer := h.sendVerification(t, u)
	if older == newer {
		t.Fatalf("two sends gave the same token")
	}
	_, err := h.svc.VerifyEmail(t.Context(), tenant, u.Email, older)
	wantCode(t, "older token", err, usher.InvalidCode)
	if _, err := h.svc.VerifyEmail(t.Context(), tenant, u.Email, newer); err != nil {
		t.Errorf("newer token: got %v, want nil", err)
	}
}

// TestVerificationSurvivesPasswordChange: a verification token proves the
// address, not the password, so only an email change, deletion or expiry
// ends it; a password change, however made, and disabling the user do not.
func TestVerificationSurvivesPasswordChange(t *testing.T) {
	const email = "survives@example.com"
	tests := []struct {
		name   string
		change func(t *testing.T, h *harness, u usher.User)
		// wantPassword is the password after the change, "" when the user
		// is then disabled and no password checks.
		wantPassword string
	}{
		{
			name: "SetPassword",
			change: func(t *testing.T, h *harness, u usher.User) {
				if err := h.svc.SetPassword(t.Context(), tenant, u.ID, newPassword); err != nil {
					t.Fatalf("SetPassword: %v", err)
				}
			},
			wantPassword: newPassword,
		},
		{
			name: "ResetPassword",
			change: func(t *testing.T, h *harness, u usher.User) {
				code := h.sendReset(t, email)
				if err := h.svc.ResetPassword(t.Context(), tenant, email, code, newPassword); err != nil {
					t.Fatalf("ResetPassword: %v", err)
				}
			},
			wantPassword: newPassword,
		},
		{
			name: "ReplaceUser with a new password, same email",
			change: func(t *testing.T, h *harness, u usher.User) {
				pw := newPassword
				a := account.Access{Email: email, Password: oldPassword, Check: true}
				if _, err := h.svc.ReplaceUser(t.Context(), tenant, a, account.Replacement{Email: email, Password: &pw}); err != nil {
					t.Fatalf("ReplaceUser: %v", err)
				}
			},
			wantPassword: newPassword,
		},
		{
			name: "SetEnabled false",
			change: func(t *testing.T, h *harness, u usher.User) {
				if err := h.svc.SetEnabled(t.Context(), tenant, u.ID, false); err != nil {
					t.Fatalf("SetEnabled(false): %v", err)
				}
			},
		},
		{
			name: "SetEnabled false then true",
			change: func(t *testing.T, h *harness, u usher.User) {
				for _, on := range []bool{false, true} {
					if err := h.svc.SetEnabled(t.Context(), tenant, u.ID, on); err != nil {
						t.Fatalf("SetEnabled(%v): %v", on, err)
					}
				}
			},
			wantPassword: oldPassword,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			u := h.createUser(t, email, oldPassword)
			tok := h.sendVerification(t, u)
			tt.change(t, h, u)
			if tt.wantPassword != "" && !h.check(t, u.ID, tt.wantPassword) {
				t.Fatalf("CheckPassword(%q) after the change: got false, want true", tt.wantPassword)
			}
			if got, want := h.user(t, u.ID).Enabled, tt.wantPassword != ""; got != want {
				t.Fatalf("enabled after the change: got %v, want %v", got, want)
			}

			if live := h.liveToken(t, email); live != tok {
				t.Errorf("live token after the change: got %q, want the token sent before it", live)
			}
			got, err := h.svc.VerifyEmail(t.Context(), tenant, email, tok)
			wantCode(t, "VerifyEmail after the change", err, "")
			if err == nil && (!got.Confirmed || got.VerifyToken != tok) {
				t.Errorf("VerifyEmail: got confirmed %v, token %q; want confirmed, token %q", got.Confirmed, got.VerifyToken, tok)
			}
			if !h.user(t, u.ID).Confirmed {
				t.Errorf("stored user after VerifyEmail: unconfirmed, want confirmed")
			}
		})
	}
}

// setEmail changes a user's email and fails the test on an error.
func setEmail(t *testing.T, h *harness, id, email string) {
	t.Helper()
	if err := h.svc.SetEmail(t.Context(), tenant, id, email); err != nil {
		t.Fatalf("SetEmail(%q): %v", email, err)
	}
}
