package account_test

import (
	"context"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

const adminPassword = "console-Secret-7731"

// setUpAdmin creates an admin and chooses its password on the setup link.
func setUpAdmin(t *testing.T, h *harness, email string) usher.Admin {
	t.Helper()
	ctx := t.Context()
	a, link, err := h.svc.CreateAdmin(ctx, email)
	if err != nil {
		t.Fatalf("CreateAdmin: %v", err)
	}
	if a.Hash != "" || link == "" {
		t.Fatalf("CreateAdmin: hash %q, link %q: want no password and a link", a.Hash, link)
	}
	if got, err := h.svc.AdminSetupEmail(ctx, link); err != nil || got != email {
		t.Fatalf("AdminSetupEmail: %q, %v; want %q", got, err, email)
	}
	if _, err := h.svc.SetUpAdmin(ctx, link, adminPassword); err != nil {
		t.Fatalf("SetUpAdmin: %v", err)
	}
	if _, err := h.svc.SetUpAdmin(ctx, link, adminPassword); usher.ErrorCode(err) != usher.InvalidCode {
		t.Fatalf("second use of a setup link: got %v, want invalid_code", err)
	}
	return a
}

func TestAdminSetupAndSignIn(t *testing.T) {
	h := newTestService(t)
	ctx := t.Context()
	a := setUpAdmin(t, h, "ops@example.com")

	if _, _, err := h.svc.CreateAdmin(ctx, "OPS@example.com"); usher.ErrorCode(err) != usher.EmailTaken {
		t.Fatalf("a second admin of one address: got %v, want email_taken", err)
	}
	if _, err := h.svc.SignInAdmin(ctx, "ops@example.com", wrongPassword, ""); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("wrong password: got %v, want unauthorized", err)
	}
	if _, err := h.svc.SignInAdmin(ctx, "nobody@example.com", adminPassword, ""); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("unknown email: got %v, want unauthorized", err)
	}
	in, err := h.svc.SignInAdmin(ctx, "Ops@Example.com", adminPassword, "")
	if err != nil {
		t.Fatalf("SignInAdmin: %v", err)
	}
	if in.Token == "" || in.CSRF == "" || in.Token == in.CSRF {
		t.Fatalf("session tokens: %q / %q", in.Token, in.CSRF)
	}
	got, x, err := h.svc.AdminSession(ctx, in.Token)
	if err != nil || got.ID != a.ID || x.CSRF != in.CSRF {
		t.Fatalf("AdminSession: %v, %v, %v", got.ID, x.CSRF, err)
	}
	if _, _, err := h.svc.AdminSession(ctx, in.CSRF); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("the CSRF token as a session: got %v, want unauthorized", err)
	}
	if err := h.svc.SignOutAdmin(ctx, in.Token); err != nil {
		t.Fatalf("SignOutAdmin: %v", err)
	}
	if _, _, err := h.svc.AdminSession(ctx, in.Token); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("after sign-out: got %v, want unauthorized", err)
	}
	evs, err := h.svc.Events(ctx, tenant, account.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range evs.Events {
		seen[e.Type] = true
	}
	for _, typ := range []string{account.AuditAdminCreated, account.AuditAdminSetUp, account.AuditAdminSignedIn,
		account.AuditAdminSignInFailed, account.AuditAdminSignedOut} {
		if !seen[typ] {
			t.Errorf("no %s event in the audit log", typ)
		}
	}
}

func TestAdminSessionExpiry(t *testing.T) {
	h := newTestService(t, func(c *account.Config) {
		c.Admin = account.AdminRules{Idle: 10 * time.Minute, MaxAge: time.Hour}
	})
	ctx := t.Context()
	setUpAdmin(t, h, "ops@example.com")
	in, err := h.svc.SignInAdmin(ctx, "ops@example.com", adminPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	// Used every 9 minutes, it lives until its absolute expiry.
	for range 6 {
		h.clock.Advance(9 * time.Minute)
		if _, _, err := h.svc.AdminSession(ctx, in.Token); err != nil {
			t.Fatalf("a session in use: %v", err)
		}
	}
	h.clock.Advance(7 * time.Minute) // 61 minutes after sign-in
	if _, _, err := h.svc.AdminSession(ctx, in.Token); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("past its absolute expiry: got %v, want unauthorized", err)
	}
	in, err = h.svc.SignInAdmin(ctx, "ops@example.com", adminPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(10 * time.Minute)
	if _, _, err := h.svc.AdminSession(ctx, in.Token); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("idle for 10 minutes: got %v, want unauthorized", err)
	}
}

func TestAdminLockout(t *testing.T) {
	h := newTestService(t) // lockout after 3 failures per address
	ctx := t.Context()
	setUpAdmin(t, h, "ops@example.com")
	for range 3 {
		if _, err := h.svc.SignInAdmin(ctx, "ops@example.com", wrongPassword, ""); usher.ErrorCode(err) != usher.Unauthorized {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := h.svc.SignInAdmin(ctx, "ops@example.com", adminPassword, ""); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("right password while locked: got %v, want unauthorized", err)
	}
	other := usher.WithCaller(ctx, addr("192.0.2.9"))
	if _, err := h.svc.SignInAdmin(other, "ops@example.com", adminPassword, ""); err != nil {
		t.Fatalf("right password from another address: %v", err)
	}
	h.clock.Advance(16 * time.Minute)
	if _, err := h.svc.SignInAdmin(ctx, "ops@example.com", adminPassword, ""); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// Wrong passwords given to set up a second factor count against the
// admin as wrong sign-ins do: a session cannot be used to guess.
func TestAdminTOTPEnrolmentCountsFailures(t *testing.T) {
	h := newTestService(t) // lockout after 3 failures per address
	ctx := t.Context()
	a := setUpAdmin(t, h, "ops@example.com")
	for range 3 {
		if _, err := h.svc.EnrollAdminTOTP(ctx, a.ID, wrongPassword); usher.ErrorCode(err) != usher.Forbidden {
			t.Fatalf("wrong password: got %v, want forbidden", err)
		}
	}
	if _, err := h.svc.EnrollAdminTOTP(ctx, a.ID, adminPassword); usher.ErrorCode(err) != usher.Forbidden {
		t.Fatalf("right password while locked: got %v, want forbidden", err)
	}
	if _, err := h.svc.SignInAdmin(ctx, "ops@example.com", adminPassword, ""); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("sign-in while locked by enrolment guesses: got %v, want unauthorized", err)
	}
	h.clock.Advance(16 * time.Minute)
	if _, err := h.svc.EnrollAdminTOTP(ctx, a.ID, adminPassword); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestAdminTOTP(t *testing.T) {
	h := newTestService(t)
	ctx := t.Context()
	a := setUpAdmin(t, h, "ops@example.com")
	in, err := h.svc.SignInAdmin(ctx, "ops@example.com", adminPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.EnrollAdminTOTP(ctx, a.ID, wrongPassword); usher.ErrorCode(err) != usher.Forbidden {
		t.Fatalf("EnrollAdminTOTP with a wrong password: got %v, want forbidden", err)
	}
	if got, _ := h.svc.Admin(ctx, a.ID); got.TOTPSecret != "" {
		t.Fatalf("a refused enrolment stored a secret")
	}
	k, err := h.svc.EnrollAdminTOTP(ctx, a.ID, adminPassword)
	if err != nil {
		t.Fatalf("EnrollAdminTOTP: %v", err)
	}
	if err := h.svc.ConfirmAdminTOTP(ctx, a.ID, "000000"); usher.ErrorCode(err) != usher.InvalidCode {
		t.Fatalf("wrong first code: got %v, want invalid_code", err)
	}
	code := func() string {
		c, err := otptotp.GenerateCode(k.Secret, h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := h.svc.ConfirmAdminTOTP(ctx, a.ID, code()); err != nil {
		t.Fatalf("ConfirmAdminTOTP: %v", err)
	}
	if _, _, err := h.svc.AdminSession(ctx, in.Token); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("a password-only session after TOTP was turned on: got %v, want unauthorized", err)
	}
	h.clock.Advance(30 * time.Second)
	if _, err := h.svc.SignInAdmin(ctx, "ops@example.com", adminPassword, ""); usher.ErrorCode(err) != usher.MFARequired {
		t.Fatalf("no code: got %v, want mfa_required", err)
	}
	if _, err := h.svc.SignInAdmin(ctx, "ops@example.com", adminPassword, "123456"); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("wrong code: got %v, want unauthorized", err)
	}
	c := code()
	if _, err := h.svc.SignInAdmin(ctx, "ops@example.com", adminPassword, c); err != nil {
		t.Fatalf("with the code: %v", err)
	}
	if _, err := h.svc.SignInAdmin(ctx, "ops@example.com", adminPassword, c); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("the same code again: got %v, want unauthorized", err)
	}
}

func TestAdminResetDeleteAndFirst(t *testing.T) {
	h := newTestService(t)
	ctx := t.Context()
	if ok, err := h.svc.HasAdmins(ctx); err != nil || ok {
		t.Fatalf("HasAdmins on a fresh install: %v, %v", ok, err)
	}
	if _, err := h.svc.CreateFirstAdmin(ctx, "first@example.com", "short"); usher.ErrorCode(err) != usher.InvalidPassword {
		t.Fatalf("a short password: got %v, want invalid_password", err)
	}
	a, err := h.svc.CreateFirstAdmin(ctx, "first@example.com", adminPassword)
	if err != nil {
		t.Fatalf("CreateFirstAdmin: %v", err)
	}
	if _, err := h.svc.CreateFirstAdmin(ctx, "second@example.com", adminPassword); usher.ErrorCode(err) != usher.Conflict {
		t.Fatalf("a second first admin: got %v, want conflict", err)
	}
	in, err := h.svc.SignInAdmin(ctx, "first@example.com", adminPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	_, link, err := h.svc.ResetAdmin(ctx, "first@example.com")
	if err != nil {
		t.Fatalf("ResetAdmin: %v", err)
	}
	if _, _, err := h.svc.AdminSession(ctx, in.Token); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("a session after reset: got %v, want unauthorized", err)
	}
	if _, err := h.svc.SignInAdmin(ctx, "first@example.com", adminPassword, ""); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("the old password after reset: got %v, want unauthorized", err)
	}
	h.clock.Advance(25 * time.Hour)
	if _, err := h.svc.SetUpAdmin(ctx, link, adminPassword); usher.ErrorCode(err) != usher.InvalidCode {
		t.Fatalf("an expired setup link: got %v, want invalid_code", err)
	}
	if err := h.svc.DeleteAdmin(ctx, a.ID); err != nil {
		t.Fatalf("DeleteAdmin: %v", err)
	}
	if err := h.svc.DeleteAdmin(ctx, a.ID); usher.ErrorCode(err) != usher.NotFound {
		t.Fatalf("DeleteAdmin again: got %v, want not_found", err)
	}
	if as, err := h.svc.Admins(ctx); err != nil || len(as) != 0 {
		t.Fatalf("Admins after delete: %v, %v", as, err)
	}
}

func TestSetConfirmed(t *testing.T) {
	h := newTestService(t)
	ctx := usher.WithActor(t.Context(), "admin:test")
	u := h.createUser(t, "a@example.com", oldPassword)
	if err := h.svc.SetConfirmed(ctx, tenant, u.ID, true); err != nil {
		t.Fatalf("SetConfirmed: %v", err)
	}
	if !h.user(t, u.ID).Confirmed {
		t.Fatal("not confirmed")
	}
	if err := h.svc.SetConfirmed(ctx, tenant, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if h.user(t, u.ID).Confirmed {
		t.Fatal("still confirmed")
	}
	if err := h.svc.SetConfirmed(ctx, tenant, "nope", true); usher.ErrorCode(err) != usher.NotFound {
		t.Fatalf("unknown id: got %v, want not_found", err)
	}
	evs, err := h.svc.Events(context.Background(), tenant, account.EventQuery{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs.Events {
		if e.Actor == "admin:test" {
			got = append(got, e.Type)
		}
	}
	if len(got) != 2 || got[0] != account.AuditUserConfirmed || got[1] != account.AuditUserUnconfirmed {
		t.Fatalf("events by admin:test: %v", got)
	}
}

// addr is a caller known by its client address.
type addr string

func (a addr) ClientAddr() string { return string(a) }

// Concurrent first-admin creations (the install link posted twice at once,
// with different addresses) make one admin: the "none exists yet" check
// and the insert must not interleave, on either engine.
func TestCreateFirstAdminOnceUnderRace(t *testing.T) {
	h := newTestService(t)
	const n = 24
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			_, err := h.svc.CreateFirstAdmin(context.Background(), "ops"+string(rune('a'+i))+"@example.com", adminPassword)
			errs <- err
		}()
	}
	close(start)
	ok := 0
	for range n {
		switch err := <-errs; usher.ErrorCode(err) {
		case "":
			ok++
		case usher.Conflict:
		default:
			t.Errorf("CreateFirstAdmin: %v, want success or conflict", err)
		}
	}
	as, err := h.svc.Admins(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ok != 1 || len(as) != 1 {
		t.Fatalf("%d creations succeeded, %d admins exist; want 1 and 1", ok, len(as))
	}
}

// At the shortest idle limit (admin-session-idle 1m) a session in use
// lives on: each use moves its idle expiry, though last-seen is written
// at most once a minute otherwise.
func TestAdminSessionShortIdle(t *testing.T) {
	h := newTestService(t, func(c *account.Config) {
		c.Admin = account.AdminRules{Idle: time.Minute, MaxAge: time.Hour}
	})
	ctx := t.Context()
	setUpAdmin(t, h, "ops@example.com")
	in, err := h.svc.SignInAdmin(ctx, "ops@example.com", adminPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		h.clock.Advance(40 * time.Second)
		if _, _, err := h.svc.AdminSession(ctx, in.Token); err != nil {
			t.Fatalf("used every 40 s, use %d: %v", i+1, err)
		}
	}
	h.clock.Advance(time.Minute)
	if _, _, err := h.svc.AdminSession(ctx, in.Token); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("idle for a minute: got %v, want unauthorized", err)
	}
}
