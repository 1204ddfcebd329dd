package account_test

import (
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/usher"
)

// TestTOTPGuessingLocksOut: a right password does not wipe out what wrong
// codes counted, so password + wrong codes, again and again, ends in the
// account's lockout.
func TestTOTPGuessingLocksOut(t *testing.T) {
	e := accounttest.New(t, func(c *account.Config) { c.Lockout.Max, c.Lockout.AccountMax = 5, 20 })
	withTOTP(t, e)
	ctx := apitest.Ctx(t)
	locked := false
	for round := 0; round < 10 && !locked; round++ {
		pair, err := e.Service.PasswordGrant(ctx, e.Tenant.ID, "ann@example.com", "first-Secret-8451")
		if usher.ErrorCode(err) != usher.MFARequired {
			locked = true // the password step itself is refused now
			break
		}
		for range 5 {
			if _, err := e.Service.MFAGrant(ctx, e.Tenant.ID, pair.MFAToken, "000001"); usher.ErrorCode(err) == usher.Unauthorized {
				locked = true
				break
			}
		}
	}
	if !locked {
		t.Fatal("50 wrong codes between right passwords never locked the account")
	}
	// The owner's right code does not get through a lockout either.
	pair, err := e.Service.PasswordGrant(ctx, e.Tenant.ID, "ann@example.com", "first-Secret-8451")
	if err == nil || pair.Access != "" {
		t.Errorf("a sign-in of a locked account: %+v, %v; want refused", pair, err)
	}
}

// TestTOTPEndsOtherSessions: sessions opened with a password alone do not
// outlive the second factor's confirmation; the confirming one stays.
func TestTOTPEndsOtherSessions(t *testing.T) {
	e := accounttest.New(t)
	u, tokens, sessions := signedIn(t, e)
	old, err := e.Service.PasswordGrant(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", "first-Secret-8451")
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.Service.EnrollTOTP(t.Context(), e.Tenant.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.ConfirmTOTP(t.Context(), e.Tenant.ID, u.ID, sessions[0], codeAt(t, k.Secret, e.Clock.Now())); err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	if _, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tokens[0]); err != nil {
		t.Errorf("the confirming session: %v; want it kept", err)
	}
	if _, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tokens[1]); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("another session: %v; want it ended", err)
	}
	if _, err := e.Service.RefreshGrant(t.Context(), e.Tenant.ID, old.Refresh); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("a refresh token from before the second factor: %v; want refused", err)
	}
}

// TestRefreshGraceDoesNotWalkForward: within the grace, a used token gives
// its successor only while the successor is unused.
func TestRefreshGraceDoesNotWalkForward(t *testing.T) {
	e := accounttest.New(t)
	if _, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "ann@example.com", Password: "first-Secret-8451", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	p0, err := e.Service.PasswordGrant(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", "first-Secret-8451")
	if err != nil {
		t.Fatal(err)
	}
	p1, err := e.Service.RefreshGrant(t.Context(), e.Tenant.ID, p0.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.RefreshGrant(t.Context(), e.Tenant.ID, p1.Refresh); err != nil {
		t.Fatal(err)
	}
	// p0's successor (p1's token) is used: p0 again is reuse, in the grace or not.
	if _, err := e.Service.RefreshGrant(t.Context(), e.Tenant.ID, p0.Refresh); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("a used token whose successor is used too: %v; want refused", err)
	}
}
