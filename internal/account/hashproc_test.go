package account_test

import (
	"errors"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/usher"
)

// A hashing process that cannot run (here a command that exits at once;
// in production, no memory or no process slot left) makes every call that
// hashes answer Unavailable, a 503 the client may retry, and write
// nothing.
func TestHashingProcessDownIsUnavailable(t *testing.T) {
	e := accounttest.New(t, hashingDown(t))
	ctx := t.Context()
	want := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, password.ErrOffload) || usher.ErrorCode(err) != usher.Unavailable {
			t.Errorf("%s: got %v (code %q), want an Unavailable error caused by password.ErrOffload", what, err, usher.ErrorCode(err))
		}
	}
	_, err := e.Service.Create(ctx, e.Tenant.ID, account.NewUser{Email: "ann@example.com", Password: oldPassword, Enabled: true})
	want("Create", err)
	_, err = e.Service.Register(ctx, e.Tenant.ID, "bob@example.com", oldPassword)
	want("Register", err)
	_, err = e.Service.Login(ctx, e.Tenant.ID, "nobody@example.com", oldPassword)
	want("Login of an unknown email", err)
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		if _, err := e.Service.UserByEmail(ctx, e.Tenant.ID, email); usher.ErrorCode(err) != usher.NotFound {
			t.Errorf("UserByEmail(%s) after the failed call: got %v, want not found", email, err)
		}
	}
}

// A sign-in to an existing account while the hashing process is down: 503
// unavailable, the account's hash unchanged and no session; with the
// lockout on, the attempt's reservation stays counted, as one refused for
// capacity does (the README says so).
func TestHashingProcessDownSignIn(t *testing.T) {
	e := accounttest.New(t, hashingDown(t))
	ctx := t.Context()
	hash, err := password.NewHasher(accounttest.CheapHash, password.NewPool(1, 1, time.Second)).Hash(ctx, oldPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.Import(ctx, e.Tenant.ID, []account.ImportUser{{Line: 1, Email: "ann@example.com", Hash: hash, Enabled: true}}, account.ConflictFail); err != nil {
		t.Fatalf("Import: %v", err)
	}
	before, err := e.Service.UserByEmail(ctx, e.Tenant.ID, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.Service.Login(ctx, e.Tenant.ID, "ann@example.com", oldPassword)
	if tok != "" || !errors.Is(err, password.ErrOffload) || usher.ErrorCode(err) != usher.Unavailable {
		t.Fatalf("Login: got token %t, error %v; want no token and an Unavailable error caused by password.ErrOffload", tok != "", err)
	}
	after, err := e.Service.UserByEmail(ctx, e.Tenant.ID, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if after.Hash != before.Hash || after.FailedChecks != before.FailedChecks+1 {
		t.Errorf("after the failed sign-in: hash changed %t, failed checks %d → %d; want the same hash and one more failure counted",
			after.Hash != before.Hash, before.FailedChecks, after.FailedChecks)
	}
}

// hashingDown is an option for accounttest.New: a Hasher whose hashing
// process cannot run (a command that exits at once).
func hashingDown(t *testing.T) func(*account.Config) {
	off := password.NewOffload([]string{"/bin/false"}, nil)
	t.Cleanup(func() { _ = off.Close() })
	return func(c *account.Config) {
		c.Hasher = password.NewHasher(accounttest.CheapHash, password.NewPool(2, 64, 10*time.Second)).OffloadTo(off)
	}
}
