package account_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/password"
)

// staleParams are argon2id parameters other than the Service's: a hash made
// with them verifies, and asks to be rehashed.
var staleParams = password.Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// paramsOf returns the "m=..,t=..,p=.." part of an argon2id PHC string.
func paramsOf(t *testing.T, hash string) string {
	t.Helper()
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		t.Fatalf("stored hash %q is not an argon2id PHC string", hash)
	}
	return parts[3]
}

var (
	currentPHC = fmt.Sprintf("m=%d,t=%d,p=%d", cheapParams.Memory, cheapParams.Time, cheapParams.Threads)
	stalePHC   = fmt.Sprintf("m=%d,t=%d,p=%d", staleParams.Memory, staleParams.Time, staleParams.Threads)
)

// staleHash hashes pw with staleParams.
func staleHash(t *testing.T, pw string) string {
	t.Helper()
	hasher := password.NewHasher(staleParams, password.NewPool(1, 1, 10*time.Second))
	hash, err := hasher.Hash(t.Context(), pw)
	if err != nil {
		t.Fatalf("hashing with the stale params: %v", err)
	}
	if got := paramsOf(t, hash); got != stalePHC {
		t.Fatalf("stale hash params: got %s, want %s", got, stalePHC)
	}
	return hash
}

func TestCheckPasswordRehash(t *testing.T) {
	tests := []struct {
		name       string
		stale      bool // the stored hash has stale params
		disabled   bool
		pw         string
		wantOK     bool
		wantRehash bool // the stored hash is replaced
		wantParams string
	}{
		{name: "stale hash, right password: rehashed", stale: true, pw: oldPassword, wantOK: true, wantRehash: true, wantParams: currentPHC},
		{name: "stale hash, wrong password: kept", stale: true, pw: wrongPassword, wantParams: stalePHC},
		{name: "stale hash, disabled user: kept", stale: true, disabled: true, pw: oldPassword, wantParams: stalePHC},
		{name: "current hash, right password: kept", pw: oldPassword, wantOK: true, wantParams: currentPHC},
	}
	for _, tt := range tests {
		// Lockout off, a right password has no failure count to clear:
		// the upgrade alone must still write the user.
		for _, lockout := range []int{3, 0} {
			t.Run(fmt.Sprintf("%s, lockout %d", tt.name, lockout), func(t *testing.T) {
				h := newTestService(t, func(c *account.Config) { c.Lockout.Max = lockout })
				u := h.createUser(t, "rehash@example.com", oldPassword)
				if tt.stale {
					h.setStoredHash(t, u.ID, staleHash(t, oldPassword))
				}
				if tt.disabled {
					if err := h.svc.SetEnabled(t.Context(), tenant, u.ID, false); err != nil {
						t.Fatalf("SetEnabled(false): %v", err)
					}
				}
				before := h.user(t, u.ID).Hash

				if got := h.check(t, u.ID, tt.pw); got != tt.wantOK {
					t.Errorf("CheckPassword: got %v, want %v", got, tt.wantOK)
				}
				after := h.user(t, u.ID).Hash
				if got := after != before; got != tt.wantRehash {
					t.Errorf("stored hash replaced: got %v, want %v", got, tt.wantRehash)
				}
				if got := paramsOf(t, after); got != tt.wantParams {
					t.Errorf("stored hash params: got %s, want %s", got, tt.wantParams)
				}
				if tt.wantOK && !h.check(t, u.ID, oldPassword) {
					t.Errorf("the password after the check: got false, want true")
				}
				if tt.wantRehash && h.user(t, u.ID).Hash != after {
					t.Errorf("a check on the rehashed password rehashed it again")
				}
			})
		}
	}
}

// TestRehashRaceKeepsNewPassword runs a rehashing check of the old
// password alongside a password change, many times: whichever finishes
// first, the rehash must never write the old password back over the new.
func TestRehashRaceKeepsNewPassword(t *testing.T) {
	const rounds = 20
	h := newTestService(t)
	ctx := t.Context()
	stale := staleHash(t, oldPassword)
	oldWon := 0 // rounds where the check was decided before the change
	for i := range rounds {
		u := h.createUser(t, fmt.Sprintf("race%d@example.com", i), oldPassword)
		h.setStoredHash(t, u.ID, stale)

		start := make(chan struct{})
		var wg sync.WaitGroup
		var setErr, checkErr error
		var checked bool
		wg.Go(func() {
			<-start
			setErr = h.svc.SetPassword(ctx, tenant, u.ID, newPassword)
		})
		wg.Go(func() {
			<-start
			checked, checkErr = h.svc.CheckPassword(ctx, tenant, u.ID, oldPassword)
		})
		close(start)
		wg.Wait()
		if setErr != nil {
			t.Fatalf("round %d: SetPassword: %v", i, setErr)
		}
		if checkErr != nil {
			t.Fatalf("round %d: CheckPassword: %v", i, checkErr)
		}

		if checked {
			oldWon++
		}
		if !h.check(t, u.ID, newPassword) {
			t.Errorf("round %d: new password after the race: got false, want true", i)
		}
		if h.check(t, u.ID, oldPassword) {
			t.Errorf("round %d: old password after the race: got true, want false", i)
		}
		if got := paramsOf(t, h.user(t, u.ID).Hash); got != currentPHC {
			t.Errorf("round %d: stored hash params: got %s, want %s", i, got, currentPHC)
		}
	}
	t.Logf("the check of the old password passed (decided before the change) in %d of %d rounds", oldWon, rounds)
}

// TestRehashAfterPasswordChangeKeepsNewPassword is the race above made
// certain: the password changes after CheckPassword has read the stale
// hash (or reserved its attempt) and before its last transaction. The
// check is decided on the user as locked then: the old password was
// verified against a hash the user no longer has, so it fails, is not left
// counted as a wrong guess, and no rehash of it is written over the new
// password.
func TestRehashAfterPasswordChangeKeepsNewPassword(t *testing.T) {
	for _, p := range pausePoints {
		t.Run(p.name, func(t *testing.T) {
			h, ps := newPausingService(t)
			ctx := t.Context()
			u := h.createUser(t, "paused@example.com", oldPassword)
			h.setStoredHash(t, u.ID, staleHash(t, oldPassword))

			p.pause(ps, func() {
				if err := h.svc.SetPassword(ctx, tenant, u.ID, newPassword); err != nil {
					t.Errorf("SetPassword during the check: %v", err)
				}
			})
			if h.check(t, u.ID, oldPassword) {
				t.Errorf("CheckPassword of the password changed meanwhile: got true, want false")
			}
			if got := h.user(t, u.ID).FailedChecks; got > 1 {
				t.Errorf("failures after the check of a changed password: got %d, want at most the attempt itself", got)
			}
			if !h.check(t, u.ID, newPassword) {
				t.Errorf("new password after the rehashing check: got false, want true")
			}
			if h.check(t, u.ID, oldPassword) {
				t.Errorf("old password after the rehashing check: got true, want false")
			}
			if got := paramsOf(t, h.user(t, u.ID).Hash); got != currentPHC {
				t.Errorf("stored hash params: got %s, want %s", got, currentPHC)
			}
		})
	}
}
