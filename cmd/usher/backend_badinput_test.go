package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Bad input on the backend surface: each request gets its 4xx with the
// native error body, runs no password hash, and leaves the users table and
// the fixture user exactly as they were.

const fixturePW = "fixture-lantern-tabby"

// state is what a bad request must not change.
type state struct {
	User string // GET /users/{id} of the fixture
	Data string // GET /users/{id}/data of the fixture
	Rows int    // users in the database
}

func snapshot(t testing.TB, s *testServer, id string) state {
	t.Helper()
	_, user := s.BackendAPI.getRaw(t, id)
	data := s.BackendAPI.getData(t, id).wantStatus(t, "GET data", http.StatusOK)
	return state{User: string(user), Data: string(data.Body), Rows: s.userCount(t)}
}

// badCase is a request that must be refused with status and code.
type badCase struct {
	name    string
	method  string
	path    string
	body    string
	header  map[string]string
	chunked bool // send the body without a Content-Length
	status  int
	code    string
}

func runBad(t *testing.T, s *testServer, fixture string, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := snapshot(t, s, fixture)
			runs := s.Hasher.Runs()

			req := s.BackendAPI.request(t, c.method, c.path, c.body, headers(c.header))
			if c.chunked {
				req.Body, req.ContentLength, req.GetBody = io.NopCloser(strings.NewReader(c.body)), -1, nil
			}
			r, err := send(s.Client, req)
			if err != nil {
				t.Fatalf("%s %s: %v", c.method, shorten(c.path), err)
			}
			checkCommon(t, c.method+" "+shorten(c.path), r)
			if r.Status != c.status {
				t.Errorf("status: got %d, want %d; body %s", r.Status, c.status, shorten(string(r.Body)))
			} else if got := errorCode(t, r.Body); got != c.code {
				t.Errorf("error code: got %q, want %q", got, c.code)
			}
			if got := s.Hasher.Runs() - runs; got != 0 {
				t.Errorf("password hashes run: got %d, want 0", got)
			}
			if after := snapshot(t, s, fixture); after != before {
				t.Errorf("state changed:\n got %+v\nwant %+v", after, before)
			}
		})
	}
}

// nested returns a JSON object nested depth levels deep (depth 1 is {}).
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat(`}`, depth-1)
}

// nestedArrays returns an object holding arrays, depth levels in all.
func nestedArrays(depth int) string {
	return `{"a":` + strings.Repeat(`[`, depth-1) + strings.Repeat(`]`, depth-1) + `}`
}

// padded returns prefix + filler + suffix, exactly n bytes long.
func padded(prefix, filler, suffix string, n int) string {
	return prefix + strings.Repeat(filler, n-len(prefix)-len(suffix)) + suffix
}

func TestBackendBadInputChangesNothing(t *testing.T) {
	s := startServer(t)
	be := s.BackendAPI
	id := be.create(t, mustJSON(t, map[string]any{
		"email": "fixture@example.com", "password": fixturePW, "data": map[string]any{"keep": []int{1, 2, 3}},
	}))
	be.newUser(t, "taken@example.com", "lantern-tabby-41")

	const mib = 1 << 20
	var (
		user      = "/users/" + id
		email     = user + "/email"
		password  = user + "/password"
		data      = user + "/data"
		checkPath = user + "/checkpw"
		longID    = "/users/" + strings.Repeat("a", 10<<10)
		millionP  = strings.Repeat("p", 1_000_000)
	)
	const createPrefix = `{"email":"bad@example.com","password":"lantern-tabby-41"`
	createWith := func(fields string) string { return createPrefix + fields + `}` }
	createMiB := padded(createPrefix+`,"data":{"pad":"`, "x", `"}}`, mib+1)

	cases := []badCase{
		{name: "create: truncated JSON", method: "POST", path: "/users/", body: `{"email":"bad@example.com","password":"lant`, status: 400, code: "invalid_json"},
		{name: "create: trailing garbage", method: "POST", path: "/users/", body: createWith(``) + ` x`, status: 400, code: "invalid_json"},
		{name: "create: two objects", method: "POST", path: "/users/", body: createWith(``) + createWith(``), status: 400, code: "invalid_json"},
		{name: "create: 1 MiB + 1 byte", method: "POST", path: "/users/", body: createMiB, status: 413, code: "body_too_large"},
		{name: "create: 1 MiB + 1 byte, chunked", method: "POST", path: "/users/", body: createMiB, chunked: true, status: 413, code: "body_too_large"},
		{name: "create: data nested 33 deep", method: "POST", path: "/users/", body: createWith(`,"data":` + nested(33)), status: 400, code: "invalid_json"},
		{name: "create: data arrays nested 33 deep", method: "POST", path: "/users/", body: createWith(`,"data":` + nestedArrays(33)), status: 400, code: "invalid_json"},
		{name: "create: duplicate key", method: "POST", path: "/users/", body: createWith(`,"email":"bad2@example.com"`), status: 400, code: "invalid_json"},
		{name: "create: duplicate key in data", method: "POST", path: "/users/", body: createWith(`,"data":{"a":1,"a":2}`), status: 400, code: "invalid_json"},
		{name: "create: case-variant keys in data", method: "POST", path: "/users/", body: createWith(`,"data":{"plan":1,"Plan":2}`), status: 400, code: "invalid_json"},
		{name: "create: Email beside email", method: "POST", path: "/users/", body: createWith(`,"Email":"bad2@example.com"`), status: 400, code: "invalid_json"},
		{name: "create: EMAIL alone", method: "POST", path: "/users/", body: `{"EMAIL":"bad@example.com","password":"lantern-tabby-41"}`, status: 400, code: "invalid_json"},
		{name: "create: Password alone", method: "POST", path: "/users/", body: `{"email":"bad@example.com","Password":"lantern-tabby-41"}`, status: 400, code: "invalid_json"},
		{name: "create: text/plain", method: "POST", path: "/users/", body: createWith(``), header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
		{name: "create: form encoding", method: "POST", path: "/users/", body: `email=bad%40example.com&password=lantern-tabby-41`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415, code: "unsupported_media_type"},
		{name: "create: JSON look-alike type", method: "POST", path: "/users/", body: createWith(``), header: map[string]string{"Content-Type": "application/json-patch+json"}, status: 415, code: "unsupported_media_type"},
		{name: "create: malformed content type", method: "POST", path: "/users/", body: createWith(``), header: map[string]string{"Content-Type": "application/json; ;"}, status: 415, code: "unsupported_media_type"},
		{name: "create: invalid UTF-8 in email", method: "POST", path: "/users/", body: "{\"email\":\"b\xffd@example.com\",\"password\":\"lantern-tabby-41\"}", status: 400, code: "invalid_json"},
		{name: "create: invalid UTF-8 in password", method: "POST", path: "/users/", body: "{\"email\":\"bad@example.com\",\"password\":\"lantern\xfe\xfftabby\"}", status: 400, code: "invalid_json"},
		{name: "create: overlong UTF-8", method: "POST", path: "/users/", body: "{\"email\":\"bad@example.com\",\"password\":\"lantern-tabby\xc0\xaf\"}", status: 400, code: "invalid_json"},
		{name: "create: UTF-8 surrogate half", method: "POST", path: "/users/", body: "{\"email\":\"bad@example.com\",\"password\":\"lantern-tabby\xed\xa0\x80\"}", status: 400, code: "invalid_json"},
		{name: "create: CRLF in email", method: "POST", path: "/users/", body: `{"email":"bad@example.com\r\nBcc: x@example.org","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "create: LF in email", method: "POST", path: "/users/", body: `{"email":"bad@exa\nmple.com","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "create: NUL in email", method: "POST", path: "/users/", body: `{"email":"bad\u0000@example.com","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "create: 1,000,000-character password", method: "POST", path: "/users/", body: mustJSON(t, map[string]string{"email": "bad@example.com", "password": millionP}), status: 400, code: "invalid_password"},
		{name: "create: password of 7 code points", method: "POST", path: "/users/", body: `{"email":"bad@example.com","password":"äääääää"}`, status: 400, code: "invalid_password"},
		{name: "create: null body", method: "POST", path: "/users/", body: `null`, status: 400, code: "invalid_json"},
		{name: "create: array body", method: "POST", path: "/users/", body: `[]`, status: 400, code: "invalid_json"},
		{name: "create: string body", method: "POST", path: "/users/", body: `"bad@example.com"`, status: 400, code: "invalid_json"},
		{name: "create: blank body", method: "POST", path: "/users/", body: " \n\t ", status: 400, code: "invalid_json"},
		{name: "create: data array", method: "POST", path: "/users/", body: createWith(`,"data":[1,2]`), status: 400, code: "invalid_data"},
		{name: "create: data string", method: "POST", path: "/users/", body: createWith(`,"data":"x"`), status: 400, code: "invalid_data"},
		{name: "create: data number", method: "POST", path: "/users/", body: createWith(`,"data":42`), status: 400, code: "invalid_data"},
		{name: "create: data over 64 KiB", method: "POST", path: "/users/", body: createWith(`,"data":` + padded(`{"pad":"`, "x", `"}`, 64<<10+1)), status: 400, code: "invalid_data"},
		{name: "create: taken email", method: "POST", path: "/users/", body: `{"email":"Taken@Example.com","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},

		{name: "email: truncated JSON", method: "PUT", path: email, body: `{"email":"new@exam`, status: 400, code: "invalid_json"},
		{name: "email: trailing garbage", method: "PUT", path: email, body: `{"email":"new@example.com"} x`, status: 400, code: "invalid_json"},
		{name: "email: 1 MiB + 1 byte", method: "PUT", path: email, body: padded(`{"email":"`, "x", `@example.com"}`, mib+1), status: 413, code: "body_too_large"},
		{name: "email: duplicate key", method: "PUT", path: email, body: `{"email":"new@example.com","email":"new2@example.com"}`, status: 400, code: "invalid_json"},
		{name: "email: Email beside email", method: "PUT", path: email, body: `{"email":"new@example.com","Email":"new2@example.com"}`, status: 400, code: "invalid_json"},
		{name: "email: EMAIL alone", method: "PUT", path: email, body: `{"EMAIL":"new@example.com"}`, status: 400, code: "invalid_json"},
		{name: "email: text/plain", method: "PUT", path: email, body: `{"email":"new@example.com"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
		{name: "email: invalid UTF-8", method: "PUT", path: email, body: "{\"email\":\"n\xffw@example.com\"}", status: 400, code: "invalid_json"},
		{name: "email: CRLF", method: "PUT", path: email, body: `{"email":"new@example.com\r\nBcc: x@example.org"}`, status: 400, code: "invalid_email"},
		{name: "email: null body", method: "PUT", path: email, body: `null`, status: 400, code: "invalid_json"},
		{name: "email: array body", method: "PUT", path: email, body: `[]`, status: 400, code: "invalid_json"},
		{name: "email: taken", method: "PUT", path: email, body: `{"email":"TAKEN@example.com"}`, status: 409, code: "email_taken"},
		{name: "email: 10 KB id", method: "PUT", path: longID + "/email", body: `{"email":"new@example.com"}`, status: 404, code: "not_found"},

		{name: "password: truncated JSON", method: "PUT", path: password, body: `{"password":"new-lantern`, status: 400, code: "invalid_json"},
		{name: "password: trailing garbage", method: "PUT", path: password, body: `{"password":"new-lantern-tabby"} x`, status: 400, code: "invalid_json"},
		{name: "password: 1 MiB + 1 byte", method: "PUT", path: password, body: padded(`{"password":"`, "p", `"}`, mib+1), status: 413, code: "body_too_large"},
		{name: "password: duplicate key", method: "PUT", path: password, body: `{"password":"new-lantern-tabby","password":"new-lantern-tabby-2"}`, status: 400, code: "invalid_json"},
		{name: "password: PASSWORD alone", method: "PUT", path: password, body: `{"PASSWORD":"new-lantern-tabby"}`, status: 400, code: "invalid_json"},
		{name: "password: Password beside password", method: "PUT", path: password, body: `{"password":"new-lantern-tabby","Password":"new-lantern-tabby-2"}`, status: 400, code: "invalid_json"},
		{name: "password: text/plain", method: "PUT", path: password, body: `{"password":"new-lantern-tabby"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
		{name: "password: invalid UTF-8", method: "PUT", path: password, body: "{\"password\":\"new-lantern\xff\xfe-tabby\"}", status: 400, code: "invalid_json"},
		{name: "password: 1,000,000 characters", method: "PUT", path: password, body: mustJSON(t, map[string]string{"password": millionP}), status: 400, code: "invalid_password"},
		{name: "password: 7 code points", method: "PUT", path: password, body: `{"password":"äääääää"}`, status: 400, code: "invalid_password"},
		{name: "password: null body", method: "PUT", path: password, body: `null`, status: 400, code: "invalid_json"},
		{name: "password: array body", method: "PUT", path: password, body: `[]`, status: 400, code: "invalid_json"},
		{name: "password: 10 KB id", method: "PUT", path: longID + "/password", body: `{"password":"new-lantern-tabby"}`, status: 404, code: "not_found"},

		{name: "checkpw: truncated JSON", method: "POST", path: checkPath, body: `{"password":`, status: 400, code: "invalid_json"},
		{name: "checkpw: trailing garbage", method: "POST", path: checkPath, body: `{"password":"` + fixturePW + `"} x`, status: 400, code: "invalid_json"},
		{name: "checkpw: 1 MiB + 1 byte", method: "POST", path: checkPath, body: padded(`{"password":"`, "p", `"}`, mib+1), status: 413, code: "body_too_large"},
		{name: "checkpw: duplicate key", method: "POST", path: checkPath, body: `{"password":"wrong-lantern","password":"` + fixturePW + `"}`, status: 400, code: "invalid_json"},
		{name: "checkpw: Password alone", method: "POST", path: checkPath, body: `{"Password":"` + fixturePW + `"}`, status: 400, code: "invalid_json"},
		{name: "checkpw: text/plain", method: "POST", path: checkPath, body: `{"password":"` + fixturePW + `"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
		{name: "checkpw: invalid UTF-8", method: "POST", path: checkPath, body: "{\"password\":\"fixture-lantern\xff\"}", status: 400, code: "invalid_json"},
		{name: "checkpw: 1,000,000-character password", method: "POST", path: checkPath, body: mustJSON(t, map[string]string{"password": millionP}), status: 400, code: "invalid_password"},
		{name: "checkpw: null body", method: "POST", path: checkPath, body: `null`, status: 400, code: "invalid_json"},
		{name: "checkpw: array body", method: "POST", path: checkPath, body: `[]`, status: 400, code: "invalid_json"},
		{name: "checkpw: 10 KB id", method: "POST", path: longID + "/checkpw", body: `{"password":"` + fixturePW + `"}`, status: 404, code: "not_found"},

		{name: "data: truncated JSON", method: "PUT", path: data, body: `{"a":[1,2`, status: 400, code: "invalid_json"},
		{name: "data: trailing garbage", method: "PUT", path: data, body: `{"a":1} x`, status: 400, code: "invalid_json"},
		{name: "data: two objects", method: "PUT", path: data, body: `{"a":1}{"b":2}`, status: 400, code: "invalid_json"},
		{name: "data: 1 MiB + 1 byte", method: "PUT", path: data, body: padded(`{"pad":"`, "x", `"}`, mib+1), status: 413, code: "body_too_large"},
		{name: "data: 1 MiB + 1 byte, chunked", method: "PUT", path: data, body: padded(`{"pad":"`, "x", `"}`, mib+1), chunked: true, status: 413, code: "body_too_large"},
		{name: "data: nested 33 deep", method: "PUT", path: data, body: nested(33), status: 400, code: "invalid_json"},
		{name: "data: arrays nested 33 deep", method: "PUT", path: data, body: nestedArrays(33), status: 400, code: "invalid_json"},
		{name: "data: duplicate key", method: "PUT", path: data, body: `{"a":1,"a":2}`, status: 400, code: "invalid_json"},
		{name: "data: duplicate key nested", method: "PUT", path: data, body: `{"a":{"b":1,"b":2}}`, status: 400, code: "invalid_json"},
		{name: "data: case-variant keys", method: "PUT", path: data, body: `{"plan":1,"Plan":2}`, status: 400, code: "invalid_json"},
		{name: "data: Kelvin-sign key beside k", method: "PUT", path: data, body: `{"k":1,"` + "\u212a" + `":2}`, status: 400, code: "invalid_json"},
		{name: "data: text/plain", method: "PUT", path: data, body: `{"a":1}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
		{name: "data: invalid UTF-8 in a value", method: "PUT", path: data, body: "{\"a\":\"\xff\"}", status: 400, code: "invalid_json"},
		{name: "data: invalid UTF-8 in a key", method: "PUT", path: data, body: "{\"\xc3\":1}", status: 400, code: "invalid_json"},
		{name: "data: null body", method: "PUT", path: data, body: `null`, status: 400, code: "invalid_data"},
		{name: "data: array body", method: "PUT", path: data, body: `[]`, status: 400, code: "invalid_data"},
		{name: "data: string body", method: "PUT", path: data, body: `"x"`, status: 400, code: "invalid_data"},
		{name: "data: number body", method: "PUT", path: data, body: `1`, status: 400, code: "invalid_data"},
		{name: "data: empty body", method: "PUT", path: data, body: ``, status: 400, code: "invalid_json"},
		{name: "data: over 64 KiB", method: "PUT", path: data, body: padded(`{"pad":"`, "x", `"}`, 64<<10+1), status: 400, code: "invalid_data"},
		{name: "data: 10 KB id", method: "PUT", path: longID + "/data", body: `{"a":1}`, status: 404, code: "not_found"},

		{name: "GET: 10 KB id", method: "GET", path: longID, status: 404, code: "not_found"},
		{name: "GET data: 10 KB id", method: "GET", path: longID + "/data", status: 404, code: "not_found"},
		{name: "DELETE: 10 KB id", method: "DELETE", path: longID, status: 404, code: "not_found"},
		{name: "disable: 10 KB id", method: "PUT", path: longID + "/disable", status: 404, code: "not_found"},
		{name: "enable: 10 KB id", method: "PUT", path: longID + "/enable", status: 404, code: "not_found"},
		{name: "DELETE: upper-case id", method: "DELETE", path: strings.ToUpper(user), status: 404, code: "not_found"},
		{name: "disable: upper-case id", method: "PUT", path: "/users/" + strings.ToUpper(id) + "/disable", status: 404, code: "not_found"},
	}
	runBad(t, s, id, cases)

	// The fixture's password survived every attempt on it.
	if !be.checkpw(t, id, fixturePW) {
		t.Errorf("fixture password after the bad requests: got false, want true")
	}
}

// TestBackendInputLimitsAccepted is the other side of each limit: input
// just inside it is accepted.
func TestBackendInputLimitsAccepted(t *testing.T) {
	be := startServer(t).BackendAPI
	id := be.newUser(t, "limits@example.com", "lantern-tabby-41")
	const mib = 1 << 20

	// dataIs checks the data stored for the user named by X-Object-ID (a
	// create) or by id.
	dataIs := func(want string) func(*testing.T, response) {
		return func(t *testing.T, r response) {
			uid := r.Header.Get("X-Object-ID")
			if uid == "" {
				uid = id
			}
			data := be.getData(t, uid).wantStatus(t, "GET data", http.StatusOK)
			if d := jsonDiff(data.Body, []byte(want)); d != "" {
				t.Errorf("data: %s", d)
			}
		}
	}
	// passwordIs checks that pw now logs the user in.
	passwordIs := func(pw string) func(*testing.T, response) {
		return func(t *testing.T, r response) {
			uid := r.Header.Get("X-Object-ID")
			if uid == "" {
				uid = id
			}
			if !be.checkpw(t, uid, pw) {
				t.Errorf("checkpw %q: got false, want true", pw)
			}
		}
	}
	data64K := padded(`{"pad":"`, "x", `"}`, 64<<10)
	noType := map[string]string{"Content-Type": ""}
	charset := map[string]string{"Content-Type": "application/json; charset=utf-8"}

	runScenarios(t, be, []scenario{
		{name: "create: data nested 32 deep", method: "POST", path: "/users/", body: `{"email":"deep@example.com","password":"lantern-tabby-41","data":` + nested(32) + `}`, status: 201, check: dataIs(nested(32))},
		{name: "create: data arrays nested 32 deep", method: "POST", path: "/users/", body: `{"email":"deep2@example.com","password":"lantern-tabby-41","data":` + nestedArrays(32) + `}`, status: 201, check: dataIs(nestedArrays(32))},
		{name: "data: nested 32 deep", method: "PUT", path: "/users/" + id + "/data", body: nested(32), status: 204, check: dataIs(nested(32))},
		{name: "data: exactly 64 KiB", method: "PUT", path: "/users/" + id + "/data", body: data64K, status: 204, check: dataIs(data64K)},
		{name: "create: data of exactly 64 KiB", method: "POST", path: "/users/", body: `{"email":"big64@example.com","password":"lantern-tabby-41","data":` + data64K + `}`, status: 201, check: dataIs(data64K)},
		{name: "create: body of exactly 1 MiB", method: "POST", path: "/users/", body: padded(`{"email":"mib@example.com","password":"lantern-tabby-41"`, " ", `}`, mib), status: 201},
		{name: "data: body of exactly 1 MiB", method: "PUT", path: "/users/" + id + "/data", body: padded(`{"mib":true`, " ", `}`, mib), status: 204, check: dataIs(`{"mib":true}`)},
		{name: "create: 8 multi-byte code points", method: "POST", path: "/users/", body: `{"email":"umlaut@example.com","password":"ääääääää"}`, status: 201, check: passwordIs("ääääääää")},
		{name: "create: 128 multi-byte code points", method: "POST", path: "/users/", body: mustJSON(t, map[string]string{"email": "umlaut128@example.com", "password": strings.Repeat("ö", 128)}), status: 201, check: passwordIs(strings.Repeat("ö", 128))},
		{name: "create: Unicode local part", method: "POST", path: "/users/", body: `{"email":"josé@example.com","password":"lantern-tabby-41"}`, status: 201},
		{name: "password: 8 multi-byte code points", method: "PUT", path: "/users/" + id + "/password", body: `{"password":"ääääääää"}`, status: 204, check: passwordIs("ääääääää")},
		{name: "create: no content type", method: "POST", path: "/users/", body: `{"email":"notype@example.com","password":"lantern-tabby-41"}`, header: noType, status: 201},
		{name: "email: no content type", method: "PUT", path: "/users/" + id + "/email", body: `{"email":"limits2@example.com"}`, header: noType, status: 204},
		{name: "password: no content type", method: "PUT", path: "/users/" + id + "/password", body: `{"password":"lantern-tabby-43"}`, header: noType, status: 204, check: passwordIs("lantern-tabby-43")},
		{name: "checkpw: no content type", method: "POST", path: "/users/" + id + "/checkpw", body: `{"password":"lantern-tabby-43"}`, header: noType, status: 200, want: `{"result":true}`},
		{name: "data: no content type", method: "PUT", path: "/users/" + id + "/data", body: `{"t":"none"}`, header: noType, status: 204, check: dataIs(`{"t":"none"}`)},
		{name: "email: charset parameter", method: "PUT", path: "/users/" + id + "/email", body: `{"email":"limits3@example.com"}`, header: charset, status: 204},
		{name: "checkpw: charset parameter", method: "POST", path: "/users/" + id + "/checkpw", body: `{"password":"lantern-tabby-43"}`, header: charset, status: 200, want: `{"result":true}`},
		{name: "data: charset parameter", method: "PUT", path: "/users/" + id + "/data", body: `{"t":"utf-8"}`, header: charset, status: 204, check: dataIs(`{"t":"utf-8"}`)},
	})
}
