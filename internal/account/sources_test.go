package account_test

import (
	"context"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// from is a caller at a client address.
type from string

func (f from) ClientAddr() string { return string(f) }

// at returns a context of a request from addr.
func at(t *testing.T, addr string) context.Context {
	return usher.WithCaller(t.Context(), from(addr))
}

// Issue 19, finding 4: whoever knows an address must not be able to lock
// its owner out of login and of recovery.

func TestLockoutIsPerAddress(t *testing.T) {
	h := newTestService(t, func(c *account.Config) { c.Lockout = account.Lockout{Max: 3, AccountMax: 8, Window: window} })
	u := h.createUser(t, "owner@example.com", oldPassword)
	attacker, owner := at(t, "203.0.113.7"), at(t, "198.51.100.1")
	for range 5 {
		if _, err := h.svc.Login(attacker, tenant, u.Email, wrongPassword); usher.ErrorCode(err) != usher.Unauthorized {
			t.Fatalf("attacker's guess: got %v, want Unauthorized", err)
		}
	}
	if _, err := h.svc.Login(attacker, tenant, u.Email, oldPassword); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("the right password from the locked address: got %v, want Unauthorized", err)
	}
	if _, err := h.svc.Login(owner, tenant, u.Email, oldPassword); err != nil {
		t.Errorf("the owner, from another address: got %v, want a session", err)
	}

	// Guessing from many addresses is bounded by the account-wide count:
	// 8 failures in all lock the account for everyone.
	for i := range 4 {
		for range 2 {
			h.svc.Login(at(t, "192.0.2."+string(rune('1'+i))), tenant, u.Email, wrongPassword)
		}
	}
	if _, err := h.svc.Login(owner, tenant, u.Email, oldPassword); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("the owner after %d failures from four addresses: got %v, want Unauthorized (account-wide lock)", 8, err)
	}
	h.clock.Advance(window)
	if _, err := h.svc.Login(owner, tenant, u.Email, oldPassword); err != nil {
		t.Errorf("the owner once the window has passed: got %v, want a session", err)
	}
}

func TestResetRequestsArePerAddress(t *testing.T) {
	h := newTestService(t, func(c *account.Config) { c.Reset.PerHour, c.Reset.PerHourAll = 2, 5 })
	h.createUser(t, "owner@example.com", oldPassword)
	attacker, owner := at(t, "203.0.113.7"), at(t, "198.51.100.1")
	for i := range 3 {
		err := h.svc.SendReset(attacker, tenant, "owner@example.com")
		if want := map[bool]usher.Code{true: "", false: usher.RateLimited}[i < 2]; usher.ErrorCode(err) != want {
			t.Fatalf("attacker's request %d: got %v, want %q", i+1, err, want)
		}
	}
	if err := h.svc.SendReset(owner, tenant, "owner@example.com"); err != nil {
		t.Errorf("the owner's request after the attacker's: got %v, want nil", err)
	}
	// All addresses together are limited too (5 an hour here).
	h.svc.SendReset(at(t, "192.0.2.1"), tenant, "owner@example.com")
	h.svc.SendReset(at(t, "192.0.2.2"), tenant, "owner@example.com")
	if err := h.svc.SendReset(owner, tenant, "owner@example.com"); usher.ErrorCode(err) != usher.RateLimited {
		t.Errorf("a request past the all-addresses limit: got %v, want RateLimited", err)
	}
}

func TestResetCodeTriesArePerAddress(t *testing.T) {
	h := newTestService(t)
	h.createUser(t, "owner@example.com", oldPassword)
	code := h.sendReset(t, "owner@example.com")
	attacker := at(t, "203.0.113.7")
	for range 7 {
		err := h.svc.ResetPassword(attacker, tenant, "owner@example.com", "AAAAAAAAAA", newPassword)
		wantCode(t, "attacker's wrong code", err, usher.InvalidCode)
	}
	if err := h.svc.ResetPassword(attacker, tenant, "owner@example.com", code, newPassword); usher.ErrorCode(err) != usher.InvalidCode {
		t.Errorf("the right code from the address that used up its tries: got %v, want InvalidCode", err)
	}
	if err := h.svc.ResetPassword(at(t, "198.51.100.1"), tenant, "owner@example.com", code, newPassword); err != nil {
		t.Errorf("the owner's code, from another address: got %v, want nil", err)
	}
}

func TestResetCodeDiesAfterTenTimesTheTriesInAll(t *testing.T) {
	h := newTestService(t) // MaxTries 5: the code dies after 50 wrong tries
	h.createUser(t, "owner@example.com", oldPassword)
	code := h.sendReset(t, "owner@example.com")
	for i := range 50 {
		addr := at(t, "192.0.2."+string(rune('a'+i/5)))
		wantCode(t, "a wrong code", h.svc.ResetPassword(addr, tenant, "owner@example.com", "AAAAAAAAAA", newPassword), usher.InvalidCode)
	}
	err := h.svc.ResetPassword(at(t, "198.51.100.1"), tenant, "owner@example.com", code, newPassword)
	wantCode(t, "the right code after 50 wrong tries in all", err, usher.InvalidCode)
}
