package backend_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/usher"
)

var ndjson = map[string]string{"Content-Type": "application/x-ndjson"}

// Secrets on lines an import refuses: no answer may repeat them.
const (
	lineSecret = "Line-Secret-5720"
	hashSecret = "$2a$04$HashSecretHashSecretHashSecretHashSecretHashSecret12"
	bobID      = "01ba1b28-0000-7000-8000-0000000000b0"
)

// bcryptOf hashes pw as another system would have (bcrypt, low cost).
func bcryptOf(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt: %v", err)
	}
	return string(h)
}

// importAnswer is the decoded answer of POST /users/import.
type importAnswer struct {
	Created, Updated, Skipped, Refused int
	Errors                             []lineErr `json:"errors"`
}

type lineErr struct {
	Line    int        `json:"line"`
	Code    usher.Code `json:"code"`
	Message string     `json:"message"`
}

// wantImport checks an import's answer: its counts, and its errors by
// line and code, each with a message that repeats no secret.
func wantImport(want importAnswer) func(*testing.T, *env, *httptest.ResponseRecorder) {
	return func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
		t.Helper()
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type: got %q, want application/json", ct)
		}
		if !strings.Contains(rec.Body.String(), `"errors":[`) {
			t.Errorf("body %s: want an errors array", rec.Body)
		}
		var got importAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("import answer %s: %v", rec.Body, err)
		}
		for i, le := range got.Errors {
			if le.Message == "" {
				t.Errorf("error on line %d: no message", le.Line)
			}
			got.Errors[i].Message = ""
		}
		for _, s := range []string{lineSecret, hashSecret, "HashSecret"} {
			if strings.Contains(rec.Body.String(), s) {
				t.Errorf("import answer %s repeats a secret of a line (%q)", rec.Body, s)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("import answer (-want +got):\n%s", diff)
		}
	}
}

// importLines is a body of good and bad lines: ann (line 1) and bob
// (line 2, a bcrypt hash from elsewhere, every field) are created, the
// rest refused.
func importLines(t *testing.T, e *env) {
	e.vars["{body}"] = strings.Join([]string{
		`{"email":"ann@example.com","password":"` + annPassword + `"}`,
		`{"id":"` + bobID + `","email":"Bob@Example.com","password_hash":"` + bcryptOf(t, newPassword) + `","confirmed":true,"enabled":true,"data":{"plan":"team"},"created_at":"2029-01-02T03:04:05.678Z"}`,
		`{"email":"cat@example.com","password":"` + lineSecret,
		``,
		`{"email":"cat@example.com","password":"` + lineSecret + `","role":"admin"}`,
		`{"email":"ANN@example.com","password":"` + lineSecret + `"}`,
		`{"email":"not an address","password":"` + lineSecret + `"}`,
		`{"email":"dan@example.com","password":"` + lineSecret + `","password_hash":"` + hashSecret + `"}`,
		`{"email":"eve@example.com","password_hash":"` + hashSecret + `"}`,
		`{"email":"fay@example.com"}`,
		`{"email":"gus@example.com","password":"` + lineSecret + `","created_at":"` + lineSecret + `"}`,
		`{"email":"hal@example.com","password":"` + lineSecret + `","confirmed":"` + lineSecret + `"}`,
		`{"email":"ivy@example.com","password":"` + lineSecret + `"}}`,
		`{"email":"jon@example.com","password":"` + lineSecret + `"} {"email":"kim@example.com"}`,
		`[1]`,
	}, "\n") + "\n"
}

var importLinesAnswer = importAnswer{Created: 2, Refused: 12, Errors: []lineErr{
	{Line: 3, Code: usher.InvalidJSON},
	{Line: 5, Code: usher.InvalidJSON},
	{Line: 6, Code: usher.EmailTaken},
	{Line: 7, Code: usher.InvalidEmail},
	{Line: 8, Code: usher.Invalid},
	{Line: 9, Code: usher.Invalid},
	{Line: 10, Code: usher.Invalid},
	{Line: 11, Code: usher.InvalidJSON},
	{Line: 12, Code: usher.InvalidJSON},
	{Line: 13, Code: usher.InvalidJSON},
	{Line: 14, Code: usher.InvalidJSON},
	{Line: 15, Code: usher.InvalidJSON},
}}

// importedTwo checks ann and bob as importLines made them, in the tenant
// whose id tenant names ("": the default).
func importedTwo(tenant string) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		t.Helper()
		tid := e.Tenant.ID
		if tenant != "" {
			tid = e.vars[tenant]
		}
		ctx := apitest.Ctx(t)
		ann, err := e.Service.UserByEmail(ctx, tid, "ann@example.com")
		if err != nil {
			t.Fatalf("UserByEmail(ann): %v", err)
		}
		if ann.Confirmed || !ann.Enabled || string(ann.Data) != "{}" || !ann.CreatedAt.Equal(start) {
			t.Errorf("ann: got %+v, want the defaults, created now", ann)
		}
		bob, err := e.Service.UserByEmail(ctx, tid, "bob@example.com")
		if err != nil {
			t.Fatalf("UserByEmail(bob): %v", err)
		}
		wantCreated := time.Date(2029, 1, 2, 3, 4, 5, 678e6, time.UTC)
		if bob.ID != bobID || bob.Email != "Bob@Example.com" || !bob.Confirmed || !bob.Enabled || string(bob.Data) != `{"plan":"team"}` || !bob.CreatedAt.Equal(wantCreated) {
			t.Errorf("bob: got %+v, want the line's id, email, flags, data and created_at", bob)
		}
		for _, c := range []struct{ email, pw string }{{"ann@example.com", annPassword}, {"bob@example.com", newPassword}} {
			if _, err := e.Service.Login(ctx, tid, c.email, c.pw); err != nil {
				t.Errorf("Login(%s): %v", c.email, err)
			}
		}
		for _, email := range []string{"cat@example.com", "dan@example.com", "eve@example.com", "ivy@example.com", "jon@example.com", "kim@example.com"} {
			if _, err := e.Service.UserByEmail(ctx, tid, email); usher.ErrorCode(err) != usher.NotFound {
				t.Errorf("UserByEmail(%s) of a refused line: got %v, want not_found", email, err)
			}
		}
	}
}

func TestImport(t *testing.T) {
	annLine := func(pw, extra string) string {
		return `{"email":"ann@example.com","password":"` + pw + `"` + extra + `}` + "\n"
	}
	annKept := func(t *testing.T, e *env) {
		wantCheckpw(annPassword, true)(t, e)
		wantUser(func(t *testing.T, u usher.User) {
			if u.Confirmed || string(u.Data) != `{"plan":"pro"}` {
				t.Errorf("ann after the import: got %+v, want her as she was", u)
			}
		})(t, e)
	}
	nothing := importAnswer{Errors: []lineErr{}}
	runChecked(t, []checked{
		{
			scenario: scenario{name: "good and bad lines", setup: importLines, method: "POST", path: "/users/import", header: ndjson, body: "{body}", status: http.StatusOK, after: importedTwo("")},
			check:    wantImport(importLinesAnswer),
		},
		{
			scenario: scenario{name: "into another tenant", setup: both(withBlue, importLines), method: "POST", path: "/users/import",
				header: map[string]string{"Content-Type": "application/x-ndjson", "X-Usher-Tenant": "blue"}, body: "{body}", status: http.StatusOK,
				after: both(importedTwo("{blue}"), func(t *testing.T, e *env) {
					rec := e.serve(t, scenario{method: "GET", path: "/users?count=true"})
					apitest.CheckNativeBody(t, rec, `{"users":[],"next_cursor":null,"total":0}`, "")
				})},
			check: wantImport(importLinesAnswer),
		},
		{
			scenario: scenario{name: "application/jsonl with a charset", method: "POST", path: "/users/import", header: map[string]string{"Content-Type": "application/jsonl; charset=utf-8"}, body: annLine(annPassword, ""), status: http.StatusOK},
			check:    wantImport(importAnswer{Created: 1, Errors: []lineErr{}}),
		},
		{
			scenario: scenario{name: "empty", method: "POST", path: "/users/import", header: ndjson, status: http.StatusOK},
			check:    wantImport(nothing),
		},
		{
			scenario: scenario{name: "blank lines only", method: "POST", path: "/users/import", header: ndjson, body: "\n\r\n\n", status: http.StatusOK},
			check:    wantImport(nothing),
		},
		{
			scenario: scenario{name: "existing: skipped", setup: withAnn(nil), method: "POST", path: "/users/import", header: ndjson, body: annLine(newPassword, `,"confirmed":true`), status: http.StatusOK, after: annKept},
			check:    wantImport(importAnswer{Skipped: 1, Errors: []lineErr{}}),
		},
		{
			scenario: scenario{name: "existing, on_conflict=skip", setup: withAnn(nil), method: "POST", path: "/users/import?on_conflict=skip", header: ndjson, body: annLine(newPassword, ""), status: http.StatusOK, after: annKept},
			check:    wantImport(importAnswer{Skipped: 1, Errors: []lineErr{}}),
		},
		{
			scenario: scenario{name: "existing, on_conflict=fail", setup: withAnn(nil), method: "POST", path: "/users/import?on_conflict=fail", header: ndjson, body: annLine(newPassword, ""), status: http.StatusOK, after: annKept},
			check:    wantImport(importAnswer{Refused: 1, Errors: []lineErr{{Line: 1, Code: usher.EmailTaken}}}),
		},
		{
			scenario: scenario{name: "existing, on_conflict=update", setup: withSession(nil), method: "POST", path: "/users/import?on_conflict=update", header: ndjson,
				body: `{"email":"ANN@example.com","password":"` + newPassword + `","confirmed":true,"enabled":true,"data":{"plan":"team"}}` + "\n", status: http.StatusOK,
				after: func(t *testing.T, e *env) {
					wantUser(func(t *testing.T, u usher.User) {
						if u.Email != "ANN@example.com" || !u.Confirmed || !u.Enabled || string(u.Data) != `{"plan":"team"}` || !u.CreatedAt.Equal(start) {
							t.Errorf("ann after the update: got %+v, want the line's fields and her created_at", u)
						}
					})(t, e)
					wantCheckpw(newPassword, true)(t, e)
					wantCheckpw(annPassword, false)(t, e)
					sessionEnded(t, e)
				}},
			check: wantImport(importAnswer{Updated: 1, Errors: []lineErr{}}),
		},
		{
			scenario: scenario{name: "existing with another id", setup: withAnn(nil), method: "POST", path: "/users/import?on_conflict=update", header: ndjson,
				body: `{"id":"` + bobID + `","email":"ann@example.com","password":"` + newPassword + `"}` + "\n", status: http.StatusOK, after: annKept},
			check: wantImport(importAnswer{Refused: 1, Errors: []lineErr{{Line: 1, Code: usher.Conflict}}}),
		},
		{
			scenario: scenario{name: "an id taken in another tenant", method: "POST", path: "/users/import", header: ndjson,
				setup: func(t *testing.T, e *env) {
					withBlueAnn(t, e)
					e.vars["{line}"] = `{"id":"` + e.vars["{id}"] + `","email":"zed@example.com","password":"` + annPassword + `"}`
				},
				body: "{line}\n", status: http.StatusOK},
			check: wantImport(importAnswer{Refused: 1, Errors: []lineErr{{Line: 1, Code: usher.Conflict}}}),
		},
		{scenario: scenario{name: "on_conflict unknown", method: "POST", path: "/users/import?on_conflict=replace", header: ndjson, body: annLine(annPassword, ""), status: http.StatusBadRequest, wantCode: usher.Invalid}},
		{scenario: scenario{name: "on_conflict twice", method: "POST", path: "/users/import?on_conflict=skip&on_conflict=update", header: ndjson, body: annLine(annPassword, ""), status: http.StatusBadRequest, wantCode: usher.Invalid}},
		{scenario: scenario{name: "unknown parameter", method: "POST", path: "/users/import?dry_run=true", header: ndjson, body: annLine(annPassword, ""), status: http.StatusBadRequest, wantCode: usher.Invalid}},
		{scenario: scenario{name: "JSON Content-Type", method: "POST", path: "/users/import", header: jsonType, body: annLine(annPassword, ""), status: http.StatusUnsupportedMediaType, wantCode: usher.MediaType, after: func(t *testing.T, e *env) {
			if _, err := e.Service.UserByEmail(t.Context(), e.Tenant.ID, "ann@example.com"); usher.ErrorCode(err) != usher.NotFound {
				t.Errorf("UserByEmail(ann): got %v, want not_found", err)
			}
		}}},
		{scenario: scenario{name: "no Content-Type", method: "POST", path: "/users/import", body: annLine(annPassword, ""), status: http.StatusUnsupportedMediaType, wantCode: usher.MediaType}},
		{scenario: scenario{name: "text Content-Type", method: "POST", path: "/users/import", header: map[string]string{"Content-Type": "text/plain"}, body: annLine(annPassword, ""), status: http.StatusUnsupportedMediaType, wantCode: usher.MediaType}},
		{scenario: scenario{name: "without a client certificate", method: "POST", path: "/users/import", header: ndjson, body: annLine(annPassword, ""), noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized}},
	})
}

// TestImportAgain: an import run twice changes nothing the second time,
// whatever its conflict policy.
func TestImportAgain(t *testing.T) {
	for _, policy := range []string{"skip", "update", "fail"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, false)
			body := strings.Join([]string{
				`{"email":"ann@example.com","password":"` + annPassword + `","data":{"plan":"pro"}}`,
				`{"email":"bob@example.com","password_hash":"` + bcryptOf(t, newPassword) + `","confirmed":true}`,
				`{"id":"` + bobID + `","email":"cat@example.com","password":"` + newPassword + `","enabled":false,"created_at":"2029-01-02T03:04:05Z"}`,
				`{"email":"bad"`,
			}, "\n")
			imp := func() importAnswer {
				rec := e.serve(t, scenario{method: "POST", path: "/users/import?on_conflict=" + policy, header: ndjson, body: body})
				if rec.Code != http.StatusOK {
					t.Fatalf("import: status %d, body %s", rec.Code, rec.Body)
				}
				var a importAnswer
				if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
					t.Fatalf("import answer %s: %v", rec.Body, err)
				}
				for i := range a.Errors {
					a.Errors[i].Message = ""
				}
				return a
			}
			bad := []lineErr{{Line: 4, Code: usher.InvalidJSON}}
			if diff := cmp.Diff(importAnswer{Created: 3, Refused: 1, Errors: bad}, imp()); diff != "" {
				t.Errorf("first import (-want +got):\n%s", diff)
			}
			ctx := apitest.Ctx(t)
			tok, err := e.Service.Login(ctx, e.Tenant.ID, "ann@example.com", annPassword)
			if err != nil {
				t.Fatalf("Login(ann): %v", err)
			}
			before := exportOf(t, e, true)
			want := importAnswer{Skipped: 3, Refused: 1, Errors: bad}
			if policy == "fail" {
				want = importAnswer{Refused: 4, Errors: []lineErr{{Line: 1, Code: usher.EmailTaken}, {Line: 2, Code: usher.EmailTaken}, {Line: 3, Code: usher.EmailTaken}, bad[0]}}
			}
			if diff := cmp.Diff(want, imp()); diff != "" {
				t.Errorf("second import (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, exportOf(t, e, true)); diff != "" {
				t.Errorf("users after the second import, with hashes (-before +after):\n%s", diff)
			}
			if _, _, err := e.Service.Authenticate(ctx, e.Tenant.ID, tok); err != nil {
				t.Errorf("ann's session after the second import: %v, want it kept", err)
			}
		})
	}
}

// exportOf returns GET /users/export's lines, decoded, checking the
// answer's status and Content-Type.
func exportOf(t *testing.T, e *env, withHashes bool) []map[string]any {
	t.Helper()
	path := "/users/export"
	if withHashes {
		path += "?with_hashes=true"
	}
	rec := e.serve(t, scenario{method: "GET", path: path})
	if rec.Code != http.StatusOK {
		t.Fatalf("export: status %d, body %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("export Content-Type: got %q, want application/x-ndjson", ct)
	}
	return decodeLines(t, rec.Body.Bytes())
}

// decodeLines decodes JSON lines, each one object, every line ended.
func decodeLines(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	out := []map[string]any{}
	if len(body) > 0 && !bytes.HasSuffix(body, []byte("\n")) {
		t.Errorf("export %q: the last line has no newline", body)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("export line %q: %v", sc.Bytes(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	withAnn(confirmed)(t, e)
	ann := e.user(t, e.vars["{id}"])
	e.Clock.Advance(1500 * time.Millisecond)
	bob := e.createUser(t, account.NewUser{Email: "Bob@Example.com", Password: newPassword, Enabled: false, Data: []byte(`{"n":[1,{"x":null}],"s":"<&>"}`)})
	withBlue(t, e)
	if _, err := e.Service.Create(t.Context(), e.vars["{blue}"], account.NewUser{Email: "cat@example.com", Password: annPassword, Enabled: true}); err != nil {
		t.Fatalf("Create in blue: %v", err)
	}

	line := func(u usher.User, hash bool) map[string]any {
		var data any
		if err := json.Unmarshal(u.Data, &data); err != nil {
			t.Fatalf("data: %v", err)
		}
		m := map[string]any{"id": u.ID, "email": u.Email, "confirmed": u.Confirmed, "enabled": u.Enabled, "data": data, "created_at": u.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
		if hash {
			m["password_hash"] = u.Hash
		}
		return m
	}
	for _, withHashes := range []bool{false, true} {
		got := exportOf(t, e, withHashes)
		want := []map[string]any{line(ann, withHashes), line(bob, withHashes)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("export, with_hashes %t (-want +got):\n%s", withHashes, diff)
		}
	}
	rec := e.serve(t, scenario{method: "GET", path: "/users/export?with_hashes=false"})
	if body := rec.Body.String(); strings.Contains(body, "password") || strings.Contains(body, "$argon2") || strings.Count(body, "\n") != 2 {
		t.Errorf("export with_hashes=false: %q, want two lines without a password or hash", body)
	}
	if !strings.Contains(rec.Body.String(), `"s":"<&>"`) {
		t.Errorf("export %q: want data as stored, without HTML escapes", rec.Body)
	}

	rec = e.serve(t, scenario{method: "GET", path: "/users/export", header: inBlue})
	if got := decodeLines(t, rec.Body.Bytes()); len(got) != 1 || got[0]["email"] != "cat@example.com" {
		t.Errorf("export of blue: got %v, want cat alone", got)
	}

	if err := e.Service.DeleteTenant(t.Context(), "blue", true); err != nil {
		t.Fatalf("DeleteTenant: %v", err)
	}
	if _, err := e.Service.CreateTenant(t.Context(), "blue"); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	rec = e.serve(t, scenario{method: "GET", path: "/users/export", header: inBlue})
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("export of an empty tenant: status %d, body %q; want 200 and no lines", rec.Code, rec.Body)
	}
}

func TestExportRefused(t *testing.T) {
	run(t, []scenario{
		{name: "with_hashes not a bool", setup: withAnn(nil), method: "GET", path: "/users/export?with_hashes=1", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "with_hashes twice", setup: withAnn(nil), method: "GET", path: "/users/export?with_hashes=true&with_hashes=true", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "unknown parameter", setup: withAnn(nil), method: "GET", path: "/users/export?format=csv", status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "without a client certificate", setup: withAnn(nil), method: "GET", path: "/users/export?with_hashes=true", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{name: "POST", method: "POST", path: "/users/export", status: http.StatusMethodNotAllowed, wantCode: usher.MethodNotAllow},
	})
}

// TestRoundTrip exports a tenant with its hashes and imports it into
// another Usher: every user keeps its id, flags, data, created time and
// password.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	from := newEnv(t, false)
	type spec struct {
		email, pw string
		confirmed bool
		data      string
	}
	specs := []spec{
		{"ann@example.com", annPassword, true, `{"plan":"pro"}`},
		{"Bob@Example.com", newPassword, false, `{}`},
		{"cat@xn--bcher-kva.example", "third-Secret-1234", true, `{"deep":{"a":[1,2,{"b":"ü"}]}}`},
	}
	for i := range 20 {
		specs = append(specs, spec{fmt.Sprintf("user%02d@example.org", i), fmt.Sprintf("user-Secret-%04d", i), i%2 == 0, fmt.Sprintf(`{"i":%d}`, i)})
	}
	var users []usher.User
	for i, s := range specs {
		from.Clock.Advance(time.Duration(i) * 37 * time.Millisecond)
		users = append(users, from.createUser(t, account.NewUser{Email: s.email, Password: s.pw, Confirmed: s.confirmed, Enabled: true, Data: []byte(s.data)}))
	}
	// One user has signed in (its hash may change then), one is disabled.
	if _, err := from.Service.Login(apitest.Ctx(t), from.Tenant.ID, "ann@example.com", annPassword); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if err := from.Service.SetEnabled(t.Context(), from.Tenant.ID, users[1].ID, false); err != nil {
		t.Fatalf("SetEnabled: %v", err)
	}
	for i := range users {
		users[i] = from.user(t, users[i].ID)
	}
	rec := from.serve(t, scenario{method: "GET", path: "/users/export?with_hashes=true"})
	if rec.Code != http.StatusOK {
		t.Fatalf("export: status %d, body %s", rec.Code, rec.Body)
	}

	to := newEnv(t, false)
	to.Clock.Advance(time.Hour) // the import's clock is past every created_at
	imp := to.serve(t, scenario{method: "POST", path: "/users/import", header: ndjson, body: rec.Body.String()})
	if imp.Code != http.StatusOK {
		t.Fatalf("import: status %d, body %s", imp.Code, imp.Body)
	}
	apitest.CheckNativeBody(t, imp, fmt.Sprintf(`{"created":%d,"updated":0,"skipped":0,"refused":0,"errors":[]}`, len(users)), "")

	for i, want := range users {
		got, err := to.Service.User(t.Context(), to.Tenant.ID, want.ID)
		if err != nil {
			t.Errorf("%s: User in the new Usher: %v", want.Email, err)
			continue
		}
		if got.Email != want.Email || got.Confirmed != want.Confirmed || got.Enabled != want.Enabled ||
			string(got.Data) != string(want.Data) || !got.CreatedAt.Equal(want.CreatedAt) || got.Hash != want.Hash {
			t.Errorf("%s: got %+v, want %+v", want.Email, got, want)
		}
		_, err = to.Service.Login(apitest.Ctx(t), to.Tenant.ID, strings.ToUpper(specs[i].email), specs[i].pw)
		switch {
		case want.Enabled && err != nil:
			t.Errorf("Login(%s) in the new Usher: %v", want.Email, err)
		case !want.Enabled && usher.ErrorCode(err) != usher.Unauthorized:
			t.Errorf("Login(%s), disabled, in the new Usher: got %v, want unauthorized", want.Email, err)
		}
	}
	if ok, err := to.Service.CheckPassword(apitest.Ctx(t), to.Tenant.ID, users[0].ID, newPassword); err != nil || ok {
		t.Errorf("CheckPassword(ann, a wrong password) in the new Usher: got %t, %v; want false", ok, err)
	}
	// The new Usher exports the same lines (the order of creation kept).
	if diff := cmp.Diff(decodeLines(t, rec.Body.Bytes()), exportOf(t, to, true)); diff != "" {
		t.Errorf("export of the new Usher (-old +new):\n%s", diff)
	}
}
