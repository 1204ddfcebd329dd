package account_test

import (
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/usher"
)

// signedIn creates ann and logs her in twice: two sessions, two tokens.
func signedIn(t *testing.T, e *accounttest.Env) (u usher.User, tokens [2]string, sessions [2]string) {
	t.Helper()
	u, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "ann@example.com", Password: "first-Secret-8451", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range tokens {
		if tokens[i], err = e.Service.Login(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", "first-Secret-8451"); err != nil {
			t.Fatal(err)
		}
		_, c, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tokens[i])
		if err != nil {
			t.Fatal(err)
		}
		sessions[i] = c.SessionID
	}
	return u, tokens, sessions
}

func TestChangeOwnPassword(t *testing.T) {
	e := accounttest.New(t)
	u, tokens, sessions := signedIn(t, e)
	ctx := apitest.Ctx(t)

	err := e.Service.ChangeOwnPassword(ctx, e.Tenant.ID, u.ID, sessions[0], "wrong-Secret-0000", "second-Secret-9362")
	if usher.ErrorCode(err) != usher.InvalidPassword {
		t.Fatalf("with a wrong current password: %v; want invalid_password", err)
	}
	if got, err := e.Service.User(t.Context(), e.Tenant.ID, u.ID); err != nil || got.FailedChecks != 1 {
		t.Errorf("the wrong current password: %d failures counted (%v), want 1", got.FailedChecks, err)
	}
	if err := e.Service.ChangeOwnPassword(ctx, e.Tenant.ID, u.ID, sessions[0], "first-Secret-8451", "short"); usher.ErrorCode(err) != usher.InvalidPassword {
		t.Errorf("a new password the policy refuses: %v; want invalid_password", err)
	}
	if err := e.Service.ChangeOwnPassword(ctx, e.Tenant.ID, u.ID, sessions[0], "first-Secret-8451", "second-Secret-9362"); err != nil {
		t.Fatalf("ChangeOwnPassword: %v", err)
	}
	// The asking session stays; the other ends; the new password works.
	if _, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tokens[0]); err != nil {
		t.Errorf("the session that changed the password: %v; want it to stay", err)
	}
	if _, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tokens[1]); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("the other session: %v; want it ended", err)
	}
	if _, err := e.Service.Login(ctx, e.Tenant.ID, "ann@example.com", "second-Secret-9362"); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	var notices int
	for _, m := range e.Mail(t) {
		if m.Kind == usher.MailPasswordChanged {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("password-changed emails: %d, want 1", notices)
	}
}

func TestDeleteOwnAccountAndSessions(t *testing.T) {
	e := accounttest.New(t)
	u, tokens, sessions := signedIn(t, e)
	ctx := apitest.Ctx(t)

	ss, err := e.Service.Sessions(ctx, e.Tenant.ID, u.ID)
	if err != nil || len(ss) != 2 {
		t.Fatalf("Sessions: %v, %d; want 2", err, len(ss))
	}
	if err := e.Service.EndSession(ctx, e.Tenant.ID, u.ID, sessions[1]); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if _, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tokens[1]); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("the ended session: %v; want it ended", err)
	}
	if err := e.Service.DeleteOwnAccount(ctx, e.Tenant.ID, u.ID, "wrong-Secret-0000"); usher.ErrorCode(err) != usher.InvalidPassword {
		t.Fatalf("delete with a wrong password: %v; want invalid_password", err)
	}
	if _, err := e.Service.User(t.Context(), e.Tenant.ID, u.ID); err != nil {
		t.Fatalf("the user after a refused delete: %v", err)
	}
	if err := e.Service.DeleteOwnAccount(ctx, e.Tenant.ID, u.ID, "first-Secret-8451"); err != nil {
		t.Fatalf("DeleteOwnAccount: %v", err)
	}
	if _, err := e.Service.User(t.Context(), e.Tenant.ID, u.ID); usher.ErrorCode(err) != usher.NotFound {
		t.Errorf("the user after delete: %v; want not found", err)
	}
	if _, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tokens[0]); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("the session after delete: %v; want it ended", err)
	}
}
