package account_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// The refresh-token grants (PasswordGrant, RefreshGrant): rotation, the
// retry grace, reuse ending the session, the idle and absolute lifetimes,
// and every way a session ends taking its refresh tokens.

// refreshRules are short enough to walk through with the clock: an access
// token lasts 15 minutes, a session idles out after an hour and ends after
// three.
var refreshRules = account.Refresh{AccessTTL: 15 * time.Minute, Idle: time.Hour, MaxAge: 3 * time.Hour}

// txCounter counts transactions, so a test can tell a refusal that
// never reached the database from one that did.
type txCounter struct {
	account.Store
	updates atomic.Int64
}

func (s *txCounter) Update(ctx context.Context, fn func(context.Context, account.Tx) error) error {
	s.updates.Add(1)
	return s.Store.Update(ctx, fn)
}

// refreshEnv is a harness with refreshRules and a counting store.
type refreshEnv struct {
	*harness
	counter *txCounter
}

func newRefreshEnv(t *testing.T) *refreshEnv {
	t.Helper()
	cs := &txCounter{}
	h := newTestService(t, func(c *account.Config) {
		c.Refresh = refreshRules
		cs.Store = c.Store
		c.Store = cs
	})
	return &refreshEnv{harness: h, counter: cs}
}

// grant signs in with the password grant and fails the test unless it
// succeeds.
func (e *refreshEnv) grant(t *testing.T, email, pw string) account.TokenPair {
	t.Helper()
	p, err := e.svc.PasswordGrant(t.Context(), tenant, email, pw)
	if err != nil {
		t.Fatalf("PasswordGrant(%q): %v", email, err)
	}
	return p
}

// refresh refreshes raw and fails the test unless it succeeds.
func (e *refreshEnv) refresh(t *testing.T, raw string) account.TokenPair {
	t.Helper()
	p, err := e.svc.RefreshGrant(t.Context(), tenant, raw)
	if err != nil {
		t.Fatalf("RefreshGrant: %v", err)
	}
	return p
}

// refused fails the test unless refreshing raw is refused as a bad grant.
func (e *refreshEnv) refused(t *testing.T, what, raw string) {
	t.Helper()
	p, err := e.svc.RefreshGrant(t.Context(), tenant, raw)
	wantCode(t, what, err, usher.Unauthorized)
	if p != (account.TokenPair{}) {
		t.Errorf("%s: got a pair with the error, want none", what)
	}
}

// claims authenticates an access token and fails the test unless it
// names the user.
func (e *refreshEnv) claims(t *testing.T, access string, u usher.User) token.Claims {
	t.Helper()
	got, c, err := e.svc.Authenticate(t.Context(), tenant, access)
	if err != nil {
		t.Fatalf("Authenticate(the access token): %v", err)
	}
	if got.ID != u.ID || c.UserID != u.ID || c.TenantID != tenant {
		t.Fatalf("Authenticate(the access token): got user %s (claims %+v), want %s", got.ID, c, u.ID)
	}
	return c
}

// wantPair checks a pair: a working access token of u that lasts
// ExpiresIn (at most the access TTL and never past its session), and a
// refresh token of Usher's form.
func (e *refreshEnv) wantPair(t *testing.T, what string, p account.TokenPair, u usher.User) token.Claims {
	t.Helper()
	if !strings.HasPrefix(p.Refresh, "rt_") || len(p.Refresh) < 40 || len(p.Refresh) > 128 {
		t.Errorf("%s: refresh token %q: want rt_ and at least 37 more characters, at most 128 in all", what, p.Refresh)
	}
	if p.ExpiresIn <= 0 || p.ExpiresIn > refreshRules.AccessTTL || p.ExpiresIn%time.Second != 0 {
		t.Errorf("%s: ExpiresIn %v: want whole seconds in (0, %v]", what, p.ExpiresIn, refreshRules.AccessTTL)
	}
	c := e.claims(t, p.Access, u)
	now := e.clock.Now()
	if want := now.Truncate(time.Second).Add(p.ExpiresIn); !c.Expiry.Equal(want) {
		t.Errorf("%s: access token exp %v, want now + ExpiresIn = %v", what, c.Expiry, want)
	}
	sess := e.session(t, u, c.SessionID)
	if c.Expiry.After(sess.ExpiresAt) {
		t.Errorf("%s: access token exp %v is past its session's end %v", what, c.Expiry, sess.ExpiresAt)
	}
	if limit := sess.CreatedAt.Add(refreshRules.MaxAge); sess.ExpiresAt.After(limit) {
		t.Errorf("%s: session ends %v, past its maximum age %v", what, sess.ExpiresAt, limit)
	}
	return c
}

// session returns u's live session id.
func (e *refreshEnv) session(t *testing.T, u usher.User, id string) usher.Session {
	t.Helper()
	ss, err := e.store.Sessions(t.Context(), tenant, u.ID, e.clock.Now())
	if err != nil {
		t.Fatalf("Sessions: %v", err)
	}
	for _, s := range ss {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("session %s of %s: not live", id, u.Email)
	return usher.Session{}
}

// accessWorks fails the test unless the access token authenticates as
// want says.
func (e *refreshEnv) accessWorks(t *testing.T, what, access string, want bool) {
	t.Helper()
	_, _, err := e.svc.Authenticate(t.Context(), tenant, access)
	if got := err == nil; got != want {
		t.Errorf("%s: access token authenticates: got %v (%v), want %v", what, got, err, want)
	}
}

// refreshRows counts the stored refresh tokens of a session.
func (e *refreshEnv) refreshRows(t *testing.T, sessionID string) int {
	t.Helper()
	var n int
	if err := e.store.DB().QueryRowContext(t.Context(), `SELECT count(*) FROM refresh_tokens WHERE session_id = $1`,
		e.store.IDArg(sessionID)).Scan(&n); err != nil {
		t.Fatalf("counting refresh tokens: %v", err)
	}
	return n
}

// events returns the default tenant's audit log.
func (e *refreshEnv) events(t *testing.T) []usher.Event {
	t.Helper()
	es, err := e.store.Events(t.Context(), usher.EventQuery{TenantID: tenant, Limit: 10000})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return es
}

// eventsOf returns the events of typ whose detail has session_id sessionID.
func (e *refreshEnv) eventsOf(t *testing.T, typ, sessionID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ev := range e.events(t) {
		if ev.Type != typ {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatalf("event %s detail %s: %v", ev.ID, ev.Detail, err)
		}
		if d["session_id"] == sessionID {
			out = append(out, d)
		}
	}
	return out
}

func TestPasswordGrant(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.createUser(t, "ann@example.com", oldPassword)

	p := e.grant(t, "ANN@example.com", oldPassword)
	c := e.wantPair(t, "password grant", p, u)
	if p.ExpiresIn != refreshRules.AccessTTL {
		t.Errorf("ExpiresIn: got %v, want the access TTL %v", p.ExpiresIn, refreshRules.AccessTTL)
	}
	sess := e.session(t, u, c.SessionID)
	if want := e.clock.Now().Add(refreshRules.Idle); !sess.ExpiresAt.Equal(want) {
		t.Errorf("new session ends %v, want after the idle timeout, %v", sess.ExpiresAt, want)
	}
	if n := e.refreshRows(t, c.SessionID); n != 1 {
		t.Errorf("refresh tokens of the new session: got %d, want 1", n)
	}
	if got := e.eventsOf(t, account.AuditSessionStarted, c.SessionID); len(got) != 1 {
		t.Errorf("session.started events of the session: got %v, want one", got)
	}

	// A second grant is another session with another pair.
	p2 := e.grant(t, "ann@example.com", oldPassword)
	c2 := e.wantPair(t, "second password grant", p2, u)
	if c2.SessionID == c.SessionID || p2.Refresh == p.Refresh {
		t.Errorf("second grant: session %s, refresh token equal %t; want a new session and token", c2.SessionID, p2.Refresh == p.Refresh)
	}

	for _, tt := range []struct{ name, email, pw string }{
		{"wrong password", "ann@example.com", wrongPassword},
		{"unknown email", "bob@example.com", oldPassword},
		{"invalid email", "ann", oldPassword},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.refreshRowsOfUser(t, u)
			p, err := e.svc.PasswordGrant(t.Context(), tenant, tt.email, tt.pw)
			wantCode(t, "PasswordGrant", err, usher.Unauthorized)
			if p != (account.TokenPair{}) {
				t.Errorf("PasswordGrant: got a pair with the error")
			}
			if got := e.refreshRowsOfUser(t, u); got != before {
				t.Errorf("refresh tokens after a refused grant: got %d, want %d", got, before)
			}
		})
	}
	t.Run("disabled", func(t *testing.T) {
		d := e.createUser(t, "dis@example.com", oldPassword)
		if err := e.svc.SetEnabled(t.Context(), tenant, d.ID, false); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.PasswordGrant(t.Context(), tenant, "dis@example.com", oldPassword)
		wantCode(t, "PasswordGrant of a disabled user", err, usher.Unauthorized)
	})
}

// refreshRowsOfUser counts a user's stored refresh tokens.
func (e *refreshEnv) refreshRowsOfUser(t *testing.T, u usher.User) int {
	t.Helper()
	var n int
	if err := e.store.DB().QueryRowContext(t.Context(), `SELECT count(*) FROM refresh_tokens WHERE user_id = $1`,
		e.store.IDArg(u.ID)).Scan(&n); err != nil {
		t.Fatalf("counting refresh tokens: %v", err)
	}
	return n
}

func TestRefreshRotates(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.createUser(t, "ann@example.com", oldPassword)
	p1 := e.grant(t, "ann@example.com", oldPassword)
	c1 := e.wantPair(t, "password grant", p1, u)

	e.clock.Advance(10 * time.Minute)
	p2 := e.refresh(t, p1.Refresh)
	c2 := e.wantPair(t, "refresh", p2, u)
	if p2.Refresh == p1.Refresh || p2.Access == p1.Access {
		t.Fatalf("refresh gave back the old refresh token (%t) or access token (%t)", p2.Refresh == p1.Refresh, p2.Access == p1.Access)
	}
	if c2.SessionID != c1.SessionID {
		t.Errorf("refreshed access token's session: got %s, want the grant's %s", c2.SessionID, c1.SessionID)
	}
	if p2.ExpiresIn != refreshRules.AccessTTL {
		t.Errorf("refreshed ExpiresIn: got %v, want %v", p2.ExpiresIn, refreshRules.AccessTTL)
	}
	if want := e.clock.Now().Add(refreshRules.Idle); !e.session(t, u, c1.SessionID).ExpiresAt.Equal(want) {
		t.Errorf("session end after a refresh: got %v, want now + idle = %v", e.session(t, u, c1.SessionID).ExpiresAt, want)
	}
	if got := e.eventsOf(t, account.AuditTokenRefreshed, c1.SessionID); len(got) != 1 {
		t.Errorf("token.refreshed events: got %v, want one", got)
	}
	e.accessWorks(t, "the first access token, still within its TTL", p1.Access, true)

	other := e.grant(t, "ann@example.com", oldPassword) // another device of the same user

	// Past the grace, the old refresh token is a stolen one: it ends the
	// session, and every token of it.
	e.clock.Advance(account.RefreshGrace + time.Millisecond)
	e.refused(t, "the rotated refresh token after the grace", p1.Refresh)
	e.refused(t, "the newest refresh token after reuse", p2.Refresh)
	e.accessWorks(t, "the newest access token after reuse", p2.Access, false)
	e.accessWorks(t, "the first access token after reuse", p1.Access, false)
	if n := e.refreshRows(t, c1.SessionID); n != 0 {
		t.Errorf("refresh tokens of the session ended by reuse: got %d, want 0", n)
	}
	ended := e.eventsOf(t, account.AuditSessionEnded, c1.SessionID)
	if len(ended) != 1 || ended[0]["reason"] != "refresh_token_reused" {
		t.Errorf("session.ended events of the session: got %v, want one with reason refresh_token_reused", ended)
	}

	// The user's other session is not the stolen one.
	e.accessWorks(t, "another session's access token", other.Access, true)
	e.wantPair(t, "another session's refresh", e.refresh(t, other.Refresh), u)
}

func TestRefreshGrace(t *testing.T) {
	tests := []struct {
		name  string
		retry time.Duration // after the first refresh
		same  bool          // the retry gets the same new refresh token; else reuse ends the session
	}{
		{"at once", 0, true},
		{"a second later", time.Second, true},
		{"at the end of the grace", account.RefreshGrace, true},
		{"just after the grace", account.RefreshGrace + time.Millisecond, false},
		{"a minute later", time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRefreshEnv(t)
			u := e.createUser(t, "ann@example.com", oldPassword)
			p1 := e.grant(t, "ann@example.com", oldPassword)
			e.clock.Advance(time.Minute)
			p2 := e.refresh(t, p1.Refresh)
			e.clock.Advance(tt.retry)
			retry, err := e.svc.RefreshGrant(t.Context(), tenant, p1.Refresh)
			if !tt.same {
				wantCode(t, "the retry", err, usher.Unauthorized)
				e.refused(t, "the new refresh token after reuse", p2.Refresh)
				e.accessWorks(t, "the new access token after reuse", p2.Access, false)
				return
			}
			if err != nil {
				t.Fatalf("the retry within the grace: %v", err)
			}
			if retry.Refresh != p2.Refresh {
				t.Errorf("the retry's refresh token differs from the first refresh's; want the same")
			}
			e.wantPair(t, "the retry", retry, u)
			if got := e.eventsOf(t, account.AuditSessionEnded, e.claims(t, retry.Access, u).SessionID); len(got) != 0 {
				t.Errorf("session.ended events after a retry within the grace: %v, want none", got)
			}
			// The new refresh token carries on as usual.
			e.clock.Advance(time.Minute)
			p3 := e.refresh(t, p2.Refresh)
			e.wantPair(t, "the next refresh", p3, u)
		})
	}
}

func TestRefreshConcurrent(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.createUser(t, "ann@example.com", oldPassword)
	p1 := e.grant(t, "ann@example.com", oldPassword)
	e.clock.Advance(time.Minute)

	const n = 8
	var wg sync.WaitGroup
	pairs := make([]account.TokenPair, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			pairs[i], errs[i] = e.svc.RefreshGrant(t.Context(), tenant, p1.Refresh)
		})
	}
	close(start)
	wg.Wait()

	newest := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			wantCode(t, "a concurrent refresh", errs[i], usher.Unauthorized)
			continue
		}
		newest[pairs[i].Refresh] = true
	}
	if len(newest) != 1 {
		t.Fatalf("concurrent refreshes of one token gave %d different new refresh tokens, want exactly 1", len(newest))
	}
	for rt := range newest {
		e.clock.Advance(time.Minute)
		e.wantPair(t, "refresh with the one new token", e.refresh(t, rt), u)
	}
	if got := e.eventsOf(t, account.AuditTokenRefreshed, e.claims(t, pairs[firstOK(errs)].Access, u).SessionID); len(got) != 2 {
		t.Errorf("token.refreshed events: got %d, want 2 (one rotation by the concurrent calls, one after)", len(got))
	}
}

func firstOK(errs []error) int {
	for i, err := range errs {
		if err == nil {
			return i
		}
	}
	return 0
}

func TestRefreshIdleTimeout(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.createUser(t, "ann@example.com", oldPassword)
	p := e.grant(t, "ann@example.com", oldPassword)

	// Refreshed just inside the idle timeout, the session lives on.
	for i := range 3 {
		e.clock.Advance(refreshRules.Idle - time.Second)
		p = e.refresh(t, p.Refresh)
		e.wantPair(t, fmt.Sprintf("refresh %d within the idle timeout", i+1), p, u)
	}
	c := e.claims(t, p.Access, u)

	e.clock.Advance(refreshRules.Idle)
	e.refused(t, "refresh after the idle timeout", p.Refresh)
	e.accessWorks(t, "the access token after the idle timeout", p.Access, false)
	if _, err := e.svc.RefreshGrant(t.Context(), tenant, p.Refresh); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("a second refresh of the idle session: got %v, want Unauthorized", err)
	}
	if got := e.eventsOf(t, account.AuditTokenRefreshed, c.SessionID); len(got) != 3 {
		t.Errorf("token.refreshed events: got %d, want 3 (none for the refused refreshes)", len(got))
	}
}

func TestRefreshMaxAge(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.createUser(t, "ann@example.com", oldPassword)
	start := e.clock.Now()
	p := e.grant(t, "ann@example.com", oldPassword)
	end := start.Add(refreshRules.MaxAge)

	step := 25 * time.Minute
	for e.clock.Now().Add(step).Before(end) {
		e.clock.Advance(step)
		p = e.refresh(t, p.Refresh)
		c := e.wantPair(t, "refresh before the maximum age", p, u)
		if left := end.Sub(e.clock.Now()); left < refreshRules.AccessTTL {
			if p.ExpiresIn != left || !c.Expiry.Equal(end) {
				t.Errorf("refresh %v before the maximum age: ExpiresIn %v, exp %v; want %v, %v", left, p.ExpiresIn, c.Expiry, left, end)
			}
		}
		if s := e.session(t, u, c.SessionID); s.ExpiresAt.After(end) {
			t.Errorf("session end %v past the maximum age %v", s.ExpiresAt, end)
		}
	}
	e.clock.Advance(end.Add(-time.Second).Sub(e.clock.Now()))
	e.accessWorks(t, "the access token just before the maximum age", p.Access, true)
	e.clock.Advance(time.Second)
	e.refused(t, "refresh at the maximum age", p.Refresh)
	e.accessWorks(t, "the access token at the maximum age", p.Access, false)
}

func TestRefreshEndedWithSession(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, e *refreshEnv, u usher.User, c token.Claims) error
	}{
		{"logout", func(t *testing.T, e *refreshEnv, u usher.User, c token.Claims) error {
			return e.svc.Logout(t.Context(), tenant, u.ID, c.SessionID)
		}},
		{"password change", func(t *testing.T, e *refreshEnv, u usher.User, _ token.Claims) error {
			return e.svc.SetPassword(t.Context(), tenant, u.ID, newPassword)
		}},
		{"password reset", func(t *testing.T, e *refreshEnv, u usher.User, _ token.Claims) error {
			return e.svc.ResetPassword(t.Context(), tenant, u.Email, e.sendReset(t, u.Email), newPassword)
		}},
		{"email change", func(t *testing.T, e *refreshEnv, u usher.User, _ token.Claims) error {
			return e.svc.SetEmail(t.Context(), tenant, u.ID, "ann.new@example.com")
		}},
		{"disable", func(t *testing.T, e *refreshEnv, u usher.User, _ token.Claims) error {
			return e.svc.SetEnabled(t.Context(), tenant, u.ID, false)
		}},
		{"delete", func(t *testing.T, e *refreshEnv, u usher.User, _ token.Claims) error {
			return e.svc.Delete(t.Context(), tenant, u.ID)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRefreshEnv(t)
			u := e.createUser(t, "ann@example.com", oldPassword)
			bob := e.createUser(t, "bob@example.com", oldPassword)
			p := e.grant(t, "ann@example.com", oldPassword)
			bp := e.grant(t, "bob@example.com", oldPassword)
			e.clock.Advance(time.Minute)
			rotated := p
			p = e.refresh(t, p.Refresh)
			c := e.claims(t, p.Access, u)

			if err := tt.end(t, e, u, c); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			e.refused(t, "the refresh token", p.Refresh)
			e.refused(t, "the rotated refresh token, within the grace", rotated.Refresh)
			e.accessWorks(t, "the access token", p.Access, false)
			if n := e.refreshRows(t, c.SessionID); n != 0 {
				t.Errorf("refresh tokens of the ended session: got %d rows, want 0", n)
			}
			// Nobody else's.
			e.wantPair(t, "another user's refresh", e.refresh(t, bp.Refresh), bob)
		})
	}
}

func TestRefreshMalformed(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.createUser(t, "ann@example.com", oldPassword)
	p := e.grant(t, "ann@example.com", oldPassword)
	events := len(e.events(t))

	tests := []struct {
		name    string
		raw     string
		reaches bool // the database is asked (the token has Usher's form)
	}{
		{"empty", "", false},
		{"an access token", p.Access, false},
		{"without the prefix", strings.TrimPrefix(p.Refresh, "rt_"), false},
		{"prefix in another case", "RT_" + strings.TrimPrefix(p.Refresh, "rt_"), false},
		{"too long", "rt_" + strings.Repeat("A", 126), false},
		{"far too long", "rt_" + strings.Repeat("A", 1<<20), false},
		{"with a suffix", p.Refresh + "x", true},
		{"the longest form", "rt_" + strings.Repeat("A", 125), true},
		{"the prefix alone", "rt_", true},
		{"unknown", "rt_" + strings.Repeat("A", 43), true},
		{"with a NUL", "rt_\x00" + strings.TrimPrefix(p.Refresh, "rt_"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.counter.updates.Load()
			e.refused(t, "RefreshGrant", tt.raw)
			if got := e.counter.updates.Load() - before; got != map[bool]int64{false: 0, true: 1}[tt.reaches] {
				t.Errorf("transactions: got %d, want %d", got, map[bool]int64{false: 0, true: 1}[tt.reaches])
			}
		})
	}
	if got := len(e.events(t)); got != events {
		t.Errorf("audit events after malformed refreshes: got %d, want %d (none written)", got, events)
	}
	e.wantPair(t, "the real token after the malformed ones", e.refresh(t, p.Refresh), u)
}

func TestRefreshOtherTenant(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.createUser(t, "ann@example.com", oldPassword)
	other, err := e.svc.CreateTenant(t.Context(), "other")
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	if _, err := e.svc.Create(t.Context(), other.ID, account.NewUser{Email: "ann@example.com", Password: oldPassword, Enabled: true}); err != nil {
		t.Fatalf("Create in the other tenant: %v", err)
	}
	p := e.grant(t, "ann@example.com", oldPassword)
	op, err := e.svc.PasswordGrant(t.Context(), other.ID, "ann@example.com", oldPassword)
	if err != nil {
		t.Fatalf("PasswordGrant in the other tenant: %v", err)
	}

	// Twice, and past the grace: a token of another tenant is unknown
	// here, never a reuse that would end its session.
	for range 2 {
		_, err := e.svc.RefreshGrant(t.Context(), other.ID, p.Refresh)
		wantCode(t, "the default tenant's token in the other tenant", err, usher.Unauthorized)
		_, err = e.svc.RefreshGrant(t.Context(), tenant, op.Refresh)
		wantCode(t, "the other tenant's token in the default tenant", err, usher.Unauthorized)
		e.clock.Advance(time.Minute)
	}
	e.wantPair(t, "the token in its own tenant", e.refresh(t, p.Refresh), u)
	if _, err := e.svc.RefreshGrant(t.Context(), other.ID, op.Refresh); err != nil {
		t.Errorf("the other tenant's token in its tenant: %v", err)
	}
}

func TestPasswordGrantLockout(t *testing.T) {
	e := newRefreshEnv(t) // lockout after 3 failures in 15 minutes
	u := e.createUser(t, "ann@example.com", oldPassword)

	// Failures of both calls count toward one lockout.
	if _, err := e.svc.Login(t.Context(), tenant, "ann@example.com", wrongPassword); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatalf("Login with a wrong password: %v", err)
	}
	for i := range 2 {
		_, err := e.svc.PasswordGrant(t.Context(), tenant, "ann@example.com", wrongPassword)
		wantCode(t, "PasswordGrant with a wrong password", err, usher.Unauthorized)
		if got := e.user(t, u.ID).FailedChecks; got != i+2 {
			t.Errorf("failures after wrong grant %d: got %d, want %d", i+1, got, i+2)
		}
	}
	_, err := e.svc.PasswordGrant(t.Context(), tenant, "ann@example.com", oldPassword)
	wantCode(t, "PasswordGrant with the right password while locked", err, usher.Unauthorized)
	if _, err := e.svc.Login(t.Context(), tenant, "ann@example.com", oldPassword); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("Login with the right password while locked: got %v, want Unauthorized", err)
	}
	if n := e.refreshRowsOfUser(t, u); n != 0 {
		t.Errorf("refresh tokens of a locked user: got %d, want 0", n)
	}

	e.clock.Advance(15 * time.Minute)
	e.wantPair(t, "PasswordGrant after the lockout", e.grant(t, "ann@example.com", oldPassword), u)
	if got := e.user(t, u.ID).FailedChecks; got != 0 {
		t.Errorf("failures after a successful grant: got %d, want 0", got)
	}
}

// storedHash is a refresh token's hash as the store keeps it (hex SHA-256).
func storedHash(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// TestRefreshTokensNotAudited walks every flow, then looks for any refresh
// token, or its hash, in the audit log.
func TestRefreshTokensNotAudited(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.createUser(t, "ann@example.com", oldPassword)
	var secrets []string
	keep := func(p account.TokenPair) account.TokenPair {
		body := strings.TrimPrefix(p.Refresh, "rt_")
		secrets = append(secrets, p.Refresh, body, storedHash(p.Refresh))
		return p
	}
	p1 := keep(e.grant(t, "ann@example.com", oldPassword))
	e.clock.Advance(time.Minute)
	p2 := keep(e.refresh(t, p1.Refresh))
	keep(e.refresh(t, p1.Refresh)) // within the grace
	e.clock.Advance(time.Minute)
	e.refused(t, "reuse", p1.Refresh)
	e.refused(t, "after reuse", p2.Refresh)
	p3 := keep(e.grant(t, "ann@example.com", oldPassword))
	if err := e.svc.SetPassword(t.Context(), tenant, u.ID, newPassword); err != nil {
		t.Fatal(err)
	}
	e.refused(t, "after the password change", p3.Refresh)

	es := e.events(t)
	types := map[string]int{}
	for _, ev := range es {
		types[ev.Type]++
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("event %s (%s) holds a refresh token or its hash: %s", ev.ID, ev.Type, b)
			}
		}
		if strings.Contains(string(b), "rt_") {
			t.Errorf("event %s (%s) holds something of a refresh token's form: %s", ev.ID, ev.Type, b)
		}
	}
	if types[account.AuditTokenRefreshed] != 1 || types[account.AuditSessionEnded] != 1 || types[account.AuditSessionStarted] != 2 {
		t.Errorf("event types: got %v; want one token.refreshed, one session.ended (reuse), two session.started", types)
	}
}
