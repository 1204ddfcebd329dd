package account_test

import (
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/usher"
)

// codeAt is the authenticator app's code for secret at t (the app is the
// library's own code generator, not Usher's check).
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// withTOTP creates ann with a confirmed second factor and returns her,
// her secret and her recovery codes.
func withTOTP(t *testing.T, e *accounttest.Env) (usher.User, string, []string) {
	t.Helper()
	u, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "ann@example.com", Password: "first-Secret-8451", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.Service.EnrollTOTP(t.Context(), e.Tenant.ID, u.ID)
	if err != nil {
		t.Fatalf("EnrollTOTP: %v", err)
	}
	if k.Secret == "" || len(k.PNG) < 100 || k.URI == "" {
		t.Fatalf("EnrollTOTP: key %+v; want a secret, a URI and a QR code", k.URI)
	}
	if _, err := e.Service.ConfirmTOTP(t.Context(), e.Tenant.ID, u.ID, "", "000000"); usher.ErrorCode(err) != usher.InvalidCode {
		t.Fatalf("ConfirmTOTP with a wrong code: %v; want invalid_code", err)
	}
	codes, err := e.Service.ConfirmTOTP(t.Context(), e.Tenant.ID, u.ID, "", codeAt(t, k.Secret, e.Clock.Now()))
	if err != nil || len(codes) != 10 {
		t.Fatalf("ConfirmTOTP: %v, %d codes; want 10", err, len(codes))
	}
	e.Clock.Advance(30 * time.Second) // the confirming code is spent
	return u, k.Secret, codes
}

func TestTOTPSignIn(t *testing.T) {
	e := accounttest.New(t)
	u, secret, codes := withTOTP(t, e)
	ctx := apitest.Ctx(t)

	if on, err := e.Service.HasTOTP(t.Context(), e.Tenant.ID, u.ID); err != nil || !on {
		t.Errorf("HasTOTP: %v, %v; want on", on, err)
	}
	// StaticBackend's /login fails safely.
	if _, err := e.Service.Login(ctx, e.Tenant.ID, "ann@example.com", "first-Secret-8451"); usher.ErrorCode(err) != usher.MFARequired {
		t.Errorf("Login of a user with a second factor: %v; want mfa_required", err)
	}
	pair, err := e.Service.PasswordGrant(ctx, e.Tenant.ID, "ann@example.com", "first-Secret-8451")
	if usher.ErrorCode(err) != usher.MFARequired || pair.MFAToken == "" || pair.Access != "" {
		t.Fatalf("PasswordGrant: %+v, %v; want mfa_required with an mfa token and no tokens", pair, err)
	}
	code := codeAt(t, secret, e.Clock.Now())
	got, err := e.Service.MFAGrant(ctx, e.Tenant.ID, pair.MFAToken, code)
	if err != nil || got.Access == "" || got.Refresh == "" {
		t.Fatalf("MFAGrant: %+v, %v; want a pair", got, err)
	}
	if _, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, got.Access); err != nil {
		t.Errorf("the access token of the second step: %v", err)
	}
	// The mfa token is spent; the code is spent (no replay in its window).
	if _, err := e.Service.MFAGrant(ctx, e.Tenant.ID, pair.MFAToken, code); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("the same mfa token again: %v; want unauthorized", err)
	}
	pair, _ = e.Service.PasswordGrant(ctx, e.Tenant.ID, "ann@example.com", "first-Secret-8451")
	if _, err := e.Service.MFAGrant(ctx, e.Tenant.ID, pair.MFAToken, code); usher.ErrorCode(err) != usher.InvalidCode {
		t.Errorf("a code used already (replay): %v; want invalid_code", err)
	}
	// A recovery code works once.
	if _, err := e.Service.MFAGrant(ctx, e.Tenant.ID, pair.MFAToken, codes[0]); err != nil {
		t.Errorf("MFAGrant with a recovery code: %v", err)
	}
	pair, _ = e.Service.PasswordGrant(ctx, e.Tenant.ID, "ann@example.com", "first-Secret-8451")
	if _, err := e.Service.MFAGrant(ctx, e.Tenant.ID, pair.MFAToken, codes[0]); usher.ErrorCode(err) != usher.InvalidCode {
		t.Errorf("a recovery code used already: %v; want invalid_code", err)
	}
	// Wrong codes count toward the account's lockout.
	before, _ := e.Service.User(t.Context(), e.Tenant.ID, u.ID)
	if _, err := e.Service.MFAGrant(ctx, e.Tenant.ID, pair.MFAToken, "999999"); usher.ErrorCode(err) != usher.InvalidCode {
		t.Errorf("a wrong code: %v; want invalid_code", err)
	}
	after, _ := e.Service.User(t.Context(), e.Tenant.ID, u.ID)
	if after.FailedChecks <= before.FailedChecks {
		t.Errorf("failures after a wrong code: %d, before %d; want more", after.FailedChecks, before.FailedChecks)
	}
}

func TestTOTPDisableAndRecoveryCodes(t *testing.T) {
	e := accounttest.New(t)
	u, secret, codes := withTOTP(t, e)
	if _, err := e.Service.EnrollTOTP(t.Context(), e.Tenant.ID, u.ID); usher.ErrorCode(err) != usher.Conflict {
		t.Errorf("enrolling again while on: %v; want conflict", err)
	}
	fresh, err := e.Service.RegenerateRecoveryCodes(t.Context(), e.Tenant.ID, u.ID, codeAt(t, secret, e.Clock.Now()))
	if err != nil || len(fresh) != 10 || slices.Contains(fresh, codes[1]) {
		t.Fatalf("RegenerateRecoveryCodes: %v, %d; want 10 new codes", err, len(fresh))
	}
	if err := e.Service.DisableTOTP(t.Context(), e.Tenant.ID, u.ID, codes[1]); usher.ErrorCode(err) != usher.InvalidCode {
		t.Errorf("an old recovery code after regeneration: %v; want invalid_code", err)
	}
	if err := e.Service.DisableTOTP(t.Context(), e.Tenant.ID, u.ID, fresh[0]); err != nil {
		t.Fatalf("DisableTOTP with a recovery code: %v", err)
	}
	if _, err := e.Service.Login(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", "first-Secret-8451"); err != nil {
		t.Errorf("Login after the second factor is off: %v", err)
	}
	// The backend removes a second factor for a user who lost it.
	withTOTPAgain := func() {
		k, err := e.Service.EnrollTOTP(t.Context(), e.Tenant.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Service.ConfirmTOTP(t.Context(), e.Tenant.ID, u.ID, "", codeAt(t, k.Secret, e.Clock.Now())); err != nil {
			t.Fatal(err)
		}
	}
	withTOTPAgain()
	if err := e.Service.RemoveTOTP(t.Context(), e.Tenant.ID, u.ID); err != nil {
		t.Fatalf("RemoveTOTP: %v", err)
	}
	if on, _ := e.Service.HasTOTP(t.Context(), e.Tenant.ID, u.ID); on {
		t.Error("HasTOTP after RemoveTOTP: on")
	}
}
