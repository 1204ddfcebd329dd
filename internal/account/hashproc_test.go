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
	off := password.NewOffload([]string{"/bin/false"}, nil)
	t.Cleanup(func() { _ = off.Close() })
	e := accounttest.New(t, func(c *account.Config) {
		c.Hasher = password.NewHasher(accounttest.CheapHash, password.NewPool(2, 64, 10*time.Second)).OffloadTo(off)
	})
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
