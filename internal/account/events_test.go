package account_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// events records what a Service reports to Config.Events, as
// "name/outcome" strings, and fails the test on a pair that
// account.EventOutcomes does not list: an observer labels metrics with
// them, so the set must be fixed.
type events struct {
	t     *testing.T
	known map[string][]string
	mu    sync.Mutex
	got   []string
}

func (e *events) Event(name, outcome string) {
	if !slices.Contains(e.known[name], outcome) {
		e.t.Errorf("event %s with outcome %q: not in account.EventOutcomes", name, outcome)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, name+"/"+outcome)
}

// take returns the events reported since the last call.
func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	got := e.got
	e.got = nil
	return got
}

// newEventsService returns a harness whose Service reports to the returned
// recorder; opts change the config further.
func newEventsService(t *testing.T, opts ...func(*account.Config)) (*harness, *events) {
	t.Helper()
	ev := &events{t: t, known: account.EventOutcomes()}
	h := newTestService(t, append(opts, func(c *account.Config) { c.Events = ev })...)
	return h, ev
}

// step is one call in an events scenario and the events it must report,
// in order.
type step struct {
	name string
	run  func(t *testing.T)
	want []string
}

// runSteps runs the steps in order, each as a subtest.
func runSteps(t *testing.T, ev *events, steps []step) {
	t.Helper()
	ev.take() // what setting up reported
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.run(t)
			if d := cmp.Diff(s.want, ev.take()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

// TestEventsLogin: every login and password check reports its outcome once,
// and the failure that locks an address out or the account reports the
// lockout too.
func TestEventsLogin(t *testing.T) {
	h, ev := newEventsService(t) // lockout after 3 failures
	u := h.createUser(t, "events@example.com", oldPassword)
	off := h.createUser(t, "off@example.com", oldPassword)
	if err := h.svc.SetEnabled(t.Context(), tenant, off.ID, false); err != nil {
		t.Fatalf("SetEnabled: %v", err)
	}
	login := func(ctx context.Context, email, pw string, want usher.Code) func(t *testing.T) {
		return func(t *testing.T) {
			_, err := h.svc.Login(ctx, tenant, email, pw)
			wantCode(t, "Login", err, want)
		}
	}
	check := func(pw string, want bool) func(t *testing.T) {
		return func(t *testing.T) {
			if got := h.check(t, u.ID, pw); got != want {
				t.Errorf("CheckPassword: got %v, want %v", got, want)
			}
		}
	}
	attacker := at(t, "203.0.113.7")
	runSteps(t, ev, []step{
		{"right password", login(t.Context(), u.Email, oldPassword, ""), []string{"login.succeeded/ok"}},
		{"unknown email", login(t.Context(), "nobody@example.com", oldPassword, usher.Unauthorized), []string{"login.failed/unknown_email"}},
		{"disabled user", login(t.Context(), off.Email, oldPassword, usher.Unauthorized), []string{"login.failed/disabled"}},
		{"checkpw right", check(oldPassword, true), []string{"check.succeeded/ok"}},
		{"checkpw wrong", check(wrongPassword, false), []string{"check.failed/wrong_password"}},
		{"password header wrong", func(t *testing.T) {
			_, err := h.svc.ReadUser(t.Context(), tenant, account.Access{Email: u.Email, Password: wrongPassword, Check: true})
			wantCode(t, "ReadUser", err, usher.Unauthorized)
		}, []string{"check.failed/wrong_password"}},
		{"password header right", func(t *testing.T) {
			if _, err := h.svc.ReadUser(t.Context(), tenant, account.Access{Email: u.Email, Password: oldPassword, Check: true}); err != nil {
				t.Errorf("ReadUser: %v", err)
			}
		}, []string{"check.succeeded/ok"}},
		{"no password header: no check", func(t *testing.T) {
			if _, err := h.svc.ReadUser(t.Context(), tenant, account.Access{Email: u.Email}); err != nil {
				t.Errorf("ReadUser: %v", err)
			}
		}, nil},
		{"first wrong guess", login(attacker, u.Email, wrongPassword, usher.Unauthorized), []string{"login.failed/wrong_password"}},
		{"second wrong guess", login(attacker, u.Email, wrongPassword, usher.Unauthorized), []string{"login.failed/wrong_password"}},
		{"third wrong guess", login(attacker, u.Email, wrongPassword, usher.Unauthorized), []string{"login.failed/wrong_password"}},
		{"the address's first refusal starts its lockout", login(attacker, u.Email, oldPassword, usher.Unauthorized),
			[]string{"lockout.started/address", "login.failed/locked"}},
		{"later refusals start none", login(attacker, u.Email, wrongPassword, usher.Unauthorized), []string{"login.failed/locked"}},
		{"another address logs in", login(at(t, "198.51.100.1"), u.Email, oldPassword, ""), []string{"login.succeeded/ok"}},
	})
}

// TestEventsAccountLockout: the wrong password that brings the account to
// its limit starts the account's lockout; a right one at the limit does not.
func TestEventsAccountLockout(t *testing.T) {
	h, ev := newEventsService(t, func(c *account.Config) {
		c.Lockout = account.Lockout{Max: 3, AccountMax: 4, Window: window}
	})
	u := h.createUser(t, "events@example.com", oldPassword)
	login := func(addr, pw string, want usher.Code) func(t *testing.T) {
		return func(t *testing.T) {
			_, err := h.svc.Login(at(t, addr), tenant, u.Email, pw)
			wantCode(t, "Login", err, want)
		}
	}
	wrong := []string{"login.failed/wrong_password"}
	runSteps(t, ev, []step{
		{"failure 1", login("192.0.2.1", wrongPassword, usher.Unauthorized), wrong},
		{"failure 2", login("192.0.2.1", wrongPassword, usher.Unauthorized), wrong},
		{"failure 3", login("192.0.2.2", wrongPassword, usher.Unauthorized), wrong},
		{"the right password at the limit clears the count", login("192.0.2.3", oldPassword, ""), []string{"login.succeeded/ok"}},
		{"failure 1 again", login("192.0.2.1", wrongPassword, usher.Unauthorized), wrong},
		{"failure 2 again", login("192.0.2.2", wrongPassword, usher.Unauthorized), wrong},
		{"failure 3 again", login("192.0.2.3", wrongPassword, usher.Unauthorized), wrong},
		{"failure 4 locks the account", login("192.0.2.4", wrongPassword, usher.Unauthorized),
			[]string{"login.failed/wrong_password", "lockout.started/account"}},
		{"every address is refused", login("198.51.100.1", oldPassword, usher.Unauthorized), []string{"login.failed/locked"}},
	})
}

// TestEventsReset: registration, password reset and verification report
// each step and its outcome.
func TestEventsReset(t *testing.T) {
	h, ev := newEventsService(t, func(c *account.Config) { c.Reset.PerHour = 2 })
	const email = "reset@example.com"
	var code string
	runSteps(t, ev, []step{
		{"register", func(t *testing.T) {
			if _, err := h.svc.Register(t.Context(), tenant, email, oldPassword); err != nil {
				t.Fatalf("Register: %v", err)
			}
		}, []string{"user.created/ok", "user.registered/ok"}},
		{"create", func(t *testing.T) { h.createUser(t, "created@example.com", oldPassword) }, []string{"user.created/ok"}},
		{"request a reset", func(t *testing.T) { code = h.sendReset(t, email) }, []string{"reset.requested/sent"}},
		{"request a reset for an unknown address", func(t *testing.T) {
			if err := h.svc.SendReset(t.Context(), tenant, "nobody@example.com"); err != nil {
				t.Errorf("SendReset: %v", err)
			}
		}, []string{"reset.requested/no_user"}},
		{"a wrong code", func(t *testing.T) {
			wantCode(t, "ResetPassword", h.svc.ResetPassword(t.Context(), tenant, email, "AAAAAAAAAA", newPassword), usher.InvalidCode)
		}, []string{"reset.failed/invalid_code"}},
		{"a code for an unknown address", func(t *testing.T) {
			wantCode(t, "ResetPassword", h.svc.ResetPassword(t.Context(), tenant, "nobody@example.com", code, newPassword), usher.InvalidCode)
		}, []string{"reset.failed/unknown_email"}},
		{"the right code", func(t *testing.T) {
			if err := h.svc.ResetPassword(t.Context(), tenant, email, code, newPassword); err != nil {
				t.Fatalf("ResetPassword: %v", err)
			}
			onlyMail(t, h, email, usher.MailPasswordChanged)
		}, []string{"reset.completed/ok"}},
		{"a request past the limit", func(t *testing.T) {
			h.sendReset(t, email)
			wantCode(t, "SendReset", h.svc.SendReset(t.Context(), tenant, email), usher.RateLimited)
		}, []string{"reset.requested/sent", "reset.requested/rate_limited"}},
	})

	u, err := h.svc.Login(t.Context(), tenant, email, newPassword)
	if err != nil || u == "" {
		t.Fatalf("Login with the new password: %v", err)
	}
	user, err := h.store.UserByEmail(t.Context(), tenant, email)
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	var tok string
	runSteps(t, ev, []step{
		{"send a verification", func(t *testing.T) { tok = h.sendVerification(t, user) }, []string{"verification.requested/ok"}},
		{"a wrong token", func(t *testing.T) {
			_, err := h.svc.VerifyEmail(t.Context(), tenant, email, tok+"x")
			wantCode(t, "VerifyEmail", err, usher.InvalidCode)
		}, []string{"verification.failed/invalid_token"}},
		{"the right token", func(t *testing.T) {
			if _, err := h.svc.VerifyEmail(t.Context(), tenant, email, tok); err != nil {
				t.Errorf("VerifyEmail: %v", err)
			}
		}, []string{"verification.completed/ok"}},
	})
}
