package account_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/usher"
)

// auditClient is a request's caller as the surfaces make one: an address
// for limits (usher.Caller), an origin (usher.Origin) and an actor.
type auditClient struct{ ip, actor string }

func (c auditClient) ClientAddr() string { return c.ip }
func (c auditClient) Surface() string    { return "backend" }
func (c auditClient) ClientIP() string   { return c.ip }
func (c auditClient) UserAgent() string  { return "audit-test/1.0" }
func (c auditClient) RequestID() string  { return "req-" + c.ip }
func (c auditClient) Actor() string      { return c.actor }

var _ usher.Origin = auditClient{}

// auditActor is the actor of every request from client.
const auditActor = "backend:ops"

// client returns a context of a request from ip, by auditActor.
func client(t *testing.T, ip string) context.Context {
	return usher.WithCaller(t.Context(), auditClient{ip: ip, actor: auditActor})
}

// entry is what a test compares of an event: all but its id and time
// (checked once, in TestAuditEventFields), its detail decoded.
type entry struct {
	Type, UserID, Actor, IP, RequestID string
	Detail                             map[string]any
}

// ev returns an entry of a request from ip (see client).
func ev(ip, typ, userID string, d map[string]any) entry {
	return entry{Type: typ, UserID: userID, Actor: auditActor, IP: ip, RequestID: "req-" + ip, Detail: d}
}

// auditEnv is a Service whose audit log a test reads as it goes.
type auditEnv struct {
	*accounttest.Env
	seen map[string]bool
	// secrets are what no event may hold: passwords, codes, tokens,
	// hashes, addresses that name no user.
	secrets []string
}

// newAuditEnv returns accounttest's Service with webhooks set up and a
// lockout of 3 failures per address and 5 per account in 15 minutes.
func newAuditEnv(t *testing.T, opts ...func(*account.Config)) *auditEnv {
	t.Helper()
	opts = append([]func(*account.Config){func(c *account.Config) {
		c.Lockout = account.Lockout{Max: 3, AccountMax: 5, Window: 15 * time.Minute}
		c.Webhooks = account.WebhookRules{
			NewSecret: func() string { return "whsec_" + usher.NewID(accounttest.Start) },
			CheckURL: func(u string) error {
				if !strings.HasPrefix(u, "https://") {
					return errors.New("must be https")
				}
				return nil
			},
		}
	}}, opts...)
	a := &auditEnv{Env: accounttest.New(t, opts...), seen: map[string]bool{}}
	t.Cleanup(func() { a.noSecrets(t) })
	return a
}

// secret adds what no event may hold.
func (a *auditEnv) secret(s ...string) { a.secrets = append(a.secrets, s...) }

// hashOf adds a user's current hash to the secrets.
func (a *auditEnv) hashOf(t *testing.T, tenantID, id string) {
	t.Helper()
	if u, err := a.Store.UserByID(t.Context(), tenantID, id); err == nil {
		a.secret(u.Hash)
	}
}

// log returns every event of tenantID's log, oldest first.
func (a *auditEnv) log(t *testing.T, tenantID string) []usher.Event {
	t.Helper()
	es, err := a.Store.Events(t.Context(), usher.EventQuery{TenantID: tenantID, Limit: 10000})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return es
}

// take returns the events of tenantID's log not taken before, as entries
// in a fixed order: events of one use case share a millisecond, and ids of
// one millisecond are not ordered by creation.
func (a *auditEnv) take(t *testing.T, tenantID string) []entry {
	t.Helper()
	var out []entry
	for _, e := range a.log(t, tenantID) {
		if a.seen[e.ID] {
			continue
		}
		a.seen[e.ID] = true
		x := entry{Type: e.Type, UserID: e.UserID, Actor: e.Actor, IP: e.IP, RequestID: e.RequestID}
		if err := json.Unmarshal(e.Detail, &x.Detail); err != nil {
			t.Errorf("event %s's detail %q is not a JSON object: %v", e.Type, e.Detail, err)
		}
		out = append(out, x)
	}
	slices.SortStableFunc(out, func(x, y entry) int { return strings.Compare(x.Type, y.Type) })
	return out
}

// want checks the events taken since the last call, in any order.
func (a *auditEnv) want(t *testing.T, what, tenantID string, want ...entry) {
	t.Helper()
	slices.SortStableFunc(want, func(x, y entry) int { return strings.Compare(x.Type, y.Type) })
	if d := cmp.Diff(want, a.take(t, tenantID), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("%s: events (-want +got):\n%s", what, d)
	}
}

// noSecrets fails the test when any event of any tenant holds a secret.
func (a *auditEnv) noSecrets(t *testing.T) {
	t.Helper()
	tenants, err := a.Store.Tenants(context.Background())
	if err != nil {
		t.Errorf("Tenants: %v", err)
		return
	}
	n := 0
	for _, tn := range tenants {
		es, err := a.Store.Events(context.Background(), usher.EventQuery{TenantID: tn.ID, Limit: 10000})
		if err != nil {
			t.Errorf("Events: %v", err)
			return
		}
		for _, e := range es {
			n++
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("marshalling event %s: %v", e.ID, err)
			}
			for i, s := range a.secrets {
				if s != "" && strings.Contains(strings.ToLower(string(b)), strings.ToLower(s)) {
					t.Errorf("event %s (%s) holds secret #%d", e.ID, e.Type, i)
				}
			}
		}
	}
	if len(a.secrets) > 0 && n == 0 {
		t.Errorf("no event to scan for secrets")
	}
}

// create makes an enabled user from ctx and takes its events.
func (a *auditEnv) create(t *testing.T, ctx context.Context, tenantID, email, pw string) usher.User {
	t.Helper()
	u, err := a.Service.Create(ctx, tenantID, account.NewUser{Email: email, Password: pw, Enabled: true})
	if err != nil {
		t.Fatalf("Create(%q): %v", email, err)
	}
	a.secret(pw)
	a.hashOf(t, tenantID, u.ID)
	a.take(t, tenantID)
	return u
}

func TestAuditEventFields(t *testing.T) {
	a := newAuditEnv(t)
	const ip = "192.0.2.10"
	before := a.Clock.Now()
	u, err := a.Service.Create(client(t, ip), tenant, account.NewUser{Email: "ann@example.com", Password: oldPassword, Confirmed: true, Enabled: true})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	a.secret(oldPassword, u.Hash)
	es := a.log(t, tenant)
	if len(es) != 1 {
		t.Fatalf("events after Create: got %d, want 1", len(es))
	}
	e := es[0]
	if e.TenantID != tenant || !e.Time.Equal(before) || !usher.ValidID(e.ID) || e.ID < usher.FirstIDAt(before) || e.ID >= usher.FirstIDAt(before.Add(time.Millisecond)) {
		t.Errorf("event: id %s, tenant %s, time %v; want a UUIDv7 of %v in tenant %s", e.ID, e.TenantID, e.Time, before, tenant)
	}
	a.want(t, "Create", tenant, ev(ip, "user.created", u.ID, map[string]any{"confirmed": true, "enabled": true}))
}

func TestAuditActor(t *testing.T) {
	a := newAuditEnv(t)
	tests := []struct {
		name string
		ctx  context.Context
		want entry
	}{
		{"NoCaller", t.Context(), entry{Actor: "internal"}},
		{"AddressOnly", usher.WithCaller(t.Context(), from0("192.0.2.20")), entry{Actor: "internal"}},
		{"CallersActor", usher.WithCaller(t.Context(), auditClient{ip: "192.0.2.21", actor: "public"}),
			entry{Actor: "public", IP: "192.0.2.21", RequestID: "req-192.0.2.21"}},
		{"CallerWithoutActor", usher.WithCaller(t.Context(), auditClient{ip: "192.0.2.22"}),
			entry{Actor: "internal", IP: "192.0.2.22", RequestID: "req-192.0.2.22"}},
		{"WithActorWins", usher.WithActor(usher.WithCaller(t.Context(), auditClient{ip: "192.0.2.23", actor: "thunder"}), "thunder:shop"),
			entry{Actor: "thunder:shop", IP: "192.0.2.23", RequestID: "req-192.0.2.23"}},
		{"WithActorNoCaller", usher.WithActor(t.Context(), "cli"), entry{Actor: "cli"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := a.Service.Create(tc.ctx, tenant, account.NewUser{Email: fmt.Sprintf("user%d@example.com", i), Password: oldPassword, Enabled: true})
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			want := tc.want
			want.Type, want.UserID, want.Detail = "user.created", u.ID, map[string]any{"confirmed": false, "enabled": true}
			a.want(t, "Create", tenant, want)
		})
	}
}

// from0 is a caller that knows only its address.
type from0 string

func (f from0) ClientAddr() string { return string(f) }

func TestAuditUserChanges(t *testing.T) {
	a := newAuditEnv(t)
	const ip = "192.0.2.30"
	ctx := client(t, ip)
	u := a.create(t, ctx, tenant, "ann@example.com", oldPassword)
	step := func(name string, err error, want ...entry) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a.hashOf(t, tenant, u.ID)
		a.want(t, name, tenant, want...)
	}
	step("SetEmail", a.Service.SetEmail(ctx, tenant, u.ID, "ann@example.org"),
		ev(ip, "user.email_changed", u.ID, map[string]any{"confirmed": false}))
	step("SetEmail of the same address", a.Service.SetEmail(ctx, tenant, u.ID, "ann@EXAMPLE.org"),
		ev(ip, "user.email_changed", u.ID, map[string]any{"confirmed": false, "same_address": true}))
	step("SetPassword", a.Service.SetPassword(ctx, tenant, u.ID, newPassword), ev(ip, "user.password_changed", u.ID, nil))
	a.secret(newPassword)
	step("SetEnabled false", a.Service.SetEnabled(ctx, tenant, u.ID, false), ev(ip, "user.disabled", u.ID, nil))
	step("SetEnabled true", a.Service.SetEnabled(ctx, tenant, u.ID, true), ev(ip, "user.enabled", u.ID, nil))
	step("SetData", a.Service.SetData(ctx, tenant, u.ID, []byte(`{"plan":"pro"}`)),
		ev(ip, "user.updated", u.ID, map[string]any{"fields": []any{"data"}}))
	step("Unlock", a.Service.Unlock(ctx, tenant, u.ID), ev(ip, "lockout.cleared", u.ID, nil))

	var toks []string
	for range 3 {
		tok, err := a.Service.Login(ctx, tenant, "ann@example.org", newPassword)
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		toks = append(toks, tok)
	}
	a.secret(toks...)
	a.take(t, tenant)
	sess := sessionOf(t, a.Env, toks[0])
	step("EndSession", a.Service.EndSession(ctx, tenant, u.ID, sess),
		ev(ip, "session.ended", u.ID, map[string]any{"session_id": sess}))
	sess = sessionOf(t, a.Env, toks[1])
	step("Logout", a.Service.Logout(ctx, tenant, u.ID, sess),
		ev(ip, "session.ended", u.ID, map[string]any{"session_id": sess, "reason": "logout"}))
	step("EndSessions", a.Service.EndSessions(ctx, tenant, u.ID), ev(ip, "session.ended", u.ID, map[string]any{"all": true}))
	step("Delete", a.Service.Delete(ctx, tenant, u.ID), ev(ip, "user.deleted", u.ID, nil))

	t.Run("Refused", func(t *testing.T) {
		// A use case refused before its transaction records nothing.
		wantCode(t, "SetEmail of a deleted user", a.Service.SetEmail(ctx, tenant, u.ID, "x@example.com"), usher.NotFound)
		wantCode(t, "SetData not an object", a.Service.SetData(ctx, tenant, u.ID, []byte(`[]`)), usher.InvalidData)
		wantCode(t, "Delete again", a.Service.Delete(ctx, tenant, u.ID), usher.NotFound)
		a.want(t, "refused use cases", tenant)
	})
}

func TestAuditRegister(t *testing.T) {
	for _, onRegister := range []bool{false, true} {
		t.Run(fmt.Sprintf("OnRegister=%t", onRegister), func(t *testing.T) {
			a := newAuditEnv(t, func(c *account.Config) { c.Verify.OnRegister = onRegister })
			const ip = "192.0.2.40"
			tok, err := a.Service.Register(client(t, ip), tenant, "ann@example.com", oldPassword)
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			a.secret(tok, oldPassword)
			u, err := a.Service.UserByEmail(t.Context(), tenant, "ann@example.com")
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			a.secret(u.Hash)
			want := []entry{
				ev(ip, "user.created", u.ID, map[string]any{"confirmed": false, "enabled": true}),
				ev(ip, "session.started", u.ID, map[string]any{"session_id": sessionOf(t, a.Env, tok), "surface": "backend"}),
			}
			if onRegister {
				want = append(want, ev(ip, "verification.requested", u.ID, nil))
				for _, m := range a.Mail(t) {
					a.secret(m.Params.Token)
				}
			}
			a.want(t, "Register", tenant, want...)
		})
	}
}

func TestAuditLogin(t *testing.T) {
	a := newAuditEnv(t)
	const ipA, ipB, ipC, ipD = "192.0.2.51", "192.0.2.52", "192.0.2.53", "192.0.2.54"
	u := a.create(t, client(t, ipA), tenant, "ann@example.com", oldPassword)
	a.secret(wrongPassword)
	login := func(ip, email, pw string) string {
		t.Helper()
		tok, err := a.Service.Login(client(t, ip), tenant, email, pw)
		if pw == oldPassword && email == "ann@example.com" && err == nil {
			a.secret(tok)
			return tok
		}
		wantCode(t, fmt.Sprintf("Login from %s", ip), err, usher.Unauthorized)
		return ""
	}
	failed := func(ip, reason string) entry {
		return ev(ip, "login.failed", u.ID, map[string]any{"reason": reason})
	}

	tok := login(ipA, "ann@example.com", oldPassword)
	a.want(t, "Login", tenant, ev(ipA, "login.succeeded", u.ID, nil),
		ev(ipA, "session.started", u.ID, map[string]any{"session_id": sessionOf(t, a.Env, tok), "surface": "backend"}))

	for i := 1; i <= 3; i++ {
		login(ipA, "ann@example.com", wrongPassword)
		a.want(t, fmt.Sprintf("wrong password %d from A", i), tenant, failed(ipA, "wrong_password"))
	}
	// A's fourth attempt in the window is refused unverified: A's lockout
	// starts with it.
	login(ipA, "ann@example.com", oldPassword)
	a.want(t, "A's fourth attempt", tenant, failed(ipA, "locked"),
		ev(ipA, "lockout.started", u.ID, map[string]any{"scope": "address"}))
	login(ipA, "ann@example.com", wrongPassword)
	a.want(t, "A's fifth attempt", tenant, failed(ipA, "locked"))

	// Failures 4 and 5 of the account (from B, then C): the fifth is the
	// account's limit, and its lockout starts with it.
	login(ipB, "ann@example.com", wrongPassword)
	a.want(t, "the account's fourth failure, from B", tenant, failed(ipB, "wrong_password"))
	login(ipC, "ann@example.com", wrongPassword)
	a.want(t, "the account's fifth failure, from C", tenant, failed(ipC, "wrong_password"),
		ev(ipC, "lockout.started", u.ID, map[string]any{"scope": "account"}))
	login(ipD, "ann@example.com", oldPassword)
	a.want(t, "the right password from D while the account is locked", tenant, failed(ipD, "locked"))

	if ok, err := a.Service.CheckPassword(client(t, ipD), tenant, u.ID, oldPassword); err != nil || ok {
		t.Errorf("CheckPassword while locked: got %t, %v; want false, nil", ok, err)
	}
	a.want(t, "CheckPassword while locked", tenant, ev(ipD, "check.failed", u.ID, map[string]any{"reason": "locked"}))

	if err := a.Service.Unlock(client(t, ipD), tenant, u.ID); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	a.want(t, "Unlock", tenant, ev(ipD, "lockout.cleared", u.ID, nil))
	tok = login(ipD, "ann@example.com", oldPassword)
	a.want(t, "Login after Unlock", tenant, ev(ipD, "login.succeeded", u.ID, nil),
		ev(ipD, "session.started", u.ID, map[string]any{"session_id": sessionOf(t, a.Env, tok), "surface": "backend"}))

	t.Run("CheckPassword", func(t *testing.T) {
		for _, tc := range []struct {
			pw   string
			want entry
		}{
			{oldPassword, ev(ipD, "check.succeeded", u.ID, nil)},
			{wrongPassword, ev(ipD, "check.failed", u.ID, map[string]any{"reason": "wrong_password"})},
		} {
			if _, err := a.Service.CheckPassword(client(t, ipD), tenant, u.ID, tc.pw); err != nil {
				t.Fatalf("CheckPassword: %v", err)
			}
			a.want(t, "CheckPassword", tenant, tc.want)
		}
	})

	t.Run("Disabled", func(t *testing.T) {
		bob := a.create(t, client(t, ipB), tenant, "bob@example.com", newPassword)
		if err := a.Service.SetEnabled(client(t, ipB), tenant, bob.ID, false); err != nil {
			t.Fatalf("SetEnabled: %v", err)
		}
		a.take(t, tenant)
		login(ipB, "bob@example.com", newPassword)
		a.want(t, "Login of a disabled user", tenant, ev(ipB, "login.failed", bob.ID, map[string]any{"reason": "disabled"}))
	})

	t.Run("UnknownEmail", func(t *testing.T) {
		const ghost = "ghost.visitor@example.net"
		a.secret(ghost, "ghost.visitor", "example.net")
		login(ipB, ghost, oldPassword)
		login(ipB, "not an address", oldPassword)
		a.secret("not an address")
		a.want(t, "Login of unknown addresses", tenant,
			ev(ipB, "login.failed", "", map[string]any{"reason": "unknown_email"}),
			ev(ipB, "login.failed", "", map[string]any{"reason": "unknown_email"}))
		if _, err := a.Service.UserByEmail(t.Context(), tenant, ghost); usher.ErrorCode(err) != usher.NotFound {
			t.Errorf("UserByEmail of the unknown address: got %v, want not found", err)
		}
	})
}

func TestAuditResetAndVerify(t *testing.T) {
	a := newAuditEnv(t)
	const ip = "192.0.2.60"
	ctx := client(t, ip)
	u := a.create(t, ctx, tenant, "ann@example.com", oldPassword)

	if err := a.Service.SendReset(ctx, tenant, "ann@example.com"); err != nil {
		t.Fatalf("SendReset: %v", err)
	}
	a.want(t, "SendReset", tenant, ev(ip, "reset.requested", u.ID, nil))
	var code string
	for _, m := range a.Mail(t) {
		if m.Kind == usher.MailReset {
			code = m.Params.Code
		}
	}
	if code == "" {
		t.Fatal("no reset code was mailed")
	}
	a.secret(code)
	if err := a.Service.SendReset(ctx, tenant, "nobody.here@example.com"); err != nil {
		t.Fatalf("SendReset of an unknown address: %v", err)
	}
	a.secret("nobody.here")
	a.want(t, "SendReset of an unknown address", tenant)
	wantCode(t, "ResetPassword with a wrong code", a.Service.ResetPassword(ctx, tenant, "ann@example.com", "2222222222", newPassword), usher.InvalidCode)
	a.want(t, "ResetPassword with a wrong code", tenant, ev(ip, "reset.failed", u.ID, map[string]any{"reason": "wrong_code"}))

	if err := a.Service.ResetPassword(ctx, tenant, "ann@example.com", code, newPassword); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	a.secret(newPassword)
	a.hashOf(t, tenant, u.ID)
	a.want(t, "ResetPassword", tenant, ev(ip, "reset.completed", u.ID, nil),
		ev(ip, "user.password_changed", u.ID, map[string]any{"by": "reset"}))
	a.Mail(t) // the notice

	if err := a.Service.SendVerification(ctx, tenant, u.ID); err != nil {
		t.Fatalf("SendVerification: %v", err)
	}
	a.want(t, "SendVerification", tenant, ev(ip, "verification.requested", u.ID, nil))
	var tok string
	for _, m := range a.Mail(t) {
		tok = m.Params.Token
	}
	if tok == "" {
		t.Fatal("no verification token was mailed")
	}
	a.secret(tok)
	if _, err := a.Service.VerifyEmail(ctx, tenant, "ann@example.com", "wrong-token"); !errors.Is(err, account.ErrToken) {
		t.Errorf("VerifyEmail with a wrong token: got %v, want ErrToken", err)
	}
	a.want(t, "VerifyEmail with a wrong token", tenant)
	if _, err := a.Service.VerifyEmail(ctx, tenant, "ann@example.com", tok); err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	a.want(t, "VerifyEmail", tenant, ev(ip, "verification.completed", u.ID, nil), ev(ip, "user.confirmed", u.ID, nil))
	if _, err := a.Service.VerifyEmail(ctx, tenant, "ann@example.com", tok); err != nil {
		t.Fatalf("VerifyEmail again: %v", err)
	}
	a.want(t, "VerifyEmail of a verified address", tenant, ev(ip, "verification.completed", u.ID, nil))
}

func TestAuditByEmail(t *testing.T) {
	a := newAuditEnv(t)
	const ip = "192.0.2.70"
	ctx := usher.WithActor(client(t, ip), "thunder:shop")
	thunder := func(typ, userID string, d map[string]any) entry {
		e := ev(ip, typ, userID, d)
		e.Actor = "thunder:shop"
		return e
	}
	u := a.create(t, ctx, tenant, "ann@example.com", oldPassword)
	pw := newPassword
	rec, err := a.Service.ReplaceUser(ctx, tenant, account.Access{Email: "ann@example.com", Password: oldPassword, Check: true},
		account.Replacement{Email: "ann@example.org", Password: &pw, Data: []byte(`{"plan":"pro"}`)})
	if err != nil {
		t.Fatalf("ReplaceUser: %v", err)
	}
	a.secret(newPassword, rec.Hash)
	a.want(t, "ReplaceUser", tenant, thunder("check.succeeded", u.ID, nil), thunder("user.password_changed", u.ID, nil),
		thunder("user.email_changed", u.ID, map[string]any{"confirmed": false}), thunder("user.updated", u.ID, map[string]any{"fields": []any{"data"}}))

	if _, err := a.Service.ReplaceUser(ctx, tenant, account.Access{Email: "ann@example.org", Password: wrongPassword, Check: true},
		account.Replacement{Email: "ann@example.org"}); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("ReplaceUser with a wrong password: got %v, want unauthorized", err)
	}
	a.secret(wrongPassword)
	a.want(t, "ReplaceUser with a wrong password", tenant, thunder("check.failed", u.ID, map[string]any{"reason": "wrong_password"}))

	if _, err := a.Service.ReplaceUser(ctx, tenant, account.Access{Email: "ann@example.org"},
		account.Replacement{Email: "ann@example.org", Data: []byte(`{"plan":"pro"}`)}); err != nil {
		t.Fatalf("ReplaceUser changing nothing: %v", err)
	}
	a.want(t, "ReplaceUser changing nothing", tenant)

	if _, err := a.Service.ClearVerification(ctx, tenant, account.Access{Email: "ann@example.org"}); err != nil {
		t.Fatalf("ClearVerification: %v", err)
	}
	a.want(t, "ClearVerification", tenant, thunder("verification.cleared", u.ID, nil))

	if _, err := a.Service.DeleteUser(ctx, tenant, account.Access{Email: "ann@example.org", Password: newPassword, Check: true}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	a.want(t, "DeleteUser", tenant, thunder("check.succeeded", u.ID, nil), thunder("user.deleted", u.ID, nil))
}

func TestAuditImport(t *testing.T) {
	a := newAuditEnv(t)
	const ip = "192.0.2.80"
	ctx := client(t, ip)
	var batch []account.ImportUser
	for i := range 3 {
		pw := fmt.Sprintf("imported-Secret-%d%d%d", i, i, i)
		a.secret(pw)
		batch = append(batch, account.ImportUser{Line: i + 1, Email: fmt.Sprintf("user%d@example.com", i), Password: pw, Enabled: true})
	}
	imp := func(name string, b []account.ImportUser, on account.OnConflict, want func() []entry) {
		t.Helper()
		if _, err := a.Service.Import(ctx, tenant, b, on); err != nil {
			t.Fatalf("%s: Import: %v", name, err)
		}
		a.want(t, name, tenant, want()...)
	}
	// ids names the users of emails, as an import event lists them.
	ids := func(emails ...string) []any {
		out := []any{}
		for _, e := range emails {
			u, err := a.Service.UserByEmail(t.Context(), tenant, e)
			if err != nil {
				t.Fatalf("UserByEmail(%s): %v", e, err)
			}
			out = append(out, u.ID)
		}
		return out
	}
	imp("new users", batch, account.ConflictSkip, func() []entry {
		return []entry{ev(ip, "user.imported", "", map[string]any{"created": 3.0, "updated": 0.0,
			"created_ids": ids("user0@example.com", "user1@example.com", "user2@example.com"), "updated_ids": nil})}
	})
	imp("the same batch again", batch, account.ConflictUpdate, func() []entry { return nil })
	changed := slices.Clone(batch[:1])
	changed[0].Data = []byte(`{"plan":"pro"}`)
	changed = append(changed, account.ImportUser{Line: 2, Email: "user9@example.com", Password: "imported-Secret-999", Confirmed: true})
	a.secret("imported-Secret-999")
	imp("one new, one changed", changed, account.ConflictUpdate, func() []entry {
		return []entry{ev(ip, "user.imported", "", map[string]any{"created": 1.0, "updated": 1.0,
			"created_ids": ids("user9@example.com"), "updated_ids": ids("user0@example.com")})}
	})
	imp("skipped", changed, account.ConflictSkip, func() []entry { return nil })
	for _, in := range append(batch, changed[1]) {
		if u, err := a.Service.UserByEmail(t.Context(), tenant, in.Email); err == nil {
			a.secret(u.Hash)
		}
	}
}

func TestAuditTenants(t *testing.T) {
	a := newAuditEnv(t)
	const ip = "192.0.2.90"
	ctx := usher.WithActor(client(t, ip), "cli")
	cli := func(typ string, d map[string]any) entry {
		e := ev(ip, typ, "", d)
		e.Actor = "cli"
		return e
	}
	blue, err := a.Service.CreateTenant(ctx, "blue")
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	a.want(t, "CreateTenant", blue.ID, cli("tenant.created", map[string]any{"name": "blue"}))
	a.want(t, "CreateTenant, in the default tenant", tenant)
	if _, err := a.Service.RotateTenantKey(ctx, "blue", time.Hour); err != nil {
		t.Fatalf("RotateTenantKey: %v", err)
	}
	a.want(t, "RotateTenantKey", blue.ID, cli("tenant.key_rotated", map[string]any{"overlap_seconds": 3600.0}))
	a.create(t, ctx, blue.ID, "ann@example.com", oldPassword)
	if err := a.Service.DeleteTenant(ctx, "blue", true); err != nil {
		t.Fatalf("DeleteTenant: %v", err)
	}
	a.want(t, "DeleteTenant, in the default tenant", tenant, cli("tenant.deleted", map[string]any{"tenant_id": blue.ID, "name": "blue", "forced": true}))
	if got := a.log(t, blue.ID); len(got) != 0 {
		t.Errorf("the deleted tenant's log: got %d events, want none", len(got))
	}
}

func TestAuditWebhooks(t *testing.T) {
	a := newAuditEnv(t)
	const ip = "192.0.2.100"
	ctx := client(t, ip)
	w, secret, err := a.Service.CreateWebhook(ctx, tenant, "https://hooks.example.com/usher", []string{"user.created", "*", "user.created"})
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	a.secret(secret, w.Secret)
	a.want(t, "CreateWebhook", tenant, ev(ip, "webhook.created", "", map[string]any{"webhook_id": w.ID, "events": []any{"*"}}))
	if err := a.Service.DeleteWebhook(ctx, tenant, w.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	a.want(t, "DeleteWebhook", tenant, ev(ip, "webhook.deleted", "", map[string]any{"webhook_id": w.ID}))
	wantCode(t, "DeleteWebhook again", a.Service.DeleteWebhook(ctx, tenant, w.ID), usher.NotFound)
	_, _, err = a.Service.CreateWebhook(ctx, tenant, "http://hooks.example.com/", []string{"*"})
	wantCode(t, "CreateWebhook of a URL CheckURL refuses", err, usher.Invalid)
	_, _, err = a.Service.CreateWebhook(ctx, tenant, "https://hooks.example.com/", []string{"user.exploded"})
	wantCode(t, "CreateWebhook of an unknown type", err, usher.Invalid)
	a.want(t, "refused webhook changes", tenant)

	t.Run("NotSetUp", func(t *testing.T) {
		e := accounttest.New(t)
		_, _, err := e.Service.CreateWebhook(t.Context(), e.Tenant.ID, "https://hooks.example.com/", []string{"*"})
		wantCode(t, "CreateWebhook without Config.Webhooks", err, usher.Invalid)
	})
}

// errAppend is what a failingStore's transactions answer when told to.
var errAppend = errors.New("audit test: the write failed")
