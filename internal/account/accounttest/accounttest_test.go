package accounttest_test

import (
	"errors"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/usher"
)

const pw = "first-Secret-8451"

func TestFaults(t *testing.T) {
	var f accounttest.Faults
	e := accounttest.New(t, accounttest.WithFaults(&f))
	u, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "ann@example.com", Password: pw, Enabled: true})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	read := func() error {
		_, err := e.Service.User(t.Context(), e.Tenant.ID, u.ID)
		return err
	}
	tests := []struct {
		name         string
		down, broken bool
		want         error
	}{
		{name: "off", want: nil},
		{name: "down", down: true, want: accounttest.ErrDown},
		{name: "broken", broken: true, want: accounttest.ErrBroken},
		{name: "down and broken", down: true, broken: true, want: accounttest.ErrDown},
	}
	for _, tc := range tests {
		f.Down.Store(tc.down)
		f.Broken.Store(tc.broken)
		if err := read(); !errors.Is(err, tc.want) {
			t.Errorf("%s: User: got %v, want %v", tc.name, err, tc.want)
		}
		if _, err := e.Service.CheckPassword(t.Context(), e.Tenant.ID, u.ID, pw); !errors.Is(err, tc.want) {
			t.Errorf("%s: CheckPassword: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if got, want := usher.ErrorCode(accounttest.ErrDown), usher.Unavailable; got != want {
		t.Errorf("ErrDown's code: got %q, want %q", got, want)
	}
}

func TestPoolHold(t *testing.T) {
	p := accounttest.NewPool(1, 0)
	e := accounttest.New(t, accounttest.WithPool(p))
	create := func(email string) error {
		_, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: email, Password: pw, Enabled: true})
		return err
	}
	if err := create("ann@example.com"); err != nil {
		t.Fatalf("Create before Hold: %v", err)
	}
	t.Run("held", func(t *testing.T) {
		p.Hold(t)
		if err := create("bob@example.com"); !errors.Is(err, password.ErrBusy) || usher.ErrorCode(err) != usher.Overloaded {
			t.Errorf("Create while held: got %v, want an Overloaded error caused by password.ErrBusy", err)
		}
	})
	if err := create("cat@example.com"); err != nil {
		t.Errorf("Create after the holding test ended: %v", err)
	}
}

func TestCheckedMail(t *testing.T) {
	e := accounttest.New(t, func(c *account.Config) { c.Verify.OnRegister = true })
	if _, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "ann@example.com", Password: pw, Enabled: true}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := e.Service.SendReset(t.Context(), e.Tenant.ID, "ann@example.com"); err != nil {
		t.Fatalf("SendReset: %v", err)
	}
	ms := e.CheckedMail(t)
	env, params := accounttest.Envelopes(ms), accounttest.Params(ms)
	if len(env) == 0 || len(env) != len(params) {
		t.Fatalf("Envelopes %v, Params %v: want one of each per message, at least one", env, params)
	}
	for i, m := range ms {
		if env[i] != (accounttest.Envelope{Kind: m.Kind, To: m.To}) || params[i] != m.Params {
			t.Errorf("message %d: envelope %v, params %+v; want %s to %s, %+v", i, env[i], params[i], m.Kind, m.To, m.Params)
		}
	}
	if again := e.CheckedMail(t); len(again) != 0 {
		t.Errorf("a second call: got %d messages, want none", len(again))
	}
}
