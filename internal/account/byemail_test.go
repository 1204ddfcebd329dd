package account_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/usher"
)

// byEmail is the address of the user the email-addressed use cases act on.
const byEmail = "by-email@example.com"

// checked is access to byEmail proved by pw.
func checked(pw string) account.Access {
	return account.Access{Email: byEmail, Password: pw, Check: true}
}

// fixture is a user at byEmail (password oldPassword) with what a change
// may end: a session, an outstanding reset code, a pending verification
// token. Their emails are taken from the harness.
type fixture struct {
	u       usher.User
	session string
	code    string
	tok     string
}

func newFixture(t *testing.T, h *harness) fixture {
	t.Helper()
	u := h.createUser(t, byEmail, oldPassword)
	return fixture{u: u, session: h.login(t, byEmail, oldPassword), code: h.sendReset(t, byEmail), tok: h.sendVerification(t, u)}
}

// ignoreLockout leaves out of a comparison what a password check records.
var ignoreLockout = cmpopts.IgnoreFields(usher.User{}, "FailedChecks", "FailedSince")

func TestReadUserCheck(t *testing.T) {
	tests := []struct {
		name         string
		a            account.Access
		want         usher.Code
		wantFailures int
	}{
		{name: "right password", a: checked(oldPassword)},
		{name: "address as typed", a: account.Access{Email: "  BY-EMAIL@Example.com ", Password: oldPassword, Check: true}},
		{name: "no check, wrong password", a: account.Access{Email: byEmail, Password: wrongPassword}},
		{name: "wrong password", a: checked(wrongPassword), want: usher.Unauthorized, wantFailures: 1},
		{name: "password too long to be any", a: checked(strings.Repeat("x", 129)), want: usher.Unauthorized},
		{name: "unknown email", a: account.Access{Email: "nobody@example.com", Password: oldPassword, Check: true}, want: usher.NotFound},
		{name: "invalid address", a: account.Access{Email: "not an email", Password: oldPassword, Check: true}, want: usher.InvalidEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			u := h.createUser(t, byEmail, oldPassword)
			rec, err := h.svc.ReadUser(t.Context(), tenant, tt.a)
			wantCode(t, "ReadUser", err, tt.want)
			if tt.want == usher.InvalidEmail && !errors.Is(err, account.ErrAccessEmail) {
				t.Errorf("ReadUser: got %v, want an error whose chain holds ErrAccessEmail", err)
			}
			want := account.Record{User: u}
			if err != nil {
				want = account.Record{}
			}
			if diff := cmp.Diff(want, rec); diff != "" {
				t.Errorf("ReadUser record (-want +got):\n%s", diff)
			}
			if got := h.user(t, u.ID).FailedChecks; got != tt.wantFailures {
				t.Errorf("failures: got %d, want %d", got, tt.wantFailures)
			}
		})
	}
}

// TestReadUserRehash: the Record shows the hash as stored after the check,
// that is the rehash of an outdated one.
func TestReadUserRehash(t *testing.T) {
	h := newTestService(t)
	u := h.createUser(t, byEmail, oldPassword)
	stale := staleHash(t, oldPassword)
	h.setStoredHash(t, u.ID, stale)

	rec, err := h.svc.ReadUser(t.Context(), tenant, checked(oldPassword))
	if err != nil {
		t.Fatalf("ReadUser: %v", err)
	}
	if rec.Hash == stale || paramsOf(t, rec.Hash) != currentPHC {
		t.Errorf("record hash: got %s, want a hash with %s", rec.Hash, currentPHC)
	}
	if got := h.user(t, u.ID).Hash; got != rec.Hash {
		t.Errorf("stored hash: got %s, want the record's %s", got, rec.Hash)
	}
	again, err := h.svc.ReadUser(t.Context(), tenant, checked(oldPassword))
	if err != nil {
		t.Fatalf("ReadUser again: %v", err)
	}
	if again.Hash != rec.Hash {
		t.Errorf("hash read again: got %s, want %s", again.Hash, rec.Hash)
	}
}

// TestReplaceUserKeepsPassword: a password sent back with the whole user
// that is the current one, or none, keeps it and what it guards.
func TestReplaceUserKeepsPassword(t *testing.T) {
	tests := []struct {
		name  string
		check bool
		body  func(stored string) *string
	}{
		{name: "the proved password", check: true, body: func(string) *string { return ptr(oldPassword) }},
		{name: "the stored hash", check: true, body: func(s string) *string { return &s }},
		{name: "the stored hash, no check", body: func(s string) *string { return &s }},
		{name: "a password that verifies, no check", body: func(string) *string { return ptr(oldPassword) }},
		{name: "nil", check: true, body: func(string) *string { return nil }},
		{name: "empty", check: true, body: func(string) *string { return ptr("") }},
		{name: "nil, no check", body: func(string) *string { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			f := newFixture(t, h)
			a := account.Access{Email: byEmail, Password: oldPassword, Check: tt.check}
			r := account.Replacement{Email: byEmail, Password: tt.body(f.u.Hash), Data: []byte(`{ "plan": "pro" }`)}
			rec, err := h.svc.ReplaceUser(t.Context(), tenant, a, r)
			if err != nil {
				t.Fatalf("ReplaceUser: %v", err)
			}
			if rec.Hash != f.u.Hash || h.user(t, f.u.ID).Hash != f.u.Hash {
				t.Errorf("hash: record and stored changed, want kept")
			}
			if got, want := string(h.user(t, f.u.ID).Data), `{"plan":"pro"}`; got != want || string(rec.Data) != want {
				t.Errorf("data: got stored %s, record %s; want %s", got, rec.Data, want)
			}
			if !h.check(t, f.u.ID, oldPassword) {
				t.Errorf("the kept password: got false, want true")
			}
			sessionLives(t, h, f.session, true)
			if rec.VerifyToken != f.tok || h.liveToken(t, byEmail) != f.tok {
				t.Errorf("verification token: record %q, want the pending %q, still live", rec.VerifyToken, f.tok)
			}
			codeWorks(t, h, byEmail, f.code, true)
		})
	}
}

// TestReplaceUserKeepsWeakCurrentPassword: the current password is kept
// even when today's policy would refuse it; the policy is for new ones.
func TestReplaceUserKeepsWeakCurrentPassword(t *testing.T) {
	tests := []struct {
		name, weak string
		check      bool
	}{
		{name: "common, proved", weak: "password", check: true},
		{name: "common, verifies without a check", weak: "password"},
		{name: "short, proved", weak: "short", check: true},
		{name: "short, verifies without a check", weak: "short"},
	}
	hasher := password.NewHasher(cheapParams, password.NewPool(1, 1, 10*time.Second))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			u := h.createUser(t, byEmail, oldPassword)
			hash, err := hasher.Hash(t.Context(), tt.weak)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			h.setStoredHash(t, u.ID, hash)
			err = h.svc.SetPassword(t.Context(), tenant, u.ID, tt.weak)
			wantCode(t, "SetPassword of the weak password, as a new one", err, usher.InvalidPassword)

			a := account.Access{Email: byEmail, Password: tt.weak, Check: tt.check}
			if _, err := h.svc.ReplaceUser(t.Context(), tenant, a, account.Replacement{Email: byEmail, Password: &tt.weak}); err != nil {
				t.Errorf("ReplaceUser: got %v, want nil", err)
			}
			if got := h.user(t, u.ID).Hash; got != hash || !h.check(t, u.ID, tt.weak) {
				t.Errorf("the current password was not kept")
			}
		})
	}
}

func TestReplaceUserNewPassword(t *testing.T) {
	tests := []struct {
		name  string
		check bool
	}{
		{name: "proved", check: true},
		{name: "no check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			f := newFixture(t, h)
			a := account.Access{Email: byEmail, Password: oldPassword, Check: tt.check}
			rec, err := h.svc.ReplaceUser(t.Context(), tenant, a, account.Replacement{Email: byEmail, Password: ptr(newPassword)})
			if err != nil {
				t.Fatalf("ReplaceUser: %v", err)
			}
			if rec.Hash == f.u.Hash || h.user(t, f.u.ID).Hash != rec.Hash {
				t.Errorf("hash: got record %s, want a new hash, as stored", rec.Hash)
			}
			if h.check(t, f.u.ID, oldPassword) {
				t.Errorf("old password: got true, want false")
			}
			if !h.check(t, f.u.ID, newPassword) {
				t.Errorf("new password: got false, want true")
			}
			sessionLives(t, h, f.session, false)
			if rec.VerifyToken != f.tok || h.liveToken(t, byEmail) != f.tok {
				t.Errorf("verification token: record %q, want the pending %q, still live", rec.VerifyToken, f.tok)
			}
			codeWorks(t, h, byEmail, f.code, false)
		})
	}
}

func TestReplaceUserNewEmail(t *testing.T) {
	const moved = "moved@example.com"
	h := newTestService(t)
	f := newFixture(t, h)
	if _, err := h.svc.VerifyEmail(t.Context(), tenant, byEmail, f.tok); err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	rec, err := h.svc.ReplaceUser(t.Context(), tenant, checked(oldPassword), account.Replacement{Email: moved})
	if err != nil {
		t.Fatalf("ReplaceUser: %v", err)
	}
	if rec.Email != moved || rec.Confirmed || rec.VerifyToken != "" {
		t.Errorf("record: got %s confirmed %v token %q, want %s unconfirmed without a token", rec.Email, rec.Confirmed, rec.VerifyToken, moved)
	}
	if got := h.user(t, f.u.ID); got.Email != moved || got.Confirmed || got.Hash != f.u.Hash {
		t.Errorf("stored: got %s confirmed %v, want %s unconfirmed, password kept", got.Email, got.Confirmed, moved)
	}
	_, err = h.svc.ReadUser(t.Context(), tenant, account.Access{Email: byEmail})
	wantCode(t, "ReadUser at the old address", err, usher.NotFound)
	_, err = h.svc.VerifyEmail(t.Context(), tenant, moved, f.tok)
	wantCode(t, "the old token at the new address", err, usher.InvalidCode)
	sessionLives(t, h, f.session, false)
	codeWorks(t, h, moved, f.code, false)
}

// TestRefusedChangesNothing: a use case refused for a wrong password, a
// taken email or a password the policy refuses changes nothing but the
// lockout count, and queues no email.
func TestRefusedChangesNothing(t *testing.T) {
	const taken = "taken@example.com"
	tests := []struct {
		name         string
		call         func(t *testing.T, h *harness) error
		want         usher.Code
		wantFailures int
	}{
		{name: "ReplaceUser, wrong password", want: usher.Unauthorized, wantFailures: 1, call: func(t *testing.T, h *harness) error {
			_, err := h.svc.ReplaceUser(t.Context(), tenant, checked(wrongPassword), account.Replacement{Email: "new@example.com", Password: ptr(newPassword)})
			return err
		}},
		{name: "DeleteUser, wrong password", want: usher.Unauthorized, wantFailures: 1, call: func(t *testing.T, h *harness) error {
			_, err := h.svc.DeleteUser(t.Context(), tenant, checked(wrongPassword))
			return err
		}},
		{name: "RequestVerification, wrong password", want: usher.Unauthorized, wantFailures: 1, call: func(t *testing.T, h *harness) error {
			_, err := h.svc.RequestVerification(t.Context(), tenant, checked(wrongPassword))
			return err
		}},
		{name: "ClearVerification, wrong password", want: usher.Unauthorized, wantFailures: 1, call: func(t *testing.T, h *harness) error {
			_, err := h.svc.ClearVerification(t.Context(), tenant, checked(wrongPassword))
			return err
		}},
		{name: "ReplaceUser, email taken", want: usher.EmailTaken, call: func(t *testing.T, h *harness) error {
			_, err := h.svc.ReplaceUser(t.Context(), tenant, checked(oldPassword), account.Replacement{Email: taken})
			return err
		}},
		{name: "ReplaceUser, email taken, new password", want: usher.EmailTaken, call: func(t *testing.T, h *harness) error {
			_, err := h.svc.ReplaceUser(t.Context(), tenant, checked(oldPassword), account.Replacement{Email: taken, Password: ptr(newPassword)})
			return err
		}},
		{name: "ReplaceUser, password refused by the policy", want: usher.InvalidPassword, call: func(t *testing.T, h *harness) error {
			_, err := h.svc.ReplaceUser(t.Context(), tenant, checked(oldPassword), account.Replacement{Email: byEmail, Password: ptr("password")})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			f := newFixture(t, h)
			h.createUser(t, taken, oldPassword)
			before := h.user(t, f.u.ID)
			h.clock.Advance(time.Minute)

			wantCode(t, "call", tt.call(t, h), tt.want)
			after := h.user(t, f.u.ID)
			if diff := cmp.Diff(before, after, ignoreLockout); diff != "" {
				t.Errorf("user changed (-before +after):\n%s", diff)
			}
			if after.FailedChecks != tt.wantFailures {
				t.Errorf("failures: got %d, want %d", after.FailedChecks, tt.wantFailures)
			}
			if got := mailTo(t, h, byEmail); len(got) != 0 {
				t.Errorf("mail: got %+v, want none", got)
			}
			if got := h.liveToken(t, byEmail); got != f.tok {
				t.Errorf("verification token: got %q, want the pending %q", got, f.tok)
			}
			sessionLives(t, h, f.session, true)
			codeWorks(t, h, byEmail, f.code, true)
		})
	}
}

func TestRequestVerification(t *testing.T) {
	tests := []struct {
		name     string
		verified bool
		a        account.Access
	}{
		{name: "verified user", verified: true, a: checked(oldPassword)},
		{name: "unverified user, no check", a: account.Access{Email: byEmail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestService(t)
			f := newFixture(t, h)
			if tt.verified {
				if _, err := h.svc.VerifyEmail(t.Context(), tenant, byEmail, f.tok); err != nil {
					t.Fatalf("VerifyEmail: %v", err)
				}
			}
			before := h.user(t, f.u.ID)
			h.clock.Advance(time.Minute)

			rec, err := h.svc.RequestVerification(t.Context(), tenant, tt.a)
			if err != nil {
				t.Fatalf("RequestVerification: %v", err)
			}
			if rec.Confirmed || !rec.UpdatedAt.After(before.UpdatedAt) || rec.VerifyToken == "" || rec.VerifyToken == f.tok {
				t.Errorf("record: got confirmed %v, updated %v (before %v), token %q; want unconfirmed, updated later, a new token",
					rec.Confirmed, rec.UpdatedAt, before.UpdatedAt, rec.VerifyToken)
			}
			if diff := cmp.Diff(rec.User, h.user(t, f.u.ID)); diff != "" {
				t.Errorf("record vs stored user (-record +stored):\n%s", diff)
			}
			if m := onlyMail(t, h, byEmail, usher.MailVerify); m.Params.Token != rec.VerifyToken {
				t.Errorf("emailed token: got %q, want the record's %q", m.Params.Token, rec.VerifyToken)
			}
			_, err = h.svc.VerifyEmail(t.Context(), tenant, byEmail, f.tok)
			wantCode(t, "VerifyEmail with the old token", err, usher.InvalidCode)
			if _, err := h.svc.VerifyEmail(t.Context(), tenant, byEmail, rec.VerifyToken); err != nil {
				t.Errorf("VerifyEmail with the new token: got %v, want nil", err)
			}
		})
	}
}

func TestClearVerification(t *testing.T) {
	h := newTestService(t)
	f := newFixture(t, h)
	if _, err := h.svc.VerifyEmail(t.Context(), tenant, byEmail, f.tok); err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	before := h.user(t, f.u.ID)
	h.clock.Advance(time.Minute)

	rec, err := h.svc.ClearVerification(t.Context(), tenant, checked(oldPassword))
	if err != nil {
		t.Fatalf("ClearVerification: %v", err)
	}
	if rec.Confirmed || rec.VerifyToken != "" || !rec.UpdatedAt.After(before.UpdatedAt) {
		t.Errorf("record: got confirmed %v, token %q, updated %v (before %v); want unconfirmed, no token, updated later",
			rec.Confirmed, rec.VerifyToken, rec.UpdatedAt, before.UpdatedAt)
	}
	if diff := cmp.Diff(rec.User, h.user(t, f.u.ID)); diff != "" {
		t.Errorf("record vs stored user (-record +stored):\n%s", diff)
	}
	if got := h.liveToken(t, byEmail); got != "" {
		t.Errorf("live token: got %q, want none", got)
	}
	_, err = h.svc.VerifyEmail(t.Context(), tenant, byEmail, f.tok)
	wantCode(t, "VerifyEmail with the old token", err, usher.InvalidCode)
}

func TestDeleteUser(t *testing.T) {
	h := newTestService(t)
	f := newFixture(t, h)
	before := h.user(t, f.u.ID)
	rec, err := h.svc.DeleteUser(t.Context(), tenant, checked(oldPassword))
	if err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if diff := cmp.Diff(account.Record{User: before, VerifyToken: f.tok}, rec); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	_, err = h.svc.ReadUser(t.Context(), tenant, account.Access{Email: byEmail})
	wantCode(t, "ReadUser after the delete", err, usher.NotFound)
	_, err = h.svc.User(t.Context(), tenant, f.u.ID)
	wantCode(t, "User after the delete", err, usher.NotFound)
	sessionLives(t, h, f.session, false)
}

func ptr(s string) *string { return &s }
