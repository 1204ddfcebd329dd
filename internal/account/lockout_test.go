package account_test

import (
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// window is the lockout window of the test config (Max is 3).
const window = 15 * time.Minute

// attempt is one password check in a lockout scenario.
type attempt struct {
	advance      time.Duration // clock moves this much before the check
	right        bool          // the right password, or a wrong one
	want         bool          // what CheckPassword returns
	wantFailures int           // the user's failure count after the check
}

// wrongCounts is a wrong password, refused, that makes the count n.
func wrongCounts(n int) attempt { return attempt{right: false, want: false, wantFailures: n} }

// rightWorks is the right password, accepted, which clears the count.
var rightWorks = attempt{right: true, want: true, wantFailures: 0}

// TestLockout: each attempt is counted before its password is verified; a
// locked account refuses attempts unverified and uncounted, so the count of
// a locked account stays at Max and its window is not extended.
func TestLockout(t *testing.T) {
	tests := []struct {
		name     string
		attempts []attempt
	}{
		{
			name:     "max failures lock: the right password is refused, uncounted",
			attempts: []attempt{wrongCounts(1), wrongCounts(2), wrongCounts(3), {right: true, want: false, wantFailures: 3}},
		},
		{
			name: "lock holds until a window after the first failure",
			attempts: []attempt{wrongCounts(1), wrongCounts(2), wrongCounts(3),
				{advance: window - time.Millisecond, right: true, want: false, wantFailures: 3}},
		},
		{
			name: "lock lifts once the window has passed and the success clears the count",
			attempts: []attempt{wrongCounts(1), wrongCounts(2), wrongCounts(3),
				{advance: window, right: true, want: true, wantFailures: 0},
				wrongCounts(1), wrongCounts(2), rightWorks},
		},
		{
			name: "checks refused by the lock do not extend it",
			attempts: []attempt{wrongCounts(1), wrongCounts(2), wrongCounts(3),
				{advance: 10 * time.Minute, right: true, want: false, wantFailures: 3},
				{advance: 4 * time.Minute, right: false, want: false, wantFailures: 3},
				{advance: time.Minute, right: true, want: true, wantFailures: 0}},
		},
		{
			name: "failures spread inside one window lock",
			attempts: []attempt{wrongCounts(1),
				{advance: 7 * time.Minute, want: false, wantFailures: 2},
				{advance: 7 * time.Minute, want: false, wantFailures: 3},
				{advance: time.Minute - time.Millisecond, right: true, want: false, wantFailures: 3}},
		},
		{
			name: "a success before the limit clears the count",
			attempts: []attempt{wrongCounts(1), wrongCounts(2), rightWorks,
				wrongCounts(1), wrongCounts(2), rightWorks},
		},
		{
			name: "failures spaced wider than the window never lock",
			attempts: []attempt{wrongCounts(1),
				{advance: window + time.Millisecond, want: false, wantFailures: 1},
				{advance: window + time.Millisecond, want: false, wantFailures: 1},
				{advance: window + time.Millisecond, want: false, wantFailures: 1},
				{advance: window + time.Millisecond, want: false, wantFailures: 1},
				rightWorks},
		},
		{
			name: "failures of an expired window do not carry over",
			attempts: []attempt{wrongCounts(1), wrongCounts(2),
				{advance: window + time.Millisecond, want: false, wantFailures: 1},
				wrongCounts(2), rightWorks},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			u := h.createUser(t, "lock@example.com", oldPassword)
			for i, a := range tt.attempts {
				h.clock.Advance(a.advance)
				pw := wrongPassword
				if a.right {
					pw = oldPassword
				}
				if got := h.check(t, u.ID, pw); got != a.want {
					t.Errorf("check %d (right password: %v): got %v, want %v", i+1, a.right, got, a.want)
				}
				if got := h.user(t, u.ID).FailedChecks; got != a.wantFailures {
					t.Errorf("after check %d: got %d failures, want %d", i+1, got, a.wantFailures)
				}
			}
		})
	}
}

func TestLockoutOff(t *testing.T) {
	h := newTestService(t, func(c *account.Config) { c.Lockout.Max = 0 })
	u := h.createUser(t, "nolock@example.com", oldPassword)
	for i := range 10 {
		if h.check(t, u.ID, wrongPassword) {
			t.Fatalf("wrong password %d: got true, want false", i+1)
		}
	}
	if !h.check(t, u.ID, oldPassword) {
		t.Errorf("right password after 10 failures with Lockout.Max 0: got false, want true")
	}
}

func TestLoginLockout(t *testing.T) {
	h := newTestService(t)
	const email = "login-lock@example.com"
	h.createUser(t, email, oldPassword)
	ctx := t.Context()

	for range 3 {
		_, err := h.svc.Login(ctx, tenant, email, wrongPassword)
		wantCode(t, "wrong password login", err, usher.Unauthorized)
	}
	_, err := h.svc.Login(ctx, tenant, email, oldPassword)
	wantCode(t, "right password on a locked account", err, usher.Unauthorized)

	h.clock.Advance(window)
	tok := h.login(t, email, oldPassword)
	if _, _, err := h.svc.Authenticate(ctx, tenant, tok); err != nil {
		t.Errorf("Authenticate the token of a login after the lock: %v", err)
	}
}

// TestLockoutDisabledUser pins down the rule of record(): a disabled user's
// right password is refused but recorded as a success (so it clears the
// count), while a wrong one counts like any failure.
func TestLockoutDisabledUser(t *testing.T) {
	tests := []struct {
		name         string
		before       int  // wrong checks before the user is disabled
		right        bool // the password checked while disabled
		wantFailures int
	}{
		{name: "wrong password counts", before: 1, right: false, wantFailures: 2},
		{name: "right password does not count", before: 0, right: true, wantFailures: 0},
		{name: "right password clears earlier failures", before: 2, right: true, wantFailures: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			u := h.createUser(t, "disabled@example.com", oldPassword)
			for range tt.before {
				h.check(t, u.ID, wrongPassword)
			}
			if err := h.svc.SetEnabled(t.Context(), tenant, u.ID, false); err != nil {
				t.Fatalf("SetEnabled(false): %v", err)
			}
			pw := wrongPassword
			if tt.right {
				pw = oldPassword
			}
			if h.check(t, u.ID, pw) {
				t.Errorf("check on a disabled user: got true, want false")
			}
			if got := h.user(t, u.ID).FailedChecks; got != tt.wantFailures {
				t.Errorf("failures: got %d, want %d", got, tt.wantFailures)
			}
		})
	}
}

// TestLockoutDisabledRightPasswordNeverLocks: Max right-password checks on
// a disabled user do not lock it once it is enabled again.
func TestLockoutDisabledRightPasswordNeverLocks(t *testing.T) {
	h := newTestService(t)
	ctx := t.Context()
	u := h.createUser(t, "disabled2@example.com", oldPassword)
	if err := h.svc.SetEnabled(ctx, tenant, u.ID, false); err != nil {
		t.Fatalf("SetEnabled(false): %v", err)
	}
	for i := range 5 {
		if h.check(t, u.ID, oldPassword) {
			t.Fatalf("check %d on a disabled user: got true, want false", i+1)
		}
	}
	if err := h.svc.SetEnabled(ctx, tenant, u.ID, true); err != nil {
		t.Fatalf("SetEnabled(true): %v", err)
	}
	if !h.check(t, u.ID, oldPassword) {
		t.Errorf("right password once enabled again: got false, want true")
	}
}

func TestReadUserLockout(t *testing.T) {
	h := newTestService(t)
	u := h.createUser(t, byEmail, oldPassword)
	for i := 1; i <= 3; i++ {
		_, err := h.svc.ReadUser(t.Context(), tenant, checked(wrongPassword))
		wantCode(t, "wrong password", err, usher.Unauthorized)
		if got := h.user(t, u.ID).FailedChecks; got != i {
			t.Errorf("after wrong password %d: got %d failures, want %d", i, got, i)
		}
	}
	_, err := h.svc.ReadUser(t.Context(), tenant, checked(oldPassword))
	wantCode(t, "right password on the locked user", err, usher.Unauthorized)

	h.clock.Advance(window)
	if _, err := h.svc.ReadUser(t.Context(), tenant, checked(oldPassword)); err != nil {
		t.Errorf("right password once the window has passed: got %v, want nil", err)
	}
	if got := h.user(t, u.ID).FailedChecks; got != 0 {
		t.Errorf("failures after the success: got %d, want 0", got)
	}
}

func TestLoginUnknownEmail(t *testing.T) {
	h := newTestService(t)
	h.createUser(t, "known@example.com", oldPassword)
	tests := []struct {
		name, email, pw string
	}{
		{name: "unknown email", email: "nobody@example.com", pw: oldPassword},
		{name: "malformed email", email: "not an email", pw: oldPassword},
		{name: "known email, wrong password", email: "known@example.com", pw: wrongPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := h.svc.Login(t.Context(), tenant, tt.email, tt.pw)
			wantCode(t, "Login", err, usher.Unauthorized)
			if tok != "" {
				t.Errorf("Login: got token %q, want none", tok)
			}
		})
	}
}

// TestLoginChangedMeanwhile: Login decides on the user as locked in its
// last transaction. A user deleted, an address moved away or a password
// changed after Login read the user (or reserved the attempt) fails the
// login with Unauthorized and starts no session; the refused attempt
// counts as at most one failure.
func TestLoginChangedMeanwhile(t *testing.T) {
	const email = "meanwhile@example.com"
	tests := []struct {
		name   string
		change func(t *testing.T, h *harness, u usher.User)
	}{
		{
			name: "user deleted",
			change: func(t *testing.T, h *harness, u usher.User) {
				if err := h.svc.Delete(t.Context(), tenant, u.ID); err != nil {
					t.Errorf("Delete: %v", err)
				}
			},
		},
		{
			name:   "address moved away",
			change: func(t *testing.T, h *harness, u usher.User) { setEmail(t, h, u.ID, "moved@example.com") },
		},
		{
			name: "address moved away and taken by another user with the same password",
			change: func(t *testing.T, h *harness, u usher.User) {
				setEmail(t, h, u.ID, "moved@example.com")
				h.createUser(t, email, oldPassword)
			},
		},
		{
			name: "password changed",
			change: func(t *testing.T, h *harness, u usher.User) {
				if err := h.svc.SetPassword(t.Context(), tenant, u.ID, newPassword); err != nil {
					t.Errorf("SetPassword: %v", err)
				}
			},
		},
	}
	for _, p := range pausePoints {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				h, ps := newPausingService(t)
				u := h.createUser(t, email, oldPassword)
				p.pause(ps, func() { tt.change(t, h, u) })
				tok, err := h.svc.Login(t.Context(), tenant, email, oldPassword)
				wantCode(t, "Login", err, usher.Unauthorized)
				if tok != "" {
					t.Errorf("Login: got token %q, want none", tok)
				}
				// The refused attempt counts as one attempt at most: a password
				// change after its reservation clears it with the rest.
				if got, err := h.svc.User(t.Context(), tenant, u.ID); err == nil && got.FailedChecks > 1 {
					t.Errorf("failures of the user read: got %d, want at most 1", got.FailedChecks)
				}
			})
		}
	}
}

// TestStaleCheckKeepsLockout: a check verified against a hash that changed
// meanwhile proves nothing about the current password, so it must not lower
// the failures counted against the current one. Here the password changes
// while a check is verified (after its reservation), and the new one is
// then locked out by wrong guesses before the stale check lands: the lock
// must hold.
func TestStaleCheckKeepsLockout(t *testing.T) {
	tests := []struct{ name, pw string }{
		{name: "the password read, changed meanwhile", pw: oldPassword},
		{name: "a wrong password", pw: wrongPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ps := newPausingService(t)
			u := h.createUser(t, "stale@example.com", oldPassword)
			ps.pauseAfterUpdate(func() {
				if err := h.svc.SetPassword(t.Context(), tenant, u.ID, newPassword); err != nil {
					t.Errorf("SetPassword: %v", err)
				}
				for range 3 {
					h.check(t, u.ID, wrongPassword)
				}
			})
			if h.check(t, u.ID, tt.pw) {
				t.Errorf("stale check: got true, want false")
			}
			if got := h.user(t, u.ID).FailedChecks; got != 3 {
				t.Errorf("failures after the stale check: got %d, want the 3 counted before it", got)
			}
			if h.check(t, u.ID, newPassword) {
				t.Errorf("right password on the locked account: got true, want false")
			}
		})
	}
}

// TestReplaceUserPasswordChangedMeanwhile: the password proved was verified
// against a hash the user no longer has when the transaction runs; the call
// is refused, replaces nothing and leaves no failure counted.
func TestReplaceUserPasswordChangedMeanwhile(t *testing.T) {
	for _, p := range pausePoints {
		t.Run(p.name, func(t *testing.T) {
			h, ps := newPausingService(t)
			u := h.createUser(t, byEmail, oldPassword)
			p.pause(ps, func() {
				if err := h.svc.SetPassword(t.Context(), tenant, u.ID, newPassword); err != nil {
					t.Errorf("SetPassword: %v", err)
				}
			})
			r := account.Replacement{Email: byEmail, Data: []byte(`{"x":1}`)}
			_, err := h.svc.ReplaceUser(t.Context(), tenant, checked(oldPassword), r)
			wantCode(t, "ReplaceUser", err, usher.Unauthorized)
			if got := h.user(t, u.ID); string(got.Data) != "{}" || got.FailedChecks > 1 {
				t.Errorf("user: got data %s, %d failures; want {} and at most the attempt itself", got.Data, got.FailedChecks)
			}
		})
	}
}
