package account_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/usher"
)

// The operator's use cases on users: listing, lookup by email, lockout
// and sessions.

// visitor is a caller that knows where it came from (usher.Origin).
type visitor struct{ surface, ip, agent string }

func (v visitor) ClientAddr() string { return v.ip }
func (v visitor) Surface() string    { return v.surface }
func (v visitor) ClientIP() string   { return v.ip }
func (v visitor) UserAgent() string  { return v.agent }
func (v visitor) RequestID() string  { return "" }

var _ usher.Origin = visitor{}

// mustCreate creates an enabled user in the default tenant of e.
func mustCreate(t *testing.T, e *accounttest.Env, email, pw string) usher.User {
	t.Helper()
	u, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: email, Password: pw, Enabled: true})
	if err != nil {
		t.Fatalf("Create(%q): %v", email, err)
	}
	return u
}

// mustList runs ListUsers and fails the test on an error.
func mustList(t *testing.T, e *accounttest.Env, q account.ListQuery) account.Page {
	t.Helper()
	p, err := e.Service.ListUsers(t.Context(), e.Tenant.ID, q)
	if err != nil {
		t.Fatalf("ListUsers(%+v): %v", q, err)
	}
	return p
}

func emails(us []usher.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Email)
	}
	return out
}

func TestListUsersPaging(t *testing.T) {
	e := accounttest.New(t)
	var want []usher.User
	for i := range 7 {
		want = append(want, mustCreate(t, e, "user"+string(rune('a'+i))+"@example.com", oldPassword))
		if i%3 == 2 {
			e.Clock.Advance(time.Millisecond) // some share a millisecond: the id decides
		}
	}
	slices.SortFunc(want, func(a, b usher.User) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})

	for _, limit := range []int{1, 2, 3, 6, 7, 8} {
		var got []usher.User
		q := account.ListQuery{Limit: limit}
		pages := 0
		for {
			p := mustList(t, e, q)
			pages++
			if len(p.Users) > limit {
				t.Fatalf("limit %d: a page of %d users", limit, len(p.Users))
			}
			got = append(got, p.Users...)
			if p.Next == "" {
				break
			}
			if pages > 10 {
				t.Fatalf("limit %d: still paging after %d pages", limit, pages)
			}
			q.Cursor = p.Next
		}
		if !slices.Equal(emails(got), emails(want)) {
			t.Errorf("limit %d: got %q, want %q", limit, emails(got), emails(want))
		}
		// A full last page says there is none after it: no empty page.
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: got %d pages, want %d", limit, pages, wantPages)
		}
	}

	t.Run("DefaultLimit", func(t *testing.T) {
		p := mustList(t, e, account.ListQuery{})
		if len(p.Users) != len(want) || p.Next != "" {
			t.Errorf("ListUsers without a limit: got %d users, next %q; want %d, none", len(p.Users), p.Next, len(want))
		}
	})

	t.Run("Count", func(t *testing.T) {
		p := mustList(t, e, account.ListQuery{Limit: 2, Count: true})
		if p.Total == nil || *p.Total != len(want) {
			t.Errorf("Total: got %v, want %d", p.Total, len(want))
		}
		p = mustList(t, e, account.ListQuery{Limit: 2, Cursor: p.Next, Count: true, Email: "USERB"})
		if p.Total == nil || *p.Total != 1 {
			t.Errorf("Total with a filter on a later page: got %v, want 1", p.Total)
		}
		if p = mustList(t, e, account.ListQuery{Limit: 2}); p.Total != nil {
			t.Errorf("Total when not asked for: got %d, want nil", *p.Total)
		}
	})

	t.Run("EmailFilter", func(t *testing.T) {
		for _, f := range []string{"userc", "USERC@EXAMPLE", "  UserC "} {
			p := mustList(t, e, account.ListQuery{Email: f})
			if got := emails(p.Users); !slices.Equal(got, []string{"userc@example.com"}) {
				t.Errorf("Email %q: got %q, want userc@example.com", f, got)
			}
		}
		if p := mustList(t, e, account.ListQuery{Email: "%"}); len(p.Users) != 0 {
			t.Errorf("Email %%: got %q, want none (no address has a %%)", emails(p.Users))
		}
	})

	t.Run("CursorSurvivesChanges", func(t *testing.T) {
		p := mustList(t, e, account.ListQuery{Limit: 3})
		if err := e.Service.Delete(t.Context(), e.Tenant.ID, p.Users[2].ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := e.Service.Delete(t.Context(), e.Tenant.ID, want[4].ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		e.Clock.Advance(time.Second)
		late := mustCreate(t, e, "late@example.com", oldPassword)
		var rest []usher.User
		for q := (account.ListQuery{Limit: 3, Cursor: p.Next}); ; {
			p := mustList(t, e, q)
			rest = append(rest, p.Users...)
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
		wantRest := []string{want[3].Email, want[5].Email, want[6].Email, late.Email}
		if !slices.Equal(emails(rest), wantRest) {
			t.Errorf("pages after deleting and creating users: got %q, want %q", emails(rest), wantRest)
		}
	})
}

func TestListUsersRefused(t *testing.T) {
	e := accounttest.New(t)
	mustCreate(t, e, "ann@example.com", oldPassword)
	tests := []struct {
		name string
		q    account.ListQuery
	}{
		{"NegativeLimit", account.ListQuery{Limit: -1}},
		{"LimitOverMax", account.ListQuery{Limit: account.MaxPageSize + 1}},
		{"CursorNotBase64", account.ListQuery{Cursor: "not a cursor!"}},
		{"CursorTooShort", account.ListQuery{Cursor: base64.RawURLEncoding.EncodeToString(make([]byte, 23))}},
		{"CursorTooLong", account.ListQuery{Cursor: base64.RawURLEncoding.EncodeToString(make([]byte, 25))}},
		{"CursorPadded", account.ListQuery{Cursor: base64.URLEncoding.EncodeToString(make([]byte, 25))}},
		{"EmailTooLong", account.ListQuery{Email: strings.Repeat("a", 255)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.Service.ListUsers(t.Context(), e.Tenant.ID, tt.q)
			wantCode(t, "ListUsers", err, usher.Invalid)
			if len(p.Users) != 0 {
				t.Errorf("ListUsers: got %d users with the error, want none", len(p.Users))
			}
		})
	}
	for _, limit := range []int{1, account.MaxPageSize} {
		if _, err := e.Service.ListUsers(t.Context(), e.Tenant.ID, account.ListQuery{Limit: limit}); err != nil {
			t.Errorf("ListUsers with limit %d: %v", limit, err)
		}
	}
	// A well-formed cursor that no listing gave is only a position.
	p := mustList(t, e, account.ListQuery{Cursor: base64.RawURLEncoding.EncodeToString(make([]byte, 24))})
	if len(p.Users) != 1 {
		t.Errorf("ListUsers after the zero position: got %q, want every user", emails(p.Users))
	}
}

func TestUserByEmailVariants(t *testing.T) {
	e := accounttest.New(t)
	ann := mustCreate(t, e, "Ann.Lee@Example.COM", oldPassword)
	jose := mustCreate(t, e, "José@Bücher.example", oldPassword) // NFC é
	kelvin := mustCreate(t, e, "kelvin@example.com", oldPassword)
	tests := []struct {
		email string
		want  usher.User
		code  usher.Code
	}{
		{email: "Ann.Lee@Example.COM", want: ann},
		{email: "ann.lee@example.com", want: ann},
		{email: "ANN.LEE@EXAMPLE.COM", want: ann},
		{email: "  ann.lee@example.com\t", want: ann},
		{email: "josé@bücher.example", want: jose},
		{email: "JOSÉ@BÜCHER.EXAMPLE", want: jose},
		{email: "Jose\u0301@Bu\u0308cher.example", want: jose},   // NFD
		{email: "josé@xn--bcher-kva.example", want: jose},        // the domain in punycode
		{email: "\u212aelvin@example.com", code: usher.NotFound}, // KELVIN SIGN is not a K
		{email: "jose@bucher.example", code: usher.NotFound},
		{email: "nobody@example.com", code: usher.NotFound},
		{email: "not an address", code: usher.InvalidEmail},
		{email: "", code: usher.InvalidEmail},
	}
	for _, tt := range tests {
		got, err := e.Service.UserByEmail(t.Context(), e.Tenant.ID, tt.email)
		if tt.code != "" {
			wantCode(t, "UserByEmail("+tt.email+")", err, tt.code)
			continue
		}
		if err != nil {
			t.Errorf("UserByEmail(%q): %v", tt.email, err)
			continue
		}
		if got.ID != tt.want.ID || got.Email != tt.want.Email {
			t.Errorf("UserByEmail(%q): got %s (%s), want %s (%s)", tt.email, got.Email, got.ID, tt.want.Email, tt.want.ID)
		}
	}
	other, err := e.Service.CreateTenant(t.Context(), "other")
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	_, err = e.Service.UserByEmail(t.Context(), other.ID, kelvin.Email)
	wantCode(t, "UserByEmail in another tenant", err, usher.NotFound)
}

func TestLockedUntilAndUnlock(t *testing.T) {
	const email = "locked@example.com"
	tests := []struct {
		name        string
		lockout     account.Lockout
		accountWide bool // three failures lock the account for every address
	}{
		{"AccountWide", account.Lockout{Max: 3, AccountMax: 3, Window: window}, true},
		{"OneAddress", account.Lockout{Max: 3, Window: window}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := accounttest.New(t, func(c *account.Config) { c.Lockout = tt.lockout })
			u := mustCreate(t, e, email, oldPassword)
			attacker := at(t, "203.0.113.7")
			e.Clock.Advance(time.Minute)
			firstFailure := e.Clock.Now()
			for range 3 {
				_, err := e.Service.Login(attacker, e.Tenant.ID, email, wrongPassword)
				wantCode(t, "wrong password", err, usher.Unauthorized)
				e.Clock.Advance(time.Second)
			}
			_, err := e.Service.Login(attacker, e.Tenant.ID, email, oldPassword)
			wantCode(t, "right password from the locked address", err, usher.Unauthorized)

			locked, err := e.Service.User(t.Context(), e.Tenant.ID, u.ID)
			if err != nil {
				t.Fatalf("User: %v", err)
			}
			var wantUntil time.Time
			if tt.accountWide {
				wantUntil = firstFailure.Add(window)
			}
			if got := e.Service.LockedUntil(locked); !got.Equal(wantUntil) {
				t.Errorf("LockedUntil: got %v, want %v", got, wantUntil)
			}
			p := mustList(t, e, account.ListQuery{Locked: yes()})
			if got, want := len(p.Users), map[bool]int{true: 1, false: 0}[tt.accountWide]; got != want {
				t.Errorf("ListUsers locked: got %q, want %d users", emails(p.Users), want)
			}

			if err := e.Service.Unlock(t.Context(), e.Tenant.ID, u.ID); err != nil {
				t.Fatalf("Unlock: %v", err)
			}
			unlocked, err := e.Service.User(t.Context(), e.Tenant.ID, u.ID)
			if err != nil {
				t.Fatalf("User: %v", err)
			}
			if got := e.Service.LockedUntil(unlocked); !got.IsZero() {
				t.Errorf("LockedUntil after Unlock: got %v, want the zero time", got)
			}
			if unlocked.FailedChecks != 0 || !unlocked.FailedSince.IsZero() {
				t.Errorf("after Unlock: %d failures since %v, want none", unlocked.FailedChecks, unlocked.FailedSince)
			}
			if p := mustList(t, e, account.ListQuery{Locked: yes()}); len(p.Users) != 0 {
				t.Errorf("ListUsers locked after Unlock: got %q, want none", emails(p.Users))
			}
			if _, err := e.Service.Login(attacker, e.Tenant.ID, email, oldPassword); err != nil {
				t.Errorf("right password from the same address after Unlock: %v", err)
			}
		})
	}

	t.Run("LockEnds", func(t *testing.T) {
		e := accounttest.New(t, func(c *account.Config) { c.Lockout = account.Lockout{Max: 3, AccountMax: 3, Window: window} })
		u := mustCreate(t, e, email, oldPassword)
		for range 3 {
			e.Service.Login(t.Context(), e.Tenant.ID, email, wrongPassword)
		}
		u, _ = e.Service.User(t.Context(), e.Tenant.ID, u.ID)
		until := e.Service.LockedUntil(u)
		e.Clock.Advance(window - time.Millisecond)
		if got := e.Service.LockedUntil(u); !got.Equal(until) {
			t.Errorf("LockedUntil a millisecond before the end: got %v, want %v", got, until)
		}
		e.Clock.Advance(time.Millisecond)
		if got := e.Service.LockedUntil(u); !got.IsZero() {
			t.Errorf("LockedUntil at the end: got %v, want the zero time", got)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		e := accounttest.New(t)
		wantCode(t, "Unlock of an unknown user", e.Service.Unlock(t.Context(), e.Tenant.ID, usher.NewID(e.Clock.Now())), usher.NotFound)
		wantCode(t, "Unlock of a malformed id", e.Service.Unlock(t.Context(), e.Tenant.ID, "nope"), usher.NotFound)
		u := mustCreate(t, e, email, oldPassword)
		if err := e.Service.Unlock(t.Context(), e.Tenant.ID, u.ID); err != nil {
			t.Errorf("Unlock of a user not locked: %v", err)
		}
	})
}

// yes is a pointer to true, for the optional flags of a query.
func yes() *bool { b := true; return &b }

// sessionOf returns the session ID of a token.
func sessionOf(t *testing.T, e *accounttest.Env, tok string) string {
	t.Helper()
	_, c, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tok)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return c.SessionID
}

// mustSessions returns the user's sessions.
func mustSessions(t *testing.T, e *accounttest.Env, userID string) []usher.Session {
	t.Helper()
	ss, err := e.Service.Sessions(t.Context(), e.Tenant.ID, userID)
	if err != nil {
		t.Fatalf("Sessions: %v", err)
	}
	return ss
}

func TestSessionsOrigin(t *testing.T) {
	e := accounttest.New(t)
	u := mustCreate(t, e, "ann@example.com", oldPassword)
	browser := visitor{surface: "public", ip: "198.51.100.23", agent: "Mozilla/5.0 (Test)"}
	tests := []struct {
		name string
		ctx  context.Context
		want visitor
	}{
		{"Origin", usher.WithCaller(t.Context(), browser), browser},
		{"CallerWithoutOrigin", at(t, "192.0.2.1"), visitor{}},
		{"NoCaller", t.Context(), visitor{}},
	}
	var started []time.Time
	for _, tt := range tests {
		e.Clock.Advance(time.Second) // session times have second precision
		started = append(started, e.Clock.Now())
		if _, err := e.Service.Login(tt.ctx, e.Tenant.ID, u.Email, oldPassword); err != nil {
			t.Fatalf("%s: Login: %v", tt.name, err)
		}
	}
	got := mustSessions(t, e, u.ID)
	if len(got) != len(tests) {
		t.Fatalf("Sessions: got %d, want %d", len(got), len(tests))
	}
	for i, tt := range tests {
		s := got[len(got)-1-i] // newest first
		if s.Surface != tt.want.surface || s.ClientIP != tt.want.ip || s.UserAgent != tt.want.agent {
			t.Errorf("%s: session from %q, %q, %q; want %q, %q, %q", tt.name, s.Surface, s.ClientIP, s.UserAgent,
				tt.want.surface, tt.want.ip, tt.want.agent)
		}
		if !s.CreatedAt.Equal(started[i]) || !s.ExpiresAt.Equal(started[i].Add(time.Hour)) || !s.LastUsedAt.IsZero() {
			t.Errorf("%s: session created %v, expires %v, last used %v; want %v, %v, never", tt.name,
				s.CreatedAt, s.ExpiresAt, s.LastUsedAt, started[i], started[i].Add(time.Hour))
		}
		if s.UserID != u.ID || s.TenantID != e.Tenant.ID || !usher.ValidID(s.ID) {
			t.Errorf("%s: session %+v does not name the user", tt.name, s)
		}
	}

	_, err := e.Service.Sessions(t.Context(), e.Tenant.ID, usher.NewID(e.Clock.Now()))
	wantCode(t, "Sessions of an unknown user", err, usher.NotFound)
	_, err = e.Service.Sessions(t.Context(), e.Tenant.ID, "nope")
	wantCode(t, "Sessions of a malformed id", err, usher.NotFound)

	e.Clock.Advance(time.Hour - 2*time.Second) // the first session expires, the second not yet
	if got := mustSessions(t, e, u.ID); len(got) != len(tests)-1 {
		t.Errorf("Sessions once the first expired: got %d, want %d", len(got), len(tests)-1)
	}
}

func TestEndSessions(t *testing.T) {
	e := accounttest.New(t)
	ann := mustCreate(t, e, "ann@example.com", oldPassword)
	bob := mustCreate(t, e, "bob@example.com", oldPassword)
	login := func(email string) string {
		t.Helper()
		tok, err := e.Service.Login(t.Context(), e.Tenant.ID, email, oldPassword)
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		return tok
	}
	annToks := []string{login(ann.Email), login(ann.Email), login(ann.Email)}
	bobTok := login(bob.Email)
	lives := func(what, tok string, want bool) {
		t.Helper()
		_, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tok)
		if want {
			wantCode(t, what, err, "")
		} else {
			wantCode(t, what, err, usher.Unauthorized)
		}
	}
	first := sessionOf(t, e, annToks[0])

	wantCode(t, "EndSession of another user's session", e.Service.EndSession(t.Context(), e.Tenant.ID, bob.ID, first), usher.NotFound)
	wantCode(t, "EndSession of an unknown session", e.Service.EndSession(t.Context(), e.Tenant.ID, ann.ID, usher.NewID(e.Clock.Now())), usher.NotFound)
	wantCode(t, "EndSession of a malformed session id", e.Service.EndSession(t.Context(), e.Tenant.ID, ann.ID, "nope"), usher.NotFound)
	wantCode(t, "EndSession of a malformed user id", e.Service.EndSession(t.Context(), e.Tenant.ID, "nope", first), usher.NotFound)
	wantCode(t, "EndSession of an unknown user", e.Service.EndSession(t.Context(), e.Tenant.ID, usher.NewID(e.Clock.Now()), first), usher.NotFound)
	lives("session after refused EndSession calls", annToks[0], true)

	if err := e.Service.EndSession(t.Context(), e.Tenant.ID, ann.ID, first); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	lives("ended session", annToks[0], false)
	lives("the user's other session", annToks[1], true)
	wantCode(t, "second EndSession", e.Service.EndSession(t.Context(), e.Tenant.ID, ann.ID, first), usher.NotFound)
	if got := mustSessions(t, e, ann.ID); len(got) != 2 || slices.ContainsFunc(got, func(s usher.Session) bool { return s.ID == first }) {
		t.Errorf("Sessions after EndSession: got %+v, want the two others", got)
	}

	wantCode(t, "EndSessions of an unknown user", e.Service.EndSessions(t.Context(), e.Tenant.ID, usher.NewID(e.Clock.Now())), usher.NotFound)
	wantCode(t, "EndSessions of a malformed id", e.Service.EndSessions(t.Context(), e.Tenant.ID, "nope"), usher.NotFound)
	if err := e.Service.EndSessions(t.Context(), e.Tenant.ID, ann.ID); err != nil {
		t.Fatalf("EndSessions: %v", err)
	}
	for _, tok := range annToks {
		lives("session after EndSessions", tok, false)
	}
	lives("another user's session after EndSessions", bobTok, true)
	if got := mustSessions(t, e, ann.ID); len(got) != 0 {
		t.Errorf("Sessions after EndSessions: got %d, want none", len(got))
	}
	if err := e.Service.EndSessions(t.Context(), e.Tenant.ID, ann.ID); err != nil {
		t.Errorf("EndSessions of a user without sessions: %v", err)
	}
	// The user can sign in again.
	lives("a new session after EndSessions", login(ann.Email), true)
}

func TestSessionLastUsed(t *testing.T) {
	e := accounttest.New(t)
	u := mustCreate(t, e, "ann@example.com", oldPassword)
	tok, err := e.Service.Login(t.Context(), e.Tenant.ID, u.Email, oldPassword)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	lastUsed := func() time.Time {
		t.Helper()
		ss := mustSessions(t, e, u.ID)
		if len(ss) != 1 {
			t.Fatalf("Sessions: got %d, want 1", len(ss))
		}
		return ss[0].LastUsedAt
	}
	if got := lastUsed(); !got.IsZero() {
		t.Fatalf("last used before any use: got %v, want the zero time", got)
	}
	start := e.Clock.Now()
	steps := []struct {
		advance time.Duration // before the request
		want    time.Duration // last used, after start
	}{
		{0, 0},           // first use: marked
		{time.Minute, 0}, // fresh mark: kept
		{4*time.Minute - time.Millisecond, 0},
		{time.Millisecond, 5 * time.Minute}, // five minutes old: marked again
		{4 * time.Minute, 5 * time.Minute},
		{time.Minute + time.Second, 10*time.Minute + time.Second},
	}
	for i, st := range steps {
		e.Clock.Advance(st.advance)
		if _, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tok); err != nil {
			t.Fatalf("request %d: Authenticate: %v", i+1, err)
		}
		if got, want := lastUsed(), start.Add(st.want); !got.Equal(want) {
			t.Errorf("request %d at +%v: last used %v, want %v", i+1, e.Clock.Now().Sub(start), got, want)
		}
	}
}
