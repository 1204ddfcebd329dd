package account_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/usher"
)

// changeEnv is an audit env with ann signed in twice ({tokens}), for the
// tests of a user's change of its own address.
type changeEnv struct {
	*auditEnv
	ann    usher.User
	tokens [2]string
}

const changeIP = "192.0.2.70"

func newChangeEnv(t *testing.T) *changeEnv {
	t.Helper()
	a := newAuditEnv(t)
	e := &changeEnv{auditEnv: a}
	e.ann = a.create(t, client(t, changeIP), tenant, "ann@example.com", oldPassword)
	for i := range e.tokens {
		tok, err := a.Service.Login(client(t, changeIP), tenant, "ann@example.com", oldPassword)
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		e.tokens[i] = tok
	}
	a.take(t, tenant)
	return e
}

// request asks for ann's address to become email and returns the token of
// the link the new address got, checking both emails: the link to the new
// address, the notice (no link) to the old one.
func (e *changeEnv) request(t *testing.T, email string) string {
	t.Helper()
	if err := e.Service.RequestEmailChange(client(t, changeIP), tenant, e.ann.ID, email, oldPassword); err != nil {
		t.Fatalf("RequestEmailChange(%q): %v", email, err)
	}
	ms := e.CheckedMail(t)
	slices.SortFunc(ms, func(x, y accounttest.Mail) int { return strings.Compare(x.Kind, y.Kind) })
	want := []accounttest.Envelope{
		{Kind: usher.MailEmailChange, To: strings.TrimSpace(email)},
		{Kind: usher.MailEmailChangeRequested, To: e.ann.Email},
	}
	if d := cmp.Diff(want, accounttest.Envelopes(ms)); d != "" {
		t.Fatalf("emails (-want +got):\n%s", d)
	}
	if p := ms[1].Params; p != (usher.MailParams{Email: e.ann.Email}) {
		t.Errorf("the notice to the old address: params %+v, want its address alone (no link)", p)
	}
	tok := ms[0].Params.Token
	e.secret(tok)
	e.want(t, "RequestEmailChange", tenant, ev(changeIP, "check.succeeded", e.ann.ID, nil))
	return tok
}

// apply opens the link, from another address (a mail client's), with no
// actor: the link is the only credential.
func (e *changeEnv) apply(t *testing.T, email, tok string) (account.Record, error) {
	t.Helper()
	return e.Service.ApplyEmailChange(t.Context(), tenant, email, tok)
}

func TestEmailChange(t *testing.T) {
	e := newChangeEnv(t)
	tok := e.request(t, " Ann.New@Example.org ")

	// Nothing changed yet.
	u := e.user(t)
	if u.Email != "ann@example.com" || u.Confirmed {
		t.Errorf("after the request: %s confirmed %t; want ann@example.com unconfirmed, as before", u.Email, u.Confirmed)
	}
	for _, s := range e.tokens {
		if _, _, err := e.Service.Authenticate(t.Context(), tenant, s); err != nil {
			t.Errorf("a session after the request: %v; want it alive", err)
		}
	}

	rec, err := e.apply(t, "ann.new@EXAMPLE.org", tok)
	if err != nil {
		t.Fatalf("ApplyEmailChange: %v", err)
	}
	if rec.Email != "Ann.New@Example.org" || !rec.Confirmed || rec.ID != e.ann.ID {
		t.Errorf("ApplyEmailChange: got %s %s confirmed %t; want %s Ann.New@Example.org confirmed", rec.ID, rec.Email, rec.Confirmed, e.ann.ID)
	}
	if u := e.user(t); u.Email != "Ann.New@Example.org" || u.EmailKey != "ann.new@example.org" || !u.Confirmed {
		t.Errorf("stored: %s (%s) confirmed %t; want Ann.New@Example.org confirmed", u.Email, u.EmailKey, u.Confirmed)
	}
	e.want(t, "ApplyEmailChange", tenant, entry{Type: "user.email_changed", UserID: e.ann.ID, Actor: "internal",
		Detail: map[string]any{"by": "self", "confirmed": true}})
	for _, s := range e.tokens {
		if _, _, err := e.Service.Authenticate(t.Context(), tenant, s); usher.ErrorCode(err) != usher.Unauthorized {
			t.Errorf("a session after the change: %v; want it ended", err)
		}
	}
	if _, err := e.Service.Login(t.Context(), tenant, "ann.new@example.org", oldPassword); err != nil {
		t.Errorf("login at the new address: %v", err)
	}
	if _, err := e.Service.Login(t.Context(), tenant, "ann@example.com", oldPassword); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("login at the old address: %v; want unauthorized", err)
	}
	if m := e.Mail(t); len(m) != 0 {
		t.Errorf("emails after the change: %+v, want none", accounttest.Envelopes(m))
	}
	// The link works once.
	if _, err := e.apply(t, "ann.new@example.org", tok); !errors.Is(err, account.ErrToken) {
		t.Errorf("the link again: %v; want ErrToken", err)
	}
}

func (e *changeEnv) user(t *testing.T) usher.User {
	t.Helper()
	u, err := e.Service.User(t.Context(), tenant, e.ann.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	return u
}

func TestEmailChangeRequestRefused(t *testing.T) {
	e := newChangeEnv(t)
	ctx := client(t, changeIP)
	if _, err := e.Service.Create(ctx, tenant, account.NewUser{Email: "bob@example.com", Password: newPassword, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	e.take(t, tenant)

	tests := []struct {
		name, email, pw string
		code            usher.Code
		failures        int // ann's failed checks after the call
		events          []entry
	}{
		{name: "wrong password", email: "ann@example.org", pw: wrongPassword, code: usher.InvalidPassword, failures: 1,
			events: []entry{ev(changeIP, "check.failed", e.ann.ID, map[string]any{"reason": "wrong_password"})}},
		// A right password is recorded as one, even when the change is refused.
		{name: "taken address", email: "BOB@example.com", pw: oldPassword, code: usher.EmailTaken,
			events: []entry{ev(changeIP, "check.succeeded", e.ann.ID, nil)}},
		{name: "the same address", email: "Ann@Example.com", pw: oldPassword, code: usher.InvalidEmail,
			events: []entry{ev(changeIP, "check.succeeded", e.ann.ID, nil)}},
		{name: "invalid address", email: "ann@", pw: oldPassword, code: usher.InvalidEmail},
		{name: "password too long", email: "ann@example.org", pw: strings.Repeat("x", 129), code: usher.InvalidPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Service.RequestEmailChange(ctx, tenant, e.ann.ID, tt.email, tt.pw)
			wantCode(t, "RequestEmailChange", err, tt.code)
			if u := e.user(t); u.FailedChecks != tt.failures || u.Email != "ann@example.com" {
				t.Errorf("ann after: %s, %d failed checks; want ann@example.com, %d", u.Email, u.FailedChecks, tt.failures)
			}
			if m := e.Mail(t); len(m) != 0 {
				t.Errorf("emails: %+v, want none", accounttest.Envelopes(m))
			}
			e.want(t, tt.name, tenant, tt.events...)
		})
	}
	if err := e.Service.RequestEmailChange(ctx, tenant, usher.NewID(time.Now()), "ann@example.org", oldPassword); usher.ErrorCode(err) != usher.NotFound {
		t.Errorf("for a user that does not exist: %v; want not_found", err)
	}
}

func TestEmailChangeLinkRefused(t *testing.T) {
	// Each case has a live request to ann.new@example.org ({tok}) and may
	// change the world before the link is opened.
	tests := []struct {
		name  string
		setup func(t *testing.T, e *changeEnv, tok string)
		email string // the link's; default ann.new@example.org
		tok   func(tok string) string
		err   error
	}{
		{name: "wrong secret", tok: func(tok string) string { return tok + "x" }, err: account.ErrToken},
		{name: "no secret", tok: func(tok string) string { return strings.Split(tok, ".")[0] + "." }, err: account.ErrToken},
		{name: "no user id", tok: func(tok string) string { return strings.Split(tok, ".")[1] }, err: account.ErrToken},
		{name: "another user's id", tok: func(tok string) string {
			return usher.NewID(time.Now()) + "." + strings.Split(tok, ".")[1]
		}, err: account.ErrToken},
		{name: "another address", email: "eve@example.org", err: account.ErrToken},
		{name: "a malformed address", email: "nope", err: account.ErrToken},
		{name: "expired", err: account.ErrToken, setup: func(t *testing.T, e *changeEnv, _ string) { e.Clock.Advance(24 * time.Hour) }},
		{name: "replaced by a newer request", err: account.ErrToken, setup: func(t *testing.T, e *changeEnv, _ string) {
			e.request(t, "ann.other@example.org")
		}},
		{name: "cancelled by a new password", err: account.ErrToken, setup: func(t *testing.T, e *changeEnv, _ string) {
			_, c, err := e.Service.Authenticate(t.Context(), tenant, e.tokens[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Service.ChangeOwnPassword(t.Context(), tenant, e.ann.ID, c.SessionID, oldPassword, newPassword); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "cancelled by a password the backend set", err: account.ErrToken, setup: func(t *testing.T, e *changeEnv, _ string) {
			if err := e.Service.SetPassword(t.Context(), tenant, e.ann.ID, newPassword); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "cancelled by another change of the address", err: account.ErrToken, setup: func(t *testing.T, e *changeEnv, _ string) {
			if err := e.Service.SetEmail(t.Context(), tenant, e.ann.ID, "ann@example.net"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "cancelled by a disable", err: account.ErrToken, setup: func(t *testing.T, e *changeEnv, _ string) {
			for _, on := range []bool{false, true} {
				if err := e.Service.SetEnabled(t.Context(), tenant, e.ann.ID, on); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "the user deleted", err: account.ErrToken, setup: func(t *testing.T, e *changeEnv, _ string) {
			if err := e.Service.Delete(t.Context(), tenant, e.ann.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "the address taken meanwhile", err: errEmailTaken, setup: func(t *testing.T, e *changeEnv, _ string) {
			if _, err := e.Service.Create(t.Context(), tenant, account.NewUser{Email: "ANN.NEW@example.org", Password: newPassword, Enabled: true}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newChangeEnv(t)
			tok := e.request(t, "ann.new@example.org")
			if tt.setup != nil {
				tt.setup(t, e, tok)
			}
			before, _ := e.Service.User(t.Context(), tenant, e.ann.ID)
			e.take(t, tenant)
			e.Mail(t)
			email := tt.email
			if email == "" {
				email = "ann.new@example.org"
			}
			if tt.tok != nil {
				tok = tt.tok(tok)
			}
			_, err := e.apply(t, email, tok)
			if tt.err == errEmailTaken {
				wantCode(t, "ApplyEmailChange", err, usher.EmailTaken)
			} else if !errors.Is(err, tt.err) {
				t.Errorf("ApplyEmailChange: %v; want %v", err, tt.err)
			}
			// Nothing changes: no event, no email, the user as it was.
			e.want(t, "a refused link", tenant)
			if m := e.Mail(t); len(m) != 0 {
				t.Errorf("emails: %+v, want none", accounttest.Envelopes(m))
			}
			if after, _ := e.Service.User(t.Context(), tenant, e.ann.ID); !cmp.Equal(before, after) {
				t.Errorf("the user changed:\n%s", cmp.Diff(before, after))
			}
		})
	}
}

// errEmailTaken stands for the EmailTaken error in a table.
var errEmailTaken = errors.New("email taken")

func TestEmailChangeTakenAtApplyKeepsTheLink(t *testing.T) {
	e := newChangeEnv(t)
	tok := e.request(t, "ann.new@example.org")
	other, err := e.Service.Create(t.Context(), tenant, account.NewUser{Email: "ann.new@example.org", Password: newPassword, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.apply(t, "ann.new@example.org", tok)
	wantCode(t, "ApplyEmailChange to a taken address", err, usher.EmailTaken)
	for _, s := range e.tokens {
		if _, _, err := e.Service.Authenticate(t.Context(), tenant, s); err != nil {
			t.Errorf("a session after the refused change: %v; want it alive", err)
		}
	}
	// Nothing changed: once the address is free again, the link works.
	if err := e.Service.Delete(t.Context(), tenant, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.apply(t, "ann.new@example.org", tok); err != nil {
		t.Errorf("ApplyEmailChange once the address is free: %v", err)
	}
}

func TestEmailChangeEndsCodes(t *testing.T) {
	h := newTestService(t)
	u := h.createUser(t, "ann@example.com", oldPassword)
	session := h.login(t, "ann@example.com", oldPassword)
	vtok := h.sendVerification(t, u)
	code := h.sendReset(t, "ann@example.com")

	if err := h.svc.RequestEmailChange(t.Context(), tenant, u.ID, "ann@example.org", oldPassword); err != nil {
		t.Fatalf("RequestEmailChange: %v", err)
	}
	link := onlyMail(t, h, "ann@example.org", usher.MailEmailChange)
	onlyMail(t, h, "ann@example.com", usher.MailEmailChangeRequested)
	// The request alone ends nothing.
	if got := h.liveToken(t, "ann@example.com"); got != vtok {
		t.Errorf("the verification token after the request: live %t; want it kept", got != "")
	}
	sessionLives(t, h, session, true)

	if _, err := h.svc.ApplyEmailChange(t.Context(), tenant, "ann@example.org", link.Params.Token); err != nil {
		t.Fatalf("ApplyEmailChange: %v", err)
	}
	sessionLives(t, h, session, false)
	if got := h.liveToken(t, "ann@example.org"); got != "" {
		t.Errorf("a verification token after the change: live; want none")
	}
	if _, err := h.svc.VerifyEmail(t.Context(), tenant, "ann@example.org", vtok); !errors.Is(err, account.ErrToken) {
		t.Errorf("the old verification link: %v; want ErrToken", err)
	}
	codeWorks(t, h, "ann@example.org", code, false)
}

func TestEmailChangeLockout(t *testing.T) {
	h := newTestService(t)
	u := h.createUser(t, "ann@example.com", oldPassword)
	// Three wrong passwords (the test lockout) lock the account: then the
	// right one is refused too, and nothing is sent.
	for i := 0; i < 3; i++ {
		wantCode(t, "a wrong password", h.svc.RequestEmailChange(t.Context(), tenant, u.ID, "ann@example.org", wrongPassword), usher.InvalidPassword)
	}
	wantCode(t, "the right password, locked", h.svc.RequestEmailChange(t.Context(), tenant, u.ID, "ann@example.org", oldPassword), usher.InvalidPassword)
	if m := h.env.Mail(t); len(m) != 0 {
		t.Errorf("emails: %+v, want none", accounttest.Envelopes(m))
	}
	if _, err := h.svc.Login(t.Context(), tenant, "ann@example.com", oldPassword); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("login while locked: %v; want unauthorized", err)
	}
}

func TestEmailChangeInAnotherTenant(t *testing.T) {
	e := accounttest.New(t)
	tn, err := e.Service.CreateTenant(t.Context(), "other")
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.Service.Create(t.Context(), tn.ID, account.NewUser{Email: "ann@example.com", Password: oldPassword, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	// The default tenant's ann keeps her address; the other tenant's may
	// take the one a third user has in the default tenant.
	if _, err := e.Service.Create(t.Context(), tenant, account.NewUser{Email: "ann@example.org", Password: oldPassword, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.Service.RequestEmailChange(t.Context(), tn.ID, u.ID, "ann@example.org", oldPassword); err != nil {
		t.Fatalf("RequestEmailChange: %v", err)
	}
	var link usher.MailParams
	for _, m := range e.CheckedMail(t) {
		if m.Kind == usher.MailEmailChange {
			link = m.Params
		}
	}
	if link.Tenant != tn.ID {
		t.Fatalf("the link's tenant: got %q, want %q", link.Tenant, tn.ID)
	}
	if _, err := e.Service.ApplyEmailChange(t.Context(), tenant, "ann@example.org", link.Token); !errors.Is(err, account.ErrToken) {
		t.Errorf("the link in the default tenant: %v; want ErrToken", err)
	}
	if rec, err := e.Service.ApplyEmailChange(t.Context(), tn.ID, "ann@example.org", link.Token); err != nil || rec.Email != "ann@example.org" {
		t.Errorf("the link in its tenant: %q, %v; want ann@example.org", rec.Email, err)
	}
}
