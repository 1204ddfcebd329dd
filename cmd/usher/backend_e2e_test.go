package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The backend surface, end to end: the real server on :0, spoken to over
// mutual TLS, one scenario table per endpoint. The rules every response must
// keep (request id, no-store, JSON bodies, the native error shape) are
// checked by do on every request of every file in this package.

// unknownID is a well-formed UUIDv7 that names no user.
const unknownID = "01890a5d-ac96-7f4b-bcce-b302099a8057"

// testClock is a settable clock for Main.Now, safe for concurrent use. It
// starts at the real time (the development certificates are issued by it).
type testClock struct {
	start time.Time
	mu    sync.Mutex
	now   time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// startClocked starts Usher on a test clock.
func startClocked(t *testing.T) (*testServer, *testClock) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := &testClock{start: now, now: now}
	return startServer(t, func(m *Main) { m.Now = c.Now }), c
}

// newRequest builds a backend request. A non-empty body is sent as
// application/json unless header names a Content-Type ("" sends none).
func newRequest(t testing.TB, s *testServer, method, path, body string, header map[string]string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.Backend+path, r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, shorten(path), err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	return req
}

// send runs req and reads the whole response. It does not touch a
// testing.T, so goroutines may call it.
func send(c *http.Client, req *http.Request) (int, http.Header, []byte, error) {
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return res.StatusCode, res.Header, body, nil
}

// do sends one request to the backend over mutual TLS and checks the rules
// every response keeps.
func do(t testing.TB, s *testServer, method, path, body string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	status, h, b, err := send(s.Client, newRequest(t, s, method, path, body, header))
	if err != nil {
		t.Fatalf("%s %s: %v", method, shorten(path), err)
	}
	checkCommon(t, method+" "+shorten(path), status, h, b)
	return status, h, b
}

// checkCommon checks what API.md's common rules require of every response.
func checkCommon(t testing.TB, what string, status int, h http.Header, body []byte) {
	t.Helper()
	if h.Get("X-Request-ID") == "" {
		t.Errorf("%s: no X-Request-ID in the response", what)
	}
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control: got %q, want %q", what, got, "no-store")
	}
	if status == http.StatusNoContent && len(body) != 0 {
		t.Errorf("%s: 204 with a body: %q", what, shorten(string(body)))
	}
	if len(body) > 0 {
		if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err != nil || mt != "application/json" {
			t.Errorf("%s: Content-Type: got %q, want application/json", what, h.Get("Content-Type"))
		}
		if !json.Valid(body) {
			t.Errorf("%s: body is not JSON: %q", what, shorten(string(body)))
		}
	}
	if status >= 400 {
		errorCode(t, body)
	}
	if status >= 500 {
		t.Errorf("%s: got status %d, Usher must not answer 5xx here; body %s", what, status, body)
	}
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// errorCode checks that body is the native error body, exactly
// {"error":{"code","message"}}, and returns its code.
func errorCode(t testing.TB, body []byte) string {
	t.Helper()
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(body, &outer); err != nil {
		t.Errorf("error body %q: %v", shorten(string(body)), err)
		return ""
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(outer["error"], &inner); err != nil {
		t.Errorf("error body %q: %v", shorten(string(body)), err)
		return ""
	}
	if got, want := keys(outer), []string{"error"}; !slices.Equal(got, want) {
		t.Errorf("error body keys: got %q, want %q", got, want)
	}
	if got, want := keys(inner), []string{"code", "message"}; !slices.Equal(got, want) {
		t.Errorf("error body keys under error: got %q, want %q", got, want)
	}
	var code, msg string
	if err := json.Unmarshal(inner["code"], &code); err != nil || !snakeCase.MatchString(code) {
		t.Errorf("error code: got %s, want a snake_case string", inner["code"])
	}
	if err := json.Unmarshal(inner["message"], &msg); err != nil || msg == "" {
		t.Errorf("error message: got %s, want a non-empty string", inner["message"])
	}
	return code
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// shorten keeps huge paths and bodies out of failure messages.
func shorten(s string) string {
	if len(s) > 200 {
		return fmt.Sprintf("%s…(%d bytes)", s[:200], len(s))
	}
	return s
}

// jsonDiff reports how got differs from want as JSON values ("" when equal).
// Numbers compare by value, exactly, so a big integer must survive intact.
func jsonDiff(got, want []byte) string {
	g, err := decodeValue(got)
	if err != nil {
		return fmt.Sprintf("got invalid JSON %q: %v", shorten(string(got)), err)
	}
	w, err := decodeValue(want)
	if err != nil {
		return fmt.Sprintf("want invalid JSON %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("got %s, want %s", shorten(string(bytes.TrimSpace(got))), shorten(string(bytes.TrimSpace(want))))
	}
	return ""
}

func decodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the value")
	}
	return canonicalNumbers(v), nil
}

func canonicalNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(v))
		if !ok {
			return "bad number " + string(v)
		}
		return r.RatString()
	case map[string]any:
		for k, e := range v {
			v[k] = canonicalNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = canonicalNumbers(e)
		}
	}
	return v
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wireUser is a user as GET /users/{id} returns it.
type wireUser struct {
	ID        string          `json:"id"`
	Email     string          `json:"email"`
	Confirmed bool            `json:"confirmed"`
	Enabled   bool            `json:"enabled"`
	Data      json.RawMessage `json:"data"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

var (
	userKeys = []string{"confirmed", "created_at", "data", "email", "enabled", "id", "updated_at"}
	uuidV7   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// decodeUser checks that body is a user with exactly the contract's keys and
// nothing secret, and returns it.
func decodeUser(t testing.TB, body []byte) wireUser {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("user body %q: %v", shorten(string(body)), err)
	}
	if got := keys(m); !slices.Equal(got, userKeys) {
		t.Errorf("user keys: got %q, want %q", got, userKeys)
	}
	for _, secret := range []string{"password", "hash", "$argon2", "$2a$", "$2b$"} {
		if bytes.Contains(bytes.ToLower(body), []byte(secret)) {
			t.Errorf("user body holds %q: %s", secret, body)
		}
	}
	var u wireUser
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatalf("user body %q: %v", shorten(string(body)), err)
	}
	if !uuidV7.MatchString(u.ID) {
		t.Errorf("id: got %q, want a lower-case UUIDv7", u.ID)
	}
	for name, ts := range map[string]string{"created_at": u.CreatedAt, "updated_at": u.UpdatedAt} {
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("%s: got %q, want an RFC 3339 time: %v", name, ts, err)
		}
	}
	return u
}

func parseTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return ts
}

// rowCount counts every user in the database.
func rowCount(t testing.TB, s *testServer) int {
	t.Helper()
	var n int
	if err := s.Store.DB().QueryRow(`SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatalf("count users: %v", err)
	}
	return n
}

// getUser returns the user as GET /users/{id} shows it, and the raw body.
func getUser(t testing.TB, s *testServer, id string) (wireUser, []byte) {
	t.Helper()
	status, _, body := do(t, s, "GET", "/users/"+id, "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /users/%s: got %d, want 200; body %s", id, status, body)
	}
	return decodeUser(t, body), body
}

// createUser creates a user from a request body and returns its id.
func createUser(t testing.TB, s *testServer, body string) string {
	t.Helper()
	status, h, b := do(t, s, "POST", "/users/", body, nil)
	if status != http.StatusCreated {
		t.Fatalf("create %s: got %d, want 201; body %s", shorten(body), status, b)
	}
	return h.Get("X-Object-ID")
}

// newUser creates a user with email and password and returns its id.
func newUser(t testing.TB, s *testServer, email, pw string) string {
	t.Helper()
	return createUser(t, s, mustJSON(t, map[string]string{"email": email, "password": pw}))
}

// checkpw returns the result of POST /users/{id}/checkpw.
func checkpw(t testing.TB, s *testServer, id, pw string) bool {
	t.Helper()
	status, _, body := do(t, s, "POST", "/users/"+id+"/checkpw", mustJSON(t, map[string]string{"password": pw}), nil)
	if status != http.StatusOK {
		t.Fatalf("checkpw: got %d, want 200; body %s", status, body)
	}
	return checkResult(t, body)
}

// checkResult decodes {"result": bool}, refusing any other shape.
func checkResult(t testing.TB, body []byte) bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("checkpw body %q: %v", body, err)
	}
	if got, want := keys(m), []string{"result"}; !slices.Equal(got, want) {
		t.Errorf("checkpw keys: got %q, want %q", got, want)
	}
	var ok bool
	if err := json.Unmarshal(m["result"], &ok); err != nil {
		t.Fatalf("checkpw result %s: %v", m["result"], err)
	}
	return ok
}

// scenario is one row of an endpoint's table: a request and what must come
// back. check runs last, for predicates and for the state the request left.
type scenario struct {
	name   string
	method string
	path   string
	body   string
	header map[string]string // request headers; "Content-Type": "" sends none

	status     int
	code       string            // the native error code wanted
	wantHeader map[string]string // response headers wanted, exactly
	want       string            // the body must be this JSON value
	check      func(t *testing.T, h http.Header, body []byte)
}

func runScenarios(t *testing.T, s *testServer, cases []scenario) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := do(t, s, c.method, c.path, c.body, c.header)
			if status != c.status {
				t.Fatalf("%s %s: status: got %d, want %d; body %s", c.method, shorten(c.path), status, c.status, shorten(string(body)))
			}
			if c.code != "" {
				if got := errorCode(t, body); got != c.code {
					t.Errorf("error code: got %q, want %q", got, c.code)
				}
			}
			for k, want := range c.wantHeader {
				if got := h.Get(k); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			if c.want != "" {
				if d := jsonDiff(body, []byte(c.want)); d != "" {
					t.Errorf("body: %s", d)
				}
			}
			if c.check != nil {
				c.check(t, h, body)
			}
		})
	}
}

// malformedIDs never name a user; each must be 404, never 400 or 500.
func malformedIDs(existing string) map[string]string {
	return map[string]string{
		"short word":          "xyz",
		"10 KB id":            strings.Repeat("a", 10<<10),
		"upper-case uuid":     strings.ToUpper(existing),
		"uuid without dashes": strings.ReplaceAll(existing, "-", ""),
		"uuid in braces":      url.PathEscape("{" + existing + "}"),
		"uuid plus a char":    existing + "0",
		"sql quote":           url.PathEscape("' OR '1'='1"),
		"percent-encoded nul": "%00",
	}
}

func TestBackendCreate(t *testing.T) {
	s, clock := startClocked(t)
	newUser(t, s, "taken@example.com", "lantern-tabby-41")
	newUser(t, s, "a@x.com", "lantern-tabby-41")
	newUser(t, s, "quack@x.com", "lantern-tabby-41")
	newUser(t, s, "info@x.com", "lantern-tabby-41")
	newUser(t, s, "user@bücher.example", "lantern-tabby-41")

	// created checks a 201: X-Object-ID names the user in the body, the body
	// is the user as GET returns it, with the given email and flags.
	created := func(email string, confirmed, enabled bool, data string) func(*testing.T, http.Header, []byte) {
		return func(t *testing.T, h http.Header, body []byte) {
			u := decodeUser(t, body)
			if got := h.Get("X-Object-ID"); got != u.ID {
				t.Errorf("X-Object-ID: got %q, want the body's id %q", got, u.ID)
			}
			if u.Email != email {
				t.Errorf("email: got %q, want %q", u.Email, email)
			}
			if u.Confirmed != confirmed || u.Enabled != enabled {
				t.Errorf("confirmed, enabled: got %v, %v, want %v, %v", u.Confirmed, u.Enabled, confirmed, enabled)
			}
			if d := jsonDiff(u.Data, []byte(data)); d != "" {
				t.Errorf("data: %s", d)
			}
			if got := parseTime(t, u.CreatedAt); !got.Equal(clock.start) {
				t.Errorf("created_at: got %v, want %v", got, clock.start)
			}
			if u.UpdatedAt != u.CreatedAt {
				t.Errorf("updated_at: got %q, want created_at %q", u.UpdatedAt, u.CreatedAt)
			}
			_, got := getUser(t, s, u.ID)
			if d := jsonDiff(got, body); d != "" {
				t.Errorf("GET after create: %s", d)
			}
		}
	}
	runScenarios(t, s, []scenario{
		{
			name: "POST /users/ with defaults", method: "POST", path: "/users/",
			body:   `{"email":"new1@example.com","password":"lantern-tabby-41"}`,
			status: 201, check: created("new1@example.com", false, true, `{}`),
		},
		{
			name: "POST /users without the slash", method: "POST", path: "/users",
			body:   `{"email":"new2@example.com","password":"lantern-tabby-41"}`,
			status: 201, check: created("new2@example.com", false, true, `{}`),
		},
		{
			name: "every field given", method: "POST", path: "/users/",
			body:   `{"email":"new3@example.com","password":"lantern-tabby-41","confirmed":true,"enabled":false,"data":{"plan":"pro","seats":[1,2]}}`,
			status: 201, check: created("new3@example.com", true, false, `{"plan":"pro","seats":[1,2]}`),
		},
		{
			name: "null optional fields mean the defaults", method: "POST", path: "/users/",
			body:   `{"email":"new4@example.com","password":"lantern-tabby-41","confirmed":null,"enabled":null}`,
			status: 201, check: created("new4@example.com", false, true, `{}`),
		},
		{
			name: "email stored as given after trimming", method: "POST", path: "/users/",
			body:   `{"email":"  Mixed.Case@Example.COM\t","password":"lantern-tabby-41"}`,
			status: 201, check: created("Mixed.Case@Example.COM", false, true, `{}`),
		},
		{
			name: "missing content type accepted", method: "POST", path: "/users/",
			body: `{"email":"new5@example.com","password":"lantern-tabby-41"}`, header: map[string]string{"Content-Type": ""},
			status: 201, check: created("new5@example.com", false, true, `{}`),
		},
		{
			name: "content type with charset accepted", method: "POST", path: "/users/",
			body: `{"email":"new6@example.com","password":"lantern-tabby-41"}`, header: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			status: 201, check: created("new6@example.com", false, true, `{}`),
		},
		{
			name: "Kelvin sign does not collide with k", method: "POST", path: "/users/",
			body:   `{"email":"quac\u212a@x.com","password":"lantern-tabby-41"}`,
			status: 201, check: func(t *testing.T, h http.Header, body []byte) {
				created("quac\u212a@x.com", false, true, `{}`)(t, h, body)
				// and it is an account of its own from now on
				status, _, b := do(t, s, "POST", "/users/", `{"email":"QUAC\u212a@X.com","password":"lantern-tabby-41"}`, nil)
				if status != http.StatusConflict || errorCode(t, b) != "email_taken" {
					t.Errorf("the same Kelvin address again: got %d %s, want 409 email_taken", status, b)
				}
			},
		},
		{
			name: "dotted capital I does not collide with i", method: "POST", path: "/users/",
			body:   `{"email":"\u0130nfo@x.com","password":"lantern-tabby-41"}`,
			status: 201, check: created("\u0130nfo@x.com", false, true, `{}`),
		},
		{
			name: "254-byte address accepted", method: "POST", path: "/users/",
			body:   mustJSON(t, map[string]string{"email": email254(), "password": "lantern-tabby-41"}),
			status: 201, check: created(email254(), false, true, `{}`),
		},

		{name: "same email", method: "POST", path: "/users/", body: `{"email":"taken@example.com","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},
		{name: "case variant A@X.com of a@x.com", method: "POST", path: "/users/", body: `{"email":"A@X.com","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},
		{name: "upper-case local part", method: "POST", path: "/users/", body: `{"email":"QUACK@x.com","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},
		{name: "padded with spaces", method: "POST", path: "/users/", body: `{"email":" taken@example.com ","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},
		{name: "IDNA form of a Unicode domain", method: "POST", path: "/users/", body: `{"email":"USER@xn--bcher-kva.example","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},
		{name: "upper-case Unicode domain", method: "POST", path: "/users/", body: `{"email":"user@BÜCHER.example","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},

		{name: "no email", method: "POST", path: "/users/", body: `{"password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "empty email", method: "POST", path: "/users/", body: `{"email":"","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "email without @", method: "POST", path: "/users/", body: `{"email":"nobody.example.com","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "email with display name", method: "POST", path: "/users/", body: `{"email":"Bob <bob@example.com>","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "two addresses", method: "POST", path: "/users/", body: `{"email":"a1@example.com, b1@example.com","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "CRLF in email", method: "POST", path: "/users/", body: `{"email":"evil@example.com\r\nBcc: x@y.com","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "255-byte address", method: "POST", path: "/users/", body: mustJSON(t, map[string]string{"email": "a" + email254(), "password": "lantern-tabby-41"}), status: 400, code: "invalid_email"},
		{name: "no password", method: "POST", path: "/users/", body: `{"email":"nopw@example.com"}`, status: 400, code: "invalid_password"},
		{name: "password of 7", method: "POST", path: "/users/", body: `{"email":"pw7@example.com","password":"1234567"}`, status: 400, code: "invalid_password"},
		{name: "password of 129", method: "POST", path: "/users/", body: mustJSON(t, map[string]string{"email": "pw129@example.com", "password": strings.Repeat("p", 129)}), status: 400, code: "invalid_password"},
		{name: "not JSON", method: "POST", path: "/users/", body: `email=a@b.c&password=lantern-tabby-41`, status: 400, code: "invalid_json"},
		{name: "empty body", method: "POST", path: "/users/", body: ``, status: 400, code: "invalid_json"},
		{name: "unknown field", method: "POST", path: "/users/", body: `{"email":"uf@example.com","password":"lantern-tabby-41","admin":true}`, status: 400, code: "invalid_json"},
		{name: "id field", method: "POST", path: "/users/", body: `{"email":"uf@example.com","password":"lantern-tabby-41","id":"` + unknownID + `"}`, status: 400, code: "invalid_json"},
		{name: "confirmed of the wrong type", method: "POST", path: "/users/", body: `{"email":"wt@example.com","password":"lantern-tabby-41","confirmed":"yes"}`, status: 400, code: "invalid_json"},
		{name: "email of the wrong type", method: "POST", path: "/users/", body: `{"email":["wt@example.com"],"password":"lantern-tabby-41"}`, status: 400, code: "invalid_json"},
		{name: "data of the wrong type", method: "POST", path: "/users/", body: `{"email":"wt@example.com","password":"lantern-tabby-41","data":[1]}`, status: 400, code: "invalid_data"},
		{name: "wrong content type", method: "POST", path: "/users/", body: `{"email":"ct@example.com","password":"lantern-tabby-41"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
	})
}

// email254 is a valid address of exactly 254 bytes.
func email254() string {
	return strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com"
}

func TestBackendGetUser(t *testing.T) {
	s, clock := startClocked(t)
	id := createUser(t, s, `{"email":"Get.Me@Example.com","password":"lantern-tabby-41","confirmed":true,"data":{"n":1}}`)
	gone := newUser(t, s, "gone@example.com", "lantern-tabby-41")
	if status, _, _ := do(t, s, "DELETE", "/users/"+gone, "", nil); status != http.StatusNoContent {
		t.Fatalf("delete: got %d, want 204", status)
	}
	cases := []scenario{
		{
			name: "existing user", method: "GET", path: "/users/" + id, status: 200,
			check: func(t *testing.T, _ http.Header, body []byte) {
				u := decodeUser(t, body)
				want := wireUser{ID: id, Email: "Get.Me@Example.com", Confirmed: true, Enabled: true, Data: u.Data,
					CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
				if !reflect.DeepEqual(u, want) {
					t.Errorf("user: got %+v, want %+v", u, want)
				}
				if d := jsonDiff(u.Data, []byte(`{"n":1}`)); d != "" {
					t.Errorf("data: %s", d)
				}
				for name, ts := range map[string]string{"created_at": u.CreatedAt, "updated_at": u.UpdatedAt} {
					if got := parseTime(t, ts); !got.Equal(clock.start) {
						t.Errorf("%s: got %v, want %v", name, got, clock.start)
					}
				}
			},
		},
		{name: "unknown id", method: "GET", path: "/users/" + unknownID, status: 404, code: "not_found"},
		{name: "deleted user", method: "GET", path: "/users/" + gone, status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(id) {
		cases = append(cases, scenario{name: "malformed id: " + name, method: "GET", path: "/users/" + bad, status: 404, code: "not_found"})
	}
	runScenarios(t, s, cases)
}

func TestBackendDeleteUser(t *testing.T) {
	s, _ := startClocked(t)
	id := newUser(t, s, "delete.me@example.com", "lantern-tabby-41")
	keep := newUser(t, s, "keep@example.com", "lantern-tabby-41")

	cases := []scenario{
		{
			name: "existing user", method: "DELETE", path: "/users/" + id, status: 204,
			check: func(t *testing.T, _ http.Header, _ []byte) {
				for _, r := range [][3]string{
					{"GET", "/users/" + id, ""},
					{"DELETE", "/users/" + id, ""},
					{"GET", "/users/" + id + "/data", ""},
					{"POST", "/users/" + id + "/checkpw", `{"password":"lantern-tabby-41"}`},
					{"PUT", "/users/" + id + "/email", `{"email":"x@example.com"}`},
					{"PUT", "/users/" + id + "/disable", ""},
				} {
					status, _, body := do(t, s, r[0], r[1], r[2], nil)
					if status != http.StatusNotFound || errorCode(t, body) != "not_found" {
						t.Errorf("%s %s after delete: got %d %s, want 404 not_found", r[0], r[1], status, body)
					}
				}
				if got := rowCount(t, s); got != 1 {
					t.Errorf("users after delete: got %d, want 1", got)
				}
				getUser(t, s, keep) // the other user is untouched
				// The address is free again.
				newUser(t, s, "Delete.Me@example.com", "lantern-tabby-42")
			},
		},
		{name: "unknown id", method: "DELETE", path: "/users/" + unknownID, status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(keep) {
		cases = append(cases, scenario{name: "malformed id: " + name, method: "DELETE", path: "/users/" + bad, status: 404, code: "not_found"})
	}
	runScenarios(t, s, cases)
}

func TestBackendSetEmail(t *testing.T) {
	s, clock := startClocked(t)
	other := newUser(t, s, "a@x.com", "lantern-tabby-41")
	newUser(t, s, "quack@x.com", "lantern-tabby-41")
	user := func(email string) string { return newUser(t, s, email, "lantern-tabby-41") }

	// changed checks that GET shows the new email as sent (trimmed), a newer
	// updated_at, and that the old address is free again.
	changed := func(id, oldEmail, want string) func(*testing.T, http.Header, []byte) {
		return func(t *testing.T, _ http.Header, _ []byte) {
			u, _ := getUser(t, s, id)
			if u.Email != want {
				t.Errorf("email: got %q, want %q", u.Email, want)
			}
			if got := parseTime(t, u.UpdatedAt); !got.After(parseTime(t, u.CreatedAt)) {
				t.Errorf("updated_at %s is not after created_at %s", u.UpdatedAt, u.CreatedAt)
			}
			if !strings.EqualFold(oldEmail, want) {
				newUser(t, s, oldEmail, "lantern-tabby-41")
			}
		}
	}
	unchanged := func(id, want string) func(*testing.T, http.Header, []byte) {
		return func(t *testing.T, _ http.Header, _ []byte) {
			if u, _ := getUser(t, s, id); u.Email != want {
				t.Errorf("email: got %q, want %q", u.Email, want)
			}
		}
	}
	u1, u2, u3, u4 := user("one@example.com"), user("two@example.com"), user("three@example.com"), user("four@example.com")
	u5 := user("five@example.com")
	clock.Advance(time.Second) // so that updated_at moves
	cases := []scenario{
		{name: "new address", method: "PUT", path: "/users/" + u1 + "/email", body: `{"email":"  One.New@Example.com "}`, status: 204, check: changed(u1, "one@example.com", "One.New@Example.com")},
		{name: "case change of its own address", method: "PUT", path: "/users/" + u2 + "/email", body: `{"email":"TWO@example.COM"}`, status: 204, check: changed(u2, "two@example.com", "TWO@example.COM")},
		{name: "Kelvin sign beside quack@x.com", method: "PUT", path: "/users/" + u3 + "/email", body: `{"email":"quac\u212a@x.com"}`, status: 204, check: changed(u3, "three@example.com", "quac\u212a@x.com")},
		{name: "another user's address", method: "PUT", path: "/users/" + u4 + "/email", body: `{"email":"a@x.com"}`, status: 409, code: "email_taken", check: unchanged(u4, "four@example.com")},
		{name: "case variant A@X.com of another user's a@x.com", method: "PUT", path: "/users/" + u4 + "/email", body: `{"email":"A@X.com"}`, status: 409, code: "email_taken", check: unchanged(u4, "four@example.com")},
		{name: "case variant QUACK@X.COM", method: "PUT", path: "/users/" + u4 + "/email", body: `{"email":"QUACK@X.COM"}`, status: 409, code: "email_taken", check: unchanged(u4, "four@example.com")},
		{name: "no @", method: "PUT", path: "/users/" + u5 + "/email", body: `{"email":"five"}`, status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "empty", method: "PUT", path: "/users/" + u5 + "/email", body: `{"email":""}`, status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "missing", method: "PUT", path: "/users/" + u5 + "/email", body: `{}`, status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "CRLF", method: "PUT", path: "/users/" + u5 + "/email", body: `{"email":"five@example.com\r\nBcc: x@y.com"}`, status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "display name", method: "PUT", path: "/users/" + u5 + "/email", body: `{"email":"Five <five@example.com>"}`, status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "255 bytes", method: "PUT", path: "/users/" + u5 + "/email", body: mustJSON(t, map[string]string{"email": "a" + email254()}), status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "not JSON", method: "PUT", path: "/users/" + u5 + "/email", body: `five@example.org`, status: 400, code: "invalid_json", check: unchanged(u5, "five@example.com")},
		{name: "unknown field", method: "PUT", path: "/users/" + u5 + "/email", body: `{"email":"f@example.org","confirmed":true}`, status: 400, code: "invalid_json", check: unchanged(u5, "five@example.com")},
		{name: "unknown user", method: "PUT", path: "/users/" + unknownID + "/email", body: `{"email":"nobody@example.com"}`, status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(other) {
		cases = append(cases, scenario{name: "malformed id: " + name, method: "PUT", path: "/users/" + bad + "/email", body: `{"email":"m@example.com"}`, status: 404, code: "not_found"})
	}
	runScenarios(t, s, cases)
}

func TestBackendSetPassword(t *testing.T) {
	s, _ := startClocked(t)
	n := 0
	user := func() string {
		n++
		return newUser(t, s, fmt.Sprintf("pw%d@example.com", n), "old-lantern-tabby")
	}
	// now checks which passwords checkpw accepts afterwards.
	now := func(id string, right, wrong []string) func(*testing.T, http.Header, []byte) {
		return func(t *testing.T, _ http.Header, _ []byte) {
			for _, pw := range right {
				if !checkpw(t, s, id, pw) {
					t.Errorf("checkpw %q: got false, want true", pw)
				}
			}
			for _, pw := range wrong {
				if checkpw(t, s, id, pw) {
					t.Errorf("checkpw %q: got true, want false", pw)
				}
			}
		}
	}
	u1, u2, u3, u4 := user(), user(), user(), user()
	cases := []scenario{
		{name: "new password", method: "PUT", path: "/users/" + u1 + "/password", body: `{"password":"new-lantern-tabby"}`, status: 204, check: now(u1, []string{"new-lantern-tabby"}, []string{"old-lantern-tabby"})},
		{name: "no trimming", method: "PUT", path: "/users/" + u2 + "/password", body: `{"password":"  spaced out  "}`, status: 204, check: now(u2, []string{"  spaced out  "}, []string{"spaced out", "old-lantern-tabby"})},
		{name: "8 multi-byte code points", method: "PUT", path: "/users/" + u3 + "/password", body: `{"password":"ääääääää"}`, status: 204, check: now(u3, []string{"ääääääää"}, []string{"aaaaaaaa", "old-lantern-tabby"})},
		{name: "128 code points, no truncation", method: "PUT", path: "/users/" + u4 + "/password", body: mustJSON(t, map[string]string{"password": strings.Repeat("ü", 128)}), status: 204, check: now(u4, []string{strings.Repeat("ü", 128)}, []string{strings.Repeat("ü", 127), strings.Repeat("ü", 36)})},
		{name: "7 code points", method: "PUT", path: "/users/" + u1 + "/password", body: `{"password":"äääääää"}`, status: 400, code: "invalid_password", check: now(u1, []string{"new-lantern-tabby"}, nil)},
		{name: "129 code points", method: "PUT", path: "/users/" + u1 + "/password", body: mustJSON(t, map[string]string{"password": strings.Repeat("p", 129)}), status: 400, code: "invalid_password", check: now(u1, []string{"new-lantern-tabby"}, nil)},
		{name: "missing", method: "PUT", path: "/users/" + u1 + "/password", body: `{}`, status: 400, code: "invalid_password", check: now(u1, []string{"new-lantern-tabby"}, nil)},
		{name: "not JSON", method: "PUT", path: "/users/" + u1 + "/password", body: `new-lantern-tabby-2`, status: 400, code: "invalid_json", check: now(u1, []string{"new-lantern-tabby"}, nil)},
		{name: "unknown field", method: "PUT", path: "/users/" + u1 + "/password", body: `{"password":"new-lantern-tabby-2","old":"new-lantern-tabby"}`, status: 400, code: "invalid_json", check: now(u1, []string{"new-lantern-tabby"}, nil)},
		{name: "unknown user", method: "PUT", path: "/users/" + unknownID + "/password", body: `{"password":"new-lantern-tabby"}`, status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(u1) {
		cases = append(cases, scenario{name: "malformed id: " + name, method: "PUT", path: "/users/" + bad + "/password", body: `{"password":"new-lantern-tabby"}`, status: 404, code: "not_found"})
	}
	runScenarios(t, s, cases)
}

func TestBackendDisableEnable(t *testing.T) {
	s, _ := startClocked(t)
	id := newUser(t, s, "toggle@example.com", "lantern-tabby-41")
	disabled := createUser(t, s, `{"email":"born.disabled@example.com","password":"lantern-tabby-41","enabled":false}`)

	state := func(id string, enabled bool) func(*testing.T, http.Header, []byte) {
		return func(t *testing.T, _ http.Header, _ []byte) {
			if u, _ := getUser(t, s, id); u.Enabled != enabled {
				t.Errorf("enabled: got %v, want %v", u.Enabled, enabled)
			}
			// The right password logs in only an enabled user.
			if got := checkpw(t, s, id, "lantern-tabby-41"); got != enabled {
				t.Errorf("checkpw with the right password: got %v, want %v", got, enabled)
			}
		}
	}
	cases := []scenario{
		{name: "created disabled", method: "GET", path: "/users/" + disabled, status: 200, check: state(disabled, false)},
		{name: "enable a user created disabled", method: "PUT", path: "/users/" + disabled + "/enable", status: 204, check: state(disabled, true)},
		{name: "disable", method: "PUT", path: "/users/" + id + "/disable", status: 204, check: state(id, false)},
		{name: "disable again", method: "PUT", path: "/users/" + id + "/disable", status: 204, check: state(id, false)},
		{name: "enable", method: "PUT", path: "/users/" + id + "/enable", status: 204, check: state(id, true)},
		{name: "disable unknown user", method: "PUT", path: "/users/" + unknownID + "/disable", status: 404, code: "not_found"},
		{name: "enable unknown user", method: "PUT", path: "/users/" + unknownID + "/enable", status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(id) {
		cases = append(cases,
			scenario{name: "disable, malformed id: " + name, method: "PUT", path: "/users/" + bad + "/disable", status: 404, code: "not_found"},
			scenario{name: "enable, malformed id: " + name, method: "PUT", path: "/users/" + bad + "/enable", status: 404, code: "not_found"})
	}
	runScenarios(t, s, cases)
}

func TestBackendData(t *testing.T) {
	s, _ := startClocked(t)
	id := newUser(t, s, "data@example.com", "lantern-tabby-41")
	fresh := newUser(t, s, "fresh@example.com", "lantern-tabby-41")

	// stored checks that GET data, and the data field of GET user, hold want.
	stored := func(id, want string) func(*testing.T, http.Header, []byte) {
		return func(t *testing.T, _ http.Header, _ []byte) {
			status, _, body := do(t, s, "GET", "/users/"+id+"/data", "", nil)
			if status != http.StatusOK {
				t.Fatalf("GET data: got %d, want 200; body %s", status, body)
			}
			if d := jsonDiff(body, []byte(want)); d != "" {
				t.Errorf("GET data: %s", d)
			}
			if u, _ := getUser(t, s, id); jsonDiff(u.Data, []byte(want)) != "" {
				t.Errorf("GET user data: %s", jsonDiff(u.Data, []byte(want)))
			}
		}
	}
	put := func(name, body string) scenario {
		return scenario{name: "PUT " + name, method: "PUT", path: "/users/" + id + "/data", body: body, status: 204, check: stored(id, body)}
	}
	cases := []scenario{
		{name: "GET data of a new user", method: "GET", path: "/users/" + fresh + "/data", status: 200, want: `{}`},
		put("flat object", `{"plan":"pro","seats":3}`),
		put("nested values", `{"a":{"b":[1,2,{"c":null}]},"t":true,"f":false}`),
		put("markup and Unicode", `{"name":"Zoë <admin> & \"co\"","duck":"🦆","esc":"\u00e9\n"}`),
		put("numbers kept exactly", `{"big":12345678901234567890123,"pi":3.141592653589793238,"tiny":1e-7,"neg":-0.5}`),
		put("whitespace", " {\n \"a\" : [ 1 , 2 ] \n} "),
		put("empty key", `{"":1}`),
		put("replaces rather than merges", `{"only":"this"}`),
		put("empty object clears", `{}`),
		{
			name: "missing content type accepted", method: "PUT", path: "/users/" + id + "/data", body: `{"ct":"none"}`,
			header: map[string]string{"Content-Type": ""}, status: 204, check: stored(id, `{"ct":"none"}`),
		},
		{name: "array", method: "PUT", path: "/users/" + id + "/data", body: `[1,2]`, status: 400, code: "invalid_data", check: stored(id, `{"ct":"none"}`)},
		{name: "string", method: "PUT", path: "/users/" + id + "/data", body: `"x"`, status: 400, code: "invalid_data", check: stored(id, `{"ct":"none"}`)},
		{name: "not JSON", method: "PUT", path: "/users/" + id + "/data", body: `plan=pro`, status: 400, code: "invalid_json", check: stored(id, `{"ct":"none"}`)},
		{name: "PUT unknown user", method: "PUT", path: "/users/" + unknownID + "/data", body: `{"a":1}`, status: 404, code: "not_found"},
		{name: "GET unknown user", method: "GET", path: "/users/" + unknownID + "/data", status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(id) {
		cases = append(cases,
			scenario{name: "PUT, malformed id: " + name, method: "PUT", path: "/users/" + bad + "/data", body: `{"a":1}`, status: 404, code: "not_found"},
			scenario{name: "GET, malformed id: " + name, method: "GET", path: "/users/" + bad + "/data", status: 404, code: "not_found"})
	}
	runScenarios(t, s, cases)
}

func TestBackendCheckPassword(t *testing.T) {
	s, _ := startClocked(t)
	id := newUser(t, s, "check@example.com", "  right lantern tabby ")
	path := "/users/" + id + "/checkpw"
	cases := []scenario{
		{name: "right password", method: "POST", path: path, body: `{"password":"  right lantern tabby "}`, status: 200, want: `{"result":true}`},
		{name: "wrong password", method: "POST", path: path, body: `{"password":"wrong lantern tabby"}`, status: 200, want: `{"result":false}`},
		{name: "trimmed password", method: "POST", path: path, body: `{"password":"right lantern tabby"}`, status: 200, want: `{"result":false}`},
		{name: "empty password", method: "POST", path: path, body: `{"password":""}`, status: 200, want: `{"result":false}`},
		{name: "right again", method: "POST", path: path, body: `{"password":"  right lantern tabby "}`, status: 200, want: `{"result":true}`},
		{name: "too long", method: "POST", path: path, body: mustJSON(t, map[string]string{"password": strings.Repeat("p", 129)}), status: 400, code: "invalid_password"},
		{name: "not JSON", method: "POST", path: path, body: `right lantern tabby`, status: 400, code: "invalid_json"},
		{name: "unknown field", method: "POST", path: path, body: `{"password":"x","email":"check@example.com"}`, status: 400, code: "invalid_json"},
		{name: "password of the wrong type", method: "POST", path: path, body: `{"password":12345678}`, status: 400, code: "invalid_json"},
		{name: "wrong content type", method: "POST", path: path, body: `{"password":"x"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
		{name: "unknown user", method: "POST", path: "/users/" + unknownID + "/checkpw", body: `{"password":"  right lantern tabby "}`, status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(id) {
		cases = append(cases, scenario{name: "malformed id: " + name, method: "POST", path: "/users/" + bad + "/checkpw", body: `{"password":"x"}`, status: 404, code: "not_found"})
	}
	runScenarios(t, s, cases)
}

func TestBackendLockout(t *testing.T) {
	s, clock := startClocked(t) // LockoutMax 10, LockoutWindow 15 minutes
	const right = "right-lantern-tabby"
	wrong := func(t *testing.T, id string, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if checkpw(t, s, id, "wrong-lantern-tabby") {
				t.Fatalf("wrong password %d: got true", i+1)
			}
		}
	}
	cases := []struct {
		name  string
		steps func(t *testing.T, id string)
	}{
		{"ten failures lock the account", func(t *testing.T, id string) {
			wrong(t, id, 10)
			for i := range 3 {
				if checkpw(t, s, id, right) {
					t.Fatalf("right password while locked, try %d: got true, want false", i+1)
				}
			}
			clock.Advance(15*time.Minute + time.Second)
			if !checkpw(t, s, id, right) {
				t.Errorf("right password after the window: got false, want true")
			}
		}},
		{"nine failures do not lock, and success clears them", func(t *testing.T, id string) {
			wrong(t, id, 9)
			if !checkpw(t, s, id, right) {
				t.Fatalf("right password after 9 failures: got false, want true")
			}
			wrong(t, id, 9)
			if !checkpw(t, s, id, right) {
				t.Errorf("right password after 9 more failures: got false, want true")
			}
		}},
		{"failures outside the window do not count", func(t *testing.T, id string) {
			wrong(t, id, 9)
			clock.Advance(16 * time.Minute)
			wrong(t, id, 1)
			if !checkpw(t, s, id, right) {
				t.Errorf("right password: got false, want true")
			}
		}},
		{"a locked account stays locked for the whole window", func(t *testing.T, id string) {
			wrong(t, id, 10)
			clock.Advance(14 * time.Minute)
			if checkpw(t, s, id, right) {
				t.Errorf("right password 14 minutes in: got true, want false")
			}
		}},
		{"lockout is per account", func(t *testing.T, id string) {
			other := newUser(t, s, "bystander@example.com", right)
			wrong(t, id, 10)
			if !checkpw(t, s, other, right) {
				t.Errorf("another account's right password: got false, want true")
			}
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.steps(t, newUser(t, s, fmt.Sprintf("locked%d@example.com", i), right))
		})
	}
}

func TestBackendRoutes(t *testing.T) {
	s, _ := startClocked(t)
	id := newUser(t, s, "routes@example.com", "lantern-tabby-41")
	allows := func(methods ...string) func(*testing.T, http.Header, []byte) {
		return func(t *testing.T, h http.Header, _ []byte) {
			got := strings.Split(h.Get("Allow"), ",")
			for i := range got {
				got[i] = strings.TrimSpace(got[i])
			}
			for _, m := range methods {
				if !slices.Contains(got, m) {
					t.Errorf("Allow: got %q, want it to hold %s", h.Get("Allow"), m)
				}
			}
		}
	}
	runScenarios(t, s, []scenario{
		{name: "root", method: "GET", path: "/", status: 404, code: "not_found"},
		{name: "unknown path", method: "GET", path: "/nope", status: 404, code: "not_found"},
		{name: "unknown user sub-resource", method: "GET", path: "/users/" + id + "/nope", status: 404, code: "not_found"},
		{name: "too deep", method: "GET", path: "/users/" + id + "/data/extra", status: 404, code: "not_found"},
		{name: "trailing slash on a user", method: "GET", path: "/users/" + id + "/", status: 404, code: "not_found"},
		{name: "PATCH a user", method: "PATCH", path: "/users/" + id, body: `{}`, status: 405, code: "method_not_allowed", check: allows("GET", "DELETE")},
		{name: "PUT a user", method: "PUT", path: "/users/" + id, body: `{}`, status: 405, code: "method_not_allowed", check: allows("GET", "DELETE")},
		{name: "GET the collection", method: "GET", path: "/users/", status: 405, code: "method_not_allowed", check: allows("POST")},
		{name: "GET the collection without slash", method: "GET", path: "/users", status: 405, code: "method_not_allowed", check: allows("POST")},
		{name: "POST email", method: "POST", path: "/users/" + id + "/email", body: `{"email":"x@example.com"}`, status: 405, code: "method_not_allowed", check: allows("PUT")},
		{name: "GET password", method: "GET", path: "/users/" + id + "/password", status: 405, code: "method_not_allowed", check: allows("PUT")},
		{name: "POST disable", method: "POST", path: "/users/" + id + "/disable", status: 405, code: "method_not_allowed", check: allows("PUT")},
		{name: "GET enable", method: "GET", path: "/users/" + id + "/enable", status: 405, code: "method_not_allowed", check: allows("PUT")},
		{name: "DELETE data", method: "DELETE", path: "/users/" + id + "/data", status: 405, code: "method_not_allowed", check: allows("GET", "PUT")},
		{name: "GET checkpw", method: "GET", path: "/users/" + id + "/checkpw", status: 405, code: "method_not_allowed", check: allows("POST")},
	})
}

// TestBackendRequestID sends request ids, sane and not, to responses of
// every kind (200, 201, 204, 400, 404, 405).
func TestBackendRequestID(t *testing.T) {
	s, _ := startClocked(t)
	id := newUser(t, s, "rid@example.com", "lantern-tabby-41")
	targets := []struct {
		name, method, path, body string
		status                   int
	}{
		{"200", "GET", "/users/" + id, "", 200},
		{"201", "POST", "/users/", "", 201}, // body filled in per case
		{"204", "PUT", "/users/" + id + "/enable", "", 204},
		{"400", "PUT", "/users/" + id + "/data", "[", 400},
		{"404", "GET", "/users/xyz", "", 404},
		{"405", "PATCH", "/users/" + id, "", 405},
	}
	cases := []struct {
		name string
		sent string
		echo bool
	}{
		{"none sent", "", false},
		{"sane id", "req-42", true},
		{"sane id with every allowed sign", "Abc.def_9:ghi-0", true},
		{"uuid", "0b4c8a0e-5a9f-4a47-9d55-0f4f3b4d9c1e", true},
		{"500 characters", strings.Repeat("r", 500), false},
		{"space", "req 42", false},
		{"markup", "<script>alert(1)</script>", false},
		{"non-ASCII", "réq-42", false},
		{"quote and semicolon", `a";b`, false},
	}
	n := 0
	for _, c := range cases {
		for _, tg := range targets {
			t.Run(c.name+"/"+tg.name, func(t *testing.T) {
				body := tg.body
				if tg.status == 201 {
					n++
					body = fmt.Sprintf(`{"email":"rid%d@example.com","password":"lantern-tabby-41"}`, n)
				}
				var header map[string]string
				if c.sent != "" {
					header = map[string]string{"X-Request-ID": c.sent}
				}
				status, h, _ := do(t, s, tg.method, tg.path, body, header)
				if status != tg.status {
					t.Fatalf("status: got %d, want %d", status, tg.status)
				}
				checkRequestID(t, h.Get("X-Request-ID"), c.sent, c.echo)
			})
		}
	}

	// A header folded over two lines (obs-fold) reaches Usher as one value
	// that held a CRLF; only HTTP/1.1 lets a client send it.
	t.Run("CRLF-folded id", func(t *testing.T) {
		sent := "abc\r\n X-Evil: 1"
		status, h := rawHTTP1(t, s, "GET /users/"+id+" HTTP/1.1\r\nHost: usher\r\nX-Request-ID: "+sent+"\r\nConnection: close\r\n\r\n")
		if status != http.StatusOK {
			t.Fatalf("status: got %d, want 200", status)
		}
		checkRequestID(t, h.Get("X-Request-ID"), sent, false)
		if h.Get("X-Evil") != "" {
			t.Errorf("X-Evil was injected into the response: %q", h.Get("X-Evil"))
		}
	})

	t.Run("generated ids differ", func(t *testing.T) {
		_, h1, _ := do(t, s, "GET", "/users/"+id, "", nil)
		_, h2, _ := do(t, s, "GET", "/users/"+id, "", nil)
		if h1.Get("X-Request-ID") == h2.Get("X-Request-ID") {
			t.Errorf("two requests got the same generated id %q", h1.Get("X-Request-ID"))
		}
	})
}

var saneID = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

// checkRequestID checks the X-Request-ID of a response: the one sent when it
// is sane (echo), otherwise a fresh, plain one.
func checkRequestID(t *testing.T, got, sent string, echo bool) {
	t.Helper()
	switch {
	case echo && got != sent:
		t.Errorf("X-Request-ID: got %q, want the sent %q echoed", got, sent)
	case !echo && sent != "" && got == sent:
		t.Errorf("X-Request-ID: got %q, want a fresh id instead of the sent %q", shorten(got), shorten(sent))
	case !echo && !saneID.MatchString(got):
		t.Errorf("X-Request-ID: got %q, want a plain generated id", got)
	}
}

// rawHTTP1 writes a hand-made HTTP/1.1 request over a mutual-TLS connection
// and returns the response's status and headers.
func rawHTTP1(t *testing.T, s *testServer, raw string) (int, http.Header) {
	t.Helper()
	cfg := s.Client.Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", s.BackendAddr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkCommon(t, "raw request", res.StatusCode, res.Header, body)
	return res.StatusCode, res.Header
}
