package backend_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/usher"
)

// checked is a scenario whose answer a function checks too, for answers
// that hold what only the answer knows: a new key, a cursor, a new id.
// check replaces the body comparison when it is set.
type checked struct {
	scenario
	check func(t *testing.T, e *env, rec *httptest.ResponseRecorder)
}

// runChecked runs scenarios as run does, each on a fresh surface.
func runChecked(t *testing.T, tests []checked) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, false)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			rec := e.serve(t, tc.scenario)
			if rec.Code != tc.status {
				t.Errorf("status: got %d, want %d (body %s)", rec.Code, tc.status, rec.Body)
			}
			for k, v := range tc.wantHeader {
				if got, want := rec.Header().Get(k), e.vars.Expand(v); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			if tc.check != nil {
				tc.check(t, e, rec)
			} else {
				apitest.CheckNativeBody(t, rec, e.vars.Expand(tc.wantBody), tc.wantCode)
			}
			if tc.after != nil {
				tc.after(t, e)
			}
		})
	}
}

// at is the clock's start moved by d, as native bodies write times.
func at(d time.Duration) string { return start.Add(d).UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// userBody is the native body of a user created and last changed at the
// clock's start moved by d, with a lockout end when lockedUntil is set.
func userBody(id, email string, confirmed, enabled bool, data string, d time.Duration, lockedUntil string) string {
	locked := ""
	if lockedUntil != "" {
		locked = fmt.Sprintf(`,"locked_until":%q`, lockedUntil)
	}
	return fmt.Sprintf(`{"id":%q,"email":%q,"confirmed":%t,"enabled":%t,"data":%s,"created_at":%q,"updated_at":%q%s}`,
		id, email, confirmed, enabled, data, at(d), at(d), locked)
}

// peer is a client of the public surface: its address counts for lockout,
// and its origin is what its sessions show.
type peer struct{ addr, surface, agent string }

func (p peer) ClientAddr() string { return p.addr }
func (p peer) Surface() string    { return p.surface }
func (p peer) ClientIP() string   { return p.addr }
func (p peer) UserAgent() string  { return p.agent }
func (p peer) RequestID() string  { return "" }

// lockOut fails {id}'s password check until the account is locked for
// every address: Lockout.Max (10) failures from each of ten addresses
// make the account-wide 100. The first address then fails once more,
// which its own count refuses.
func lockOut(t *testing.T, e *env) {
	t.Helper()
	for i := range 10 {
		ctx := usher.WithCaller(t.Context(), peer{addr: fmt.Sprintf("198.51.100.%d", i+1)})
		for range 10 {
			if ok, err := e.Service.CheckPassword(ctx, e.Tenant.ID, e.vars["{id}"], newPassword); err != nil || ok {
				t.Fatalf("CheckPassword(wrong): got %t, %v; want false, nil", ok, err)
			}
		}
	}
	ctx := usher.WithCaller(t.Context(), peer{addr: "198.51.100.1"})
	if ok, err := e.Service.CheckPassword(ctx, e.Tenant.ID, e.vars["{id}"], newPassword); err != nil || ok {
		t.Fatalf("CheckPassword(wrong) over the address's limit: got %t, %v; want false, nil", ok, err)
	}
}

// lockedUntil is when lockOut's lockout ends: its window (15 minutes)
// after the first failure.
var lockedUntil = at(15 * time.Minute)

// withLockedAnn creates ann ({id}) and locks her out.
func withLockedAnn(t *testing.T, e *env) {
	withAnn(nil)(t, e)
	lockOut(t, e)
}

// checkpwFrom runs CheckPassword for {id} from a client address.
func checkpwFrom(addr, pw string, want bool) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		t.Helper()
		ctx := usher.WithCaller(t.Context(), peer{addr: addr})
		ok, err := e.Service.CheckPassword(ctx, e.Tenant.ID, e.vars["{id}"], pw)
		if err != nil || ok != want {
			t.Errorf("CheckPassword(%q) from %s: got %t, %v; want %t, nil", pw, addr, ok, err, want)
		}
	}
}

func TestFindByEmail(t *testing.T) {
	annBody := userJSON("{id}", "ann@example.com", true, true, `{"plan":"pro"}`)
	run(t, []scenario{
		{name: "found", setup: withAnn(confirmed), method: "GET", path: "/users?email=ann@example.com", status: http.StatusOK, wantHeader: map[string]string{"Cache-Control": "no-store"}, wantBody: annBody},
		{name: "found in another case", setup: withAnn(confirmed), method: "GET", path: "/users?email=" + url.QueryEscape("ANN@Example.COM"), status: http.StatusOK, wantBody: annBody},
		{name: "found with the slash", setup: withAnn(confirmed), method: "GET", path: "/users/?email=ann@EXAMPLE.com", status: http.StatusOK, wantBody: annBody},
		{name: "found among others", setup: withAnnAndBob, method: "GET", path: "/users?email=bob@example.com", status: http.StatusOK, wantBody: userJSON("{bob}", "bob@example.com", false, true, "{}")},
		{name: "found while locked out", setup: withLockedAnn, method: "GET", path: "/users?email=ann@example.com", status: http.StatusOK, wantBody: userBody("{id}", "ann@example.com", false, true, `{"plan":"pro"}`, 0, lockedUntil)},
		{name: "unknown", setup: withAnn(nil), method: "GET", path: "/users?email=eve@example.com", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "invalid", setup: withAnn(nil), method: "GET", path: "/users?email=not-an-address", status: http.StatusBadRequest, wantCode: usher.InvalidEmail},
		{name: "empty", setup: withAnn(nil), method: "GET", path: "/users?email=", status: http.StatusBadRequest, wantCode: usher.InvalidEmail},
		{name: "with a display name", setup: withAnn(nil), method: "GET", path: "/users?email=" + url.QueryEscape("Ann <ann@example.com>"), status: http.StatusBadRequest, wantCode: usher.InvalidEmail},
		{name: "with limit", setup: withAnn(nil), method: "GET", path: "/users?email=ann@example.com&limit=1", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "with q", setup: withAnn(nil), method: "GET", path: "/users?q=ann&email=ann@example.com", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "with count", setup: withAnn(nil), method: "GET", path: "/users?email=ann@example.com&count=true", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "with an unknown parameter", setup: withAnn(nil), method: "GET", path: "/users?email=ann@example.com&role=admin", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "given twice", setup: withAnn(nil), method: "GET", path: "/users?email=ann@example.com&email=bob@example.com", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "without a client certificate", setup: withAnn(nil), method: "GET", path: "/users?email=ann@example.com", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{name: "database unreachable", setup: withAnn(nil), down: true, method: "GET", path: "/users?email=ann@example.com", status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantCode: usher.Unavailable},
	})
}

// listBody is the decoded answer of GET /users.
type listBody struct {
	Users []struct {
		ID          string `json:"id"`
		Email       string `json:"email"`
		LockedUntil string `json:"locked_until"`
	} `json:"users"`
	NextCursor *string `json:"next_cursor"`
	Total      *int    `json:"total"`
}

func decodeList(t *testing.T, rec *httptest.ResponseRecorder) listBody {
	t.Helper()
	var b listBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("list body %s: %v", rec.Body, err)
	}
	if !strings.Contains(rec.Body.String(), `"next_cursor":`) {
		t.Errorf("list body %s has no next_cursor", rec.Body)
	}
	return b
}

func (b listBody) emails() []string {
	out := []string{}
	for _, u := range b.Users {
		out = append(out, u.Email)
	}
	return out
}

// withFour creates four users a second apart, each its own mix of flags:
// ann (confirmed), bob (disabled), cat (confirmed, disabled), dan (locked
// out). {ann} … {dan} are their ids.
func withFour(t *testing.T, e *env) {
	for _, u := range []struct {
		name                string
		confirmed, disabled bool
	}{{"ann", true, false}, {"bob", false, true}, {"cat", true, true}, {"dan", false, false}} {
		e.Clock.Advance(time.Second)
		x := e.createUser(t, account.NewUser{Email: u.name + "@example.com", Password: annPassword, Confirmed: u.confirmed, Enabled: !u.disabled})
		e.vars["{"+u.name+"}"] = x.ID
	}
	lockOut(t, e) // {id} is dan's
}

// wantEmails checks the users of a list answer, in order, and its total.
func wantEmails(total int, want ...string) func(*testing.T, *env, *httptest.ResponseRecorder) {
	return func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
		t.Helper()
		b := decodeList(t, rec)
		if diff := cmp.Diff(append([]string{}, want...), b.emails()); diff != "" {
			t.Errorf("users (-want +got):\n%s", diff)
		}
		if b.NextCursor != nil {
			t.Errorf("next_cursor: got %q, want null", *b.NextCursor)
		}
		switch {
		case total < 0 && b.Total != nil:
			t.Errorf("total: got %d, want none", *b.Total)
		case total >= 0 && (b.Total == nil || *b.Total != total):
			t.Errorf("total: got %v, want %d", b.Total, total)
		}
	}
}

func TestListFilters(t *testing.T) {
	q := func(query string, total int, want ...string) checked {
		name := query
		if name == "" {
			name = "no filter"
		}
		return checked{
			scenario: scenario{name: name, setup: withFour, method: "GET", path: "/users?" + query, status: http.StatusOK},
			check:    wantEmails(total, want...),
		}
	}
	all := []string{"ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com"}
	runChecked(t, []checked{
		q("", -1, all...),
		q("count=true", 4, all...),
		q("count=false", -1, all...),
		q("enabled=true", -1, "ann@example.com", "dan@example.com"),
		q("enabled=false&count=true", 2, "bob@example.com", "cat@example.com"),
		q("confirmed=true", -1, "ann@example.com", "cat@example.com"),
		q("confirmed=false", -1, "bob@example.com", "dan@example.com"),
		q("locked=true&count=true", 1, "dan@example.com"),
		q("locked=false", -1, "ann@example.com", "bob@example.com", "cat@example.com"),
		q("q=AN", -1, "ann@example.com", "dan@example.com"),
		q("q=bob%40EXAMPLE", -1, "bob@example.com"),
		q("q=%25", -1), // LIKE's wildcards match themselves only
		q("q=_", -1),   // …
		q("q=%5C", -1), // and so does its escape
		q("q=zed&count=true", 0),
		q("created_after="+url.QueryEscape(at(2*time.Second)), -1, "cat@example.com", "dan@example.com"),
		q("created_before="+url.QueryEscape(at(3*time.Second)), -1, "ann@example.com", "bob@example.com"),
		q("created_after="+url.QueryEscape(at(time.Second))+"&created_before="+url.QueryEscape(at(4*time.Second))+"&count=true", 2, "bob@example.com", "cat@example.com"),
		q("created_after=2030-03-04T06:06:09%2B01:00", -1, "cat@example.com", "dan@example.com"), // an offset is a time like any other
		q("enabled=true&confirmed=false&locked=true&q=dan&count=true", 1, "dan@example.com"),
		{
			scenario: scenario{name: "a locked user's body shows when the lockout ends", setup: withFour, method: "GET", path: "/users?locked=true", status: http.StatusOK},
			check: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				apitest.CheckNativeBody(t, rec, e.vars.Expand(`{"users":[`+userBody("{dan}", "dan@example.com", false, true, "{}", 4*time.Second, at(4*time.Second+15*time.Minute))+`],"next_cursor":null}`), "")
			},
		},
	})
}

func TestListBody(t *testing.T) {
	run(t, []scenario{
		{name: "none", method: "GET", path: "/users", status: http.StatusOK, wantBody: `{"users":[],"next_cursor":null}`},
		{name: "none, counted", method: "GET", path: "/users/?count=true", status: http.StatusOK, wantBody: `{"users":[],"next_cursor":null,"total":0}`},
		{
			name: "one", setup: withAnn(confirmed), method: "GET", path: "/users?limit=1&count=true", status: http.StatusOK,
			wantHeader: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
			wantBody:   `{"users":[` + userJSON("{id}", "ann@example.com", true, true, `{"plan":"pro"}`) + `],"next_cursor":null,"total":1}`,
		},
		{name: "the largest limit", setup: withAnn(confirmed), method: "GET", path: "/users?limit=500", status: http.StatusOK, wantBody: `{"users":[` + userJSON("{id}", "ann@example.com", true, true, `{"plan":"pro"}`) + `],"next_cursor":null}`},
		{name: "limit 0", method: "GET", path: "/users?limit=0", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "limit 501", method: "GET", path: "/users?limit=501", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "negative limit", method: "GET", path: "/users?limit=-1", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "limit not a number", method: "GET", path: "/users?limit=ten", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "empty limit", method: "GET", path: "/users?limit=", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "unknown parameter", method: "GET", path: "/users?offset=50", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "repeated parameter", method: "GET", path: "/users?limit=10&limit=20", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "repeated filter", method: "GET", path: "/users?enabled=true&enabled=true", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "enabled not a bool", method: "GET", path: "/users?enabled=yes", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "confirmed as a number", method: "GET", path: "/users?confirmed=1", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "locked in capitals", method: "GET", path: "/users?locked=TRUE", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "count not a bool", method: "GET", path: "/users?count=all", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "created_after not a time", method: "GET", path: "/users?created_after=yesterday", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "created_before a date only", method: "GET", path: "/users?created_before=2030-03-04", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "created_before without a zone", method: "GET", path: "/users?created_before=2030-03-04T05:06:07", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "cursor not base64", method: "GET", path: "/users?cursor=***", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "cursor of the wrong length", method: "GET", path: "/users?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("short")), status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "q too long", method: "GET", path: "/users?q=" + strings.Repeat("a", 255), status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "without a client certificate", method: "GET", path: "/users", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
	})
}

// TestListPaging follows next_cursor over 120 users, many of them created
// in the same millisecond, so that pages end inside a run of equal times.
func TestListPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	var want []usher.User
	for i := range 120 {
		if i%7 == 0 {
			e.Clock.Advance(time.Millisecond)
		}
		want = append(want, e.createUser(t, account.NewUser{Email: fmt.Sprintf("user%03d@example.com", i), Password: annPassword, Enabled: true}))
	}
	slices.SortFunc(want, func(a, b usher.User) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var wantIDs []string
	for _, u := range want {
		wantIDs = append(wantIDs, u.ID)
	}

	var got []string
	var sizes []int
	path := "/users?limit=50&count=true"
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatalf("still paging after %d pages", page)
		}
		rec := e.serve(t, scenario{method: "GET", path: path})
		if rec.Code != http.StatusOK {
			t.Fatalf("page %d: status %d, body %s", page, rec.Code, rec.Body)
		}
		b := decodeList(t, rec)
		if b.Total == nil || *b.Total != 120 {
			t.Errorf("page %d: total: got %v, want 120", page, b.Total)
		}
		sizes = append(sizes, len(b.Users))
		for _, u := range b.Users {
			got = append(got, u.ID)
			if u.LockedUntil != "" {
				t.Errorf("user %s: locked_until %q, want none", u.Email, u.LockedUntil)
			}
		}
		if b.NextCursor == nil {
			break
		}
		path = "/users?limit=50&count=true&cursor=" + url.QueryEscape(*b.NextCursor)
	}
	if diff := cmp.Diff([]int{50, 50, 20}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantIDs, got); diff != "" {
		t.Errorf("users in order (-want +got):\n%s", diff)
	}

	// A page exactly at the end has no next one.
	rec := e.serve(t, scenario{method: "GET", path: "/users?limit=120"})
	if b := decodeList(t, rec); len(b.Users) != 120 || b.NextCursor != nil {
		t.Errorf("limit 120: got %d users and next_cursor %v, want 120 and null", len(b.Users), b.NextCursor)
	}

	// A cursor keeps its place when the user it names is deleted.
	rec = e.serve(t, scenario{method: "GET", path: "/users?limit=10"})
	b := decodeList(t, rec)
	if b.NextCursor == nil {
		t.Fatalf("limit 10: no next_cursor")
	}
	if err := e.Service.Delete(t.Context(), e.Tenant.ID, wantIDs[9]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	rec = e.serve(t, scenario{method: "GET", path: "/users?limit=1&cursor=" + url.QueryEscape(*b.NextCursor)})
	if b := decodeList(t, rec); len(b.Users) != 1 || b.Users[0].ID != wantIDs[10] {
		t.Errorf("after the cursor's user was deleted: got %+v, want %s", b.Users, wantIDs[10])
	}

	// Filters hold across pages.
	var filtered []string
	path = "/users?limit=3&q=user01"
	for path != "" {
		b := decodeList(t, e.serve(t, scenario{method: "GET", path: path}))
		filtered = append(filtered, b.emails()...)
		path = ""
		if b.NextCursor != nil {
			path = "/users?limit=3&q=user01&cursor=" + url.QueryEscape(*b.NextCursor)
		}
	}
	var wantFiltered []string
	for _, u := range want {
		if strings.HasPrefix(u.Email, "user01") && u.ID != wantIDs[9] { // deleted above
			wantFiltered = append(wantFiltered, u.Email)
		}
	}
	if diff := cmp.Diff(wantFiltered, filtered); diff != "" {
		t.Errorf("q=user01 over pages of 3 (-want +got):\n%s", diff)
	}
}

func TestLockedUntil(t *testing.T) {
	locked := userBody("{id}", "ann@example.com", false, true, `{"plan":"pro"}`, 0, lockedUntil)
	run(t, []scenario{
		{
			name: "not locked after failures from one address", method: "GET", path: "/users/{id}", status: http.StatusOK,
			setup: func(t *testing.T, e *env) {
				withAnn(nil)(t, e)
				for range 11 {
					e.checkpw(t, e.vars["{id}"], newPassword)
				}
			},
			wantBody: userJSON("{id}", "ann@example.com", false, true, `{"plan":"pro"}`),
		},
		{name: "locked for every address", setup: withLockedAnn, method: "GET", path: "/users/{id}", status: http.StatusOK, wantBody: locked, after: checkpwFrom("203.0.113.9", annPassword, false)},
		{
			name: "gone once the window has passed", method: "GET", path: "/users/{id}", status: http.StatusOK,
			setup: func(t *testing.T, e *env) {
				withLockedAnn(t, e)
				e.Clock.Advance(15 * time.Minute)
			},
			wantBody: userJSON("{id}", "ann@example.com", false, true, `{"plan":"pro"}`),
		},
		{
			name: "unlock", setup: withLockedAnn, method: "POST", path: "/users/{id}/unlock", status: http.StatusNoContent,
			after: func(t *testing.T, e *env) {
				rec := e.serve(t, scenario{method: "GET", path: "/users/{id}"})
				apitest.CheckNativeBody(t, rec, e.vars.Expand(userJSON("{id}", "ann@example.com", false, true, `{"plan":"pro"}`)), "")
				rec = e.serve(t, scenario{method: "GET", path: "/users?locked=true"})
				apitest.CheckNativeBody(t, rec, `{"users":[],"next_cursor":null}`, "")
				// The address that went over its own limit is let in too.
				checkpwFrom("198.51.100.1", annPassword, true)(t, e)
			},
		},
		{name: "unlock a user not locked", setup: withAnn(nil), method: "POST", path: "/users/{id}/unlock", status: http.StatusNoContent, after: wantCheckpw(annPassword, true)},
		{name: "unlock unknown", method: "POST", path: "/users/{unknown}/unlock", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "unlock malformed id", method: "POST", path: "/users/nope/unlock", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "unlock without a client certificate", setup: withLockedAnn, method: "POST", path: "/users/{id}/unlock", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized, after: checkpwFrom("203.0.113.9", annPassword, false)},
	})
}

// sid returns the session id a token carries.
func sid(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token claims: %v", err)
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.SID == "" {
		t.Fatalf("token claims %s: no sid (%v)", raw, err)
	}
	return c.SID
}

// withTwoSessions creates ann ({id}) and logs her in twice, a minute
// apart, from a browser: {tok1}/{sid1} then {tok2}/{sid2}. The first
// session has been used since.
func withTwoSessions(t *testing.T, e *env) {
	withAnn(nil)(t, e)
	ctx := usher.WithCaller(t.Context(), peer{addr: "192.0.2.1", surface: "public", agent: "Mozilla/5.0 (test)"})
	for i := range 2 {
		if i > 0 {
			e.Clock.Advance(time.Minute)
		}
		tok, err := e.Service.Login(ctx, e.Tenant.ID, "ann@example.com", annPassword)
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		n := fmt.Sprint(i + 1)
		e.vars["{tok"+n+"}"], e.vars["{sid"+n+"}"] = tok, sid(t, tok)
	}
	if _, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, e.vars["{tok1}"]); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
}

// live checks which of {tok1} and {tok2} are still accepted.
func live(tok1, tok2 bool) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		for i, want := range []bool{tok1, tok2} {
			_, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, e.vars[fmt.Sprintf("{tok%d}", i+1)])
			if got := err == nil; got != want {
				t.Errorf("Authenticate({tok%d}): got %v, want accepted %t", i+1, err, want)
			}
		}
	}
}

func TestSessions(t *testing.T) {
	sess := func(n int, created time.Duration, used string) string {
		return fmt.Sprintf(`{"id":"{sid%d}","created_at":%q,"expires_at":%q,"last_used_at":%s,"surface":"public","client_ip":"192.0.2.1","user_agent":"Mozilla/5.0 (test)"}`,
			n, at(created), at(created+time.Hour), used)
	}
	withBob := func(t *testing.T, e *env) {
		b := e.createUser(t, account.NewUser{Email: "bob@example.com", Password: annPassword, Enabled: true})
		e.vars["{bob}"] = b.ID
	}
	run(t, []scenario{
		{
			name: "list, newest first", setup: withTwoSessions, method: "GET", path: "/users/{id}/sessions", status: http.StatusOK,
			wantHeader: map[string]string{"Cache-Control": "no-store"},
			wantBody:   `{"sessions":[` + sess(2, time.Minute, "null") + `,` + sess(1, 0, `"`+at(time.Minute)+`"`) + `]}`,
		},
		{
			name: "list after a login without an origin", method: "GET", path: "/users/{id}/sessions", status: http.StatusOK,
			setup:    func(t *testing.T, e *env) { withSession(nil)(t, e); e.vars["{sid}"] = sid(t, e.vars["{token}"]) },
			wantBody: `{"sessions":[{"id":"{sid}","created_at":"` + at(0) + `","expires_at":"` + at(time.Hour) + `","last_used_at":null,"surface":"","client_ip":"","user_agent":""}]}`,
		},
		{name: "list none", setup: withAnn(nil), method: "GET", path: "/users/{id}/sessions", status: http.StatusOK, wantBody: `{"sessions":[]}`},
		{
			name: "list without expired sessions", method: "GET", path: "/users/{id}/sessions", status: http.StatusOK, wantBody: `{"sessions":[` + sess(2, time.Minute, "null") + `]}`,
			setup: func(t *testing.T, e *env) { withTwoSessions(t, e); e.Clock.Advance(time.Hour - time.Minute) },
		},
		{name: "list for an unknown user", method: "GET", path: "/users/{unknown}/sessions", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "list for a malformed id", method: "GET", path: "/users/nope/sessions", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "list without a client certificate", setup: withTwoSessions, method: "GET", path: "/users/{id}/sessions", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{name: "end one", setup: withTwoSessions, method: "DELETE", path: "/users/{id}/sessions/{sid1}", status: http.StatusNoContent, after: live(false, true)},
		{
			name: "end one, then list", setup: withTwoSessions, method: "DELETE", path: "/users/{id}/sessions/{sid2}", status: http.StatusNoContent,
			after: func(t *testing.T, e *env) {
				live(true, false)(t, e)
				rec := e.serve(t, scenario{method: "GET", path: "/users/{id}/sessions"})
				apitest.CheckNativeBody(t, rec, e.vars.Expand(`{"sessions":[`+sess(1, 0, `"`+at(time.Minute)+`"`)+`]}`), "")
			},
		},
		{
			name: "end one twice", method: "DELETE", path: "/users/{id}/sessions/{sid1}", status: http.StatusNotFound, wantCode: usher.NotFound, after: live(false, true),
			setup: func(t *testing.T, e *env) {
				withTwoSessions(t, e)
				if err := e.Service.EndSession(t.Context(), e.Tenant.ID, e.vars["{id}"], e.vars["{sid1}"]); err != nil {
					t.Fatalf("EndSession: %v", err)
				}
			},
		},
		{name: "end an unknown session", setup: withTwoSessions, method: "DELETE", path: "/users/{id}/sessions/{unknown}", status: http.StatusNotFound, wantCode: usher.NotFound, after: live(true, true)},
		{name: "end a malformed session id", setup: withTwoSessions, method: "DELETE", path: "/users/{id}/sessions/nope", status: http.StatusNotFound, wantCode: usher.NotFound, after: live(true, true)},
		{name: "end another user's session", setup: both(withTwoSessions, withBob), method: "DELETE", path: "/users/{bob}/sessions/{sid1}", status: http.StatusNotFound, wantCode: usher.NotFound, after: live(true, true)},
		{name: "end one of an unknown user", setup: withTwoSessions, method: "DELETE", path: "/users/{unknown}/sessions/{sid1}", status: http.StatusNotFound, wantCode: usher.NotFound, after: live(true, true)},
		{name: "end one without a client certificate", setup: withTwoSessions, method: "DELETE", path: "/users/{id}/sessions/{sid1}", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized, after: live(true, true)},
		{
			name: "end all", setup: withTwoSessions, method: "DELETE", path: "/users/{id}/sessions", status: http.StatusNoContent,
			after: func(t *testing.T, e *env) {
				live(false, false)(t, e)
				rec := e.serve(t, scenario{method: "GET", path: "/users/{id}/sessions"})
				apitest.CheckNativeBody(t, rec, `{"sessions":[]}`, "")
				wantCheckpw(annPassword, true)(t, e) // the password still works
			},
		},
		{name: "end all of another user", setup: both(withTwoSessions, withBob), method: "DELETE", path: "/users/{bob}/sessions", status: http.StatusNoContent, after: live(true, true)},
		{name: "end all, none", setup: withAnn(nil), method: "DELETE", path: "/users/{id}/sessions", status: http.StatusNoContent},
		{name: "end all of an unknown user", method: "DELETE", path: "/users/{unknown}/sessions", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "end all of a malformed id", method: "DELETE", path: "/users/x/sessions", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "end all without a client certificate", setup: withTwoSessions, method: "DELETE", path: "/users/{id}/sessions", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized, after: live(true, true)},
	})
}
