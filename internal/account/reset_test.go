package account_test

import (
	"testing"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// wrongCode is a well-formed reset code that is never the one sent (the
// chance that NewCode makes it is 31^-10).
const wrongCode = "2222222222"

func TestSendReset(t *testing.T) {
	tests := []struct {
		name     string
		email    string
		wantMail bool
	}{
		{name: "enabled user", email: "user@example.com", wantMail: true},
		{name: "enabled user, address as typed", email: "  USER@Example.com ", wantMail: true},
		{name: "disabled user", email: "off@example.com", wantMail: false},
		{name: "unknown address", email: "nobody@example.com", wantMail: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			h.createUser(t, "user@example.com", oldPassword)
			off := h.createUser(t, "off@example.com", oldPassword)
			if err := h.svc.SetEnabled(t.Context(), tenant, off.ID, false); err != nil {
				t.Fatalf("SetEnabled(false): %v", err)
			}

			if err := h.svc.SendReset(t.Context(), tenant, tt.email); err != nil {
				t.Fatalf("SendReset: got %v, want nil", err)
			}
			var got []mail
			for _, to := range []string{"user@example.com", "off@example.com", "nobody@example.com"} {
				got = append(got, mailTo(t, h, to)...)
			}
			if !tt.wantMail {
				if len(got) != 0 {
					t.Errorf("mail: got %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Kind != usher.MailReset || got[0].To != "user@example.com" ||
				got[0].Params.Email != "user@example.com" || got[0].Params.Code == "" {
				t.Errorf("mail: got %+v, want one %s message with a code to user@example.com", got, usher.MailReset)
			}
		})
	}
}

func TestResetPassword(t *testing.T) {
	h := newTestService(t)
	ctx := t.Context()
	const email = "reset@example.com"
	u := h.createUser(t, email, oldPassword)
	session := h.login(t, email, oldPassword)
	if _, _, err := h.svc.Authenticate(ctx, tenant, session); err != nil {
		t.Fatalf("Authenticate before the reset: %v", err)
	}
	code := h.sendReset(t, email)

	if err := h.svc.ResetPassword(ctx, tenant, email, code, newPassword); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if h.check(t, u.ID, oldPassword) {
		t.Errorf("old password after reset: got true, want false")
	}
	if !h.check(t, u.ID, newPassword) {
		t.Errorf("new password after reset: got false, want true")
	}
	_, _, err := h.svc.Authenticate(ctx, tenant, session)
	wantCode(t, "Authenticate a session from before the reset", err, usher.Unauthorized)
	onlyMail(t, h, email, usher.MailPasswordChanged)
}

func TestResetCodeWorksOnce(t *testing.T) {
	h := newTestService(t)
	ctx := t.Context()
	const email = "once@example.com"
	u := h.createUser(t, email, oldPassword)
	code := h.sendReset(t, email)
	if err := h.svc.ResetPassword(ctx, tenant, email, code, newPassword); err != nil {
		t.Fatalf("first use: %v", err)
	}
	err := h.svc.ResetPassword(ctx, tenant, email, code, "third-Secret-4711")
	wantCode(t, "second use", err, usher.InvalidCode)
	if !h.check(t, u.ID, newPassword) {
		t.Errorf("password set by the first use: got false, want true")
	}
}

func TestResetCodeTries(t *testing.T) {
	tests := []struct {
		name      string
		wrong     int
		wantRight usher.Code
	}{
		{name: "one wrong try", wrong: 1, wantRight: ""},
		{name: "MaxTries-1 wrong tries", wrong: 4, wantRight: ""},
		{name: "MaxTries wrong tries kill the code", wrong: 5, wantRight: usher.InvalidCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			const email = "tries@example.com"
			u := h.createUser(t, email, oldPassword)
			code := h.sendReset(t, email)
			for range tt.wrong {
				err := h.svc.ResetPassword(t.Context(), tenant, email, wrongCode, newPassword)
				wantCode(t, "wrong code", err, usher.InvalidCode)
			}
			err := h.svc.ResetPassword(t.Context(), tenant, email, code, newPassword)
			wantCode(t, "right code", err, tt.wantRight)
			if got, want := h.check(t, u.ID, newPassword), tt.wantRight == ""; got != want {
				t.Errorf("new password: got %v, want %v", got, want)
			}
		})
	}
}

func TestResetCodeExpiry(t *testing.T) {
	const ttl = 30 * time.Minute
	tests := []struct {
		name    string
		advance time.Duration
		want    usher.Code
	}{
		{name: "just before TTL", advance: ttl - time.Millisecond, want: ""},
		{name: "at TTL", advance: ttl, want: usher.InvalidCode},
		{name: "after TTL", advance: 2 * ttl, want: usher.InvalidCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			const email = "ttl@example.com"
			h.createUser(t, email, oldPassword)
			code := h.sendReset(t, email)
			h.clock.Advance(tt.advance)
			err := h.svc.ResetPassword(t.Context(), tenant, email, code, newPassword)
			wantCode(t, "ResetPassword", err, tt.want)
		})
	}
}

func TestResetNewerCodeVoidsOlder(t *testing.T) {
	h := newTestService(t)
	ctx := t.Context()
	const email = "newer@example.com"
	h.createUser(t, email, oldPassword)
	older := h.sendReset(t, email)
	newer := h.sendReset(t, email)
	if older == newer {
		t.Fatalf("two sends gave the same code %q", older)
	}
	err := h.svc.ResetPassword(ctx, tenant, email, older, newPassword)
	wantCode(t, "older code", err, usher.InvalidCode)
	if err := h.svc.ResetPassword(ctx, tenant, email, newer, newPassword); err != nil {
		t.Errorf("newer code: got %v, want nil", err)
	}
}

// TestResetCodeVoidedByCredentialChange: a change of password or email, or
// disabling the user, kills an outstanding code and ends the sessions;
// enabling the user again brings neither back.
func TestResetCodeVoidedByCredentialChange(t *testing.T) {
	const email = "voided@example.com"
	setEnabled := func(t *testing.T, h *harness, id string, on ...bool) error {
		for _, o := range on {
			if err := h.svc.SetEnabled(t.Context(), tenant, id, o); err != nil {
				return err
			}
		}
		return nil
	}
	tests := []struct {
		name   string
		change func(t *testing.T, h *harness, id string) error
		email  string // the address the code is then tried with
	}{
		{
			name: "SetPassword",
			change: func(t *testing.T, h *harness, id string) error {
				return h.svc.SetPassword(t.Context(), tenant, id, newPassword)
			},
			email: email,
		},
		{
			name: "SetEmail",
			change: func(t *testing.T, h *harness, id string) error {
				return h.svc.SetEmail(t.Context(), tenant, id, "moved@example.com")
			},
			email: "moved@example.com",
		},
		{
			name: "SetEnabled false",
			change: func(t *testing.T, h *harness, id string) error {
				return setEnabled(t, h, id, false)
			},
			email: email,
		},
		{
			name: "SetEnabled false then true",
			change: func(t *testing.T, h *harness, id string) error {
				return setEnabled(t, h, id, false, true)
			},
			email: email,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			u := h.createUser(t, email, oldPassword)
			session := h.login(t, email, oldPassword)
			code := h.sendReset(t, email)
			if err := tt.change(t, h, u.ID); err != nil {
				t.Fatalf("change: %v", err)
			}
			err := h.svc.ResetPassword(t.Context(), tenant, tt.email, code, "third-Secret-4711")
			wantCode(t, "ResetPassword after the change", err, usher.InvalidCode)
			_, _, err = h.svc.Authenticate(t.Context(), tenant, session)
			wantCode(t, "Authenticate a session from before the change", err, usher.Unauthorized)
		})
	}
}

// TestResetKeepsOtherCredentials: a change that leaves the password and the
// address (custom data, an email change in case only) keeps an outstanding
// code and the sessions.
func TestResetKeepsOtherCredentials(t *testing.T) {
	const email = "kept@example.com"
	tests := []struct {
		name   string
		change func(t *testing.T, h *harness, id string) error
		email  string
	}{
		{
			name: "SetData",
			change: func(t *testing.T, h *harness, id string) error {
				return h.svc.SetData(t.Context(), tenant, id, []byte(`{"plan":"pro"}`))
			},
			email: email,
		},
		{
			name: "SetEmail, case only",
			change: func(t *testing.T, h *harness, id string) error {
				return h.svc.SetEmail(t.Context(), tenant, id, "Kept@Example.com")
			},
			email: "Kept@Example.com",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			u := h.createUser(t, email, oldPassword)
			session := h.login(t, email, oldPassword)
			code := h.sendReset(t, email)
			if err := tt.change(t, h, u.ID); err != nil {
				t.Fatalf("change: %v", err)
			}
			if _, _, err := h.svc.Authenticate(t.Context(), tenant, session); err != nil {
				t.Errorf("Authenticate a session from before the change: got %v, want nil", err)
			}
			if err := h.svc.ResetPassword(t.Context(), tenant, tt.email, code, newPassword); err != nil {
				t.Errorf("ResetPassword after the change: got %v, want nil", err)
			}
		})
	}
}

// TestSendResetRateLimit: PerHour sends per address in a fixed window that
// starts at the first send; the limit answers the same for known and
// unknown addresses, and other addresses are not affected.
func TestSendResetRateLimit(t *testing.T) {
	tests := []struct {
		name   string
		email  string
		exists bool
	}{
		{name: "existing user", email: "limited@example.com", exists: true},
		{name: "unknown address", email: "ghost@example.com", exists: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			ctx := t.Context()
			h.createUser(t, "limited@example.com", oldPassword)
			h.createUser(t, "other@example.com", oldPassword)
			wantMails := func(what string, want int) {
				t.Helper()
				if !tt.exists {
					want = 0
				}
				if got := len(mailTo(t, h, tt.email)); got != want {
					t.Errorf("%s: got %d messages, want %d", what, got, want)
				}
			}

			if err := h.svc.SendReset(ctx, tenant, tt.email); err != nil {
				t.Fatalf("send 1: %v", err)
			}
			h.clock.Advance(30 * time.Minute)
			for i := 2; i <= 5; i++ {
				if err := h.svc.SendReset(ctx, tenant, tt.email); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			wantMails("first 5 sends", 5)

			err := h.svc.SendReset(ctx, tenant, tt.email)
			wantCode(t, "send 6", err, usher.RateLimited)
			if got, want := usher.RetryAfter(err), time.Hour; got != want {
				t.Errorf("send 6: got RetryAfter %v, want %v", got, want)
			}
			if err := h.svc.SendReset(ctx, tenant, "other@example.com"); err != nil {
				t.Errorf("another address while limited: got %v, want nil", err)
			}
			h.clock.Advance(29 * time.Minute) // 59 minutes after the first send
			err = h.svc.SendReset(ctx, tenant, tt.email)
			wantCode(t, "send 59 minutes after the first", err, usher.RateLimited)
			wantMails("limited sends", 0)

			h.clock.Advance(time.Hour) // an hour after the first limited answer
			if err := h.svc.SendReset(ctx, tenant, tt.email); err != nil {
				t.Errorf("send after RetryAfter: got %v, want nil", err)
			}
			wantMails("send after RetryAfter", 1)
		})
	}
}
