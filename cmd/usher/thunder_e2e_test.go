package main

// End-to-end tests of the Thunder surface (seed 001, API.md "Thunder
// surface"): every call and every error string, on the real listener.
// Helpers shared with crosssurface_test.go and verification_test.go are
// prefixed "th".

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The Thunder application and a user password that passes the policy.
const (
	thApp      = "app"
	thSecret   = "secret"
	thPassword = "lantern-tabby-41"
	thOtherPW  = "harbour-quince-77"
	thMailWait = 15 * time.Second
)

// Thunder's messages, as API.md lists them.
const (
	thMsgNullUser       = "Cannot post a null user."
	thMsgNoEmail        = "Cannot post a user without an email address."
	thMsgBadEmail       = "Invalid email address format. Please try again."
	thMsgBadProperties  = "Cannot post a user with invalid properties."
	thMsgBadEmailParam  = "Incorrect or missing email query parameter."
	thMsgBadTokenParam  = "Incorrect or missing verification token query parameter."
	thMsgBadToken       = "Incorrect verification token."
	thMsgNotFound       = "User not found in the database."
	thMsgConflict       = "A user with the same email address already exists."
	thMsgConflictUpdate = "A user with the new email address already exists."
	thMsgUnavailable    = "Database is currently unavailable. Please try again later."
	thMsgNoCredentials  = "Credentials are required to access this resource."
	thMsgBadCredentials = "Unable to validate user with provided credentials."
	thRealm             = `Basic realm="THUNDER - AUTHENTICATION"`
	thNotFoundBody      = `{"code":404,"message":"HTTP 404 Not Found"}`
)

// thEnable turns the Thunder listener on with one application.
func thEnable(m *Main) {
	m.Config.ThunderAddr = "127.0.0.1:0"
	m.Config.ThunderApps = []string{thApp + ":" + thSecret}
}

// thAPI calls one running Usher: its Thunder listener, and its public and
// backend listeners for the cross-surface tests.
type thAPI struct {
	s      *testServer
	base   string       // http://host:port of the Thunder listener
	client *http.Client // plain HTTP, does not follow redirects
}

// thStart starts Usher with the Thunder listener on; edits run after
// thEnable, so they may change its settings.
func thStart(t testing.TB, edits ...func(*Main)) *thAPI {
	t.Helper()
	s := startServer(t, append([]func(*Main){thEnable}, edits...)...)
	if s.ThunderAddr() == "" {
		t.Fatal("Thunder listener not started")
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &thAPI{
		s: s, base: "http://" + s.ThunderAddr(),
		client: &http.Client{
			Transport:     tr,
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// thResponse is one answer.
type thResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r thResponse) String() string { return fmt.Sprintf("%d %q", r.Status, r.Body) }

// thOpt adjusts a request before it is sent.
type thOpt func(*http.Request)

// thPW sends the user's password in Thunder's "password" header.
func thPW(pw string) thOpt { return func(r *http.Request) { r.Header.Set("password", pw) } }

// thBasic replaces the application credentials.
func thBasic(name, secret string) thOpt {
	return func(r *http.Request) { r.SetBasicAuth(name, secret) }
}

// thHeader sets a raw header.
func thHeader(k, v string) thOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// thNoBasic sends no Authorization header.
func thNoBasic(r *http.Request) { r.Header.Del("Authorization") }

// thQ returns "?email=<escaped email>" plus more name=value pairs.
func thQ(email string, more ...string) string {
	q := "?email=" + url.QueryEscape(email)
	for i := 0; i+1 < len(more); i += 2 {
		q += "&" + more[i] + "=" + url.QueryEscape(more[i+1])
	}
	return q
}

// thDo sends a request (with Content-Type application/json when body is
// not empty), applies opts first, and reads the whole answer.
func thDo(t testing.TB, c *http.Client, method, rawURL, body string, opts ...thOpt) thResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, rawURL, err)
	}
	return thResponse{Status: res.StatusCode, Header: res.Header, Body: b}
}

// do sends a request to the Thunder listener, with the application's
// Basic credentials unless an option removes them.
func (a *thAPI) do(t testing.TB, method, path, body string, opts ...thOpt) thResponse {
	t.Helper()
	return thDo(t, a.client, method, a.base+path, body,
		append([]thOpt{thBasic(thApp, thSecret)}, opts...)...)
}

// thUserBody is a Thunder user as a client posts it; props go to the top
// level.
func thUserBody(t testing.TB, email, pw string, props map[string]any) string {
	t.Helper()
	m := map[string]any{"email": map[string]any{"address": email}}
	if pw != "" {
		m["password"] = pw
	}
	for k, v := range props {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// thUser is a Thunder user as the surface renders it.
type thUser struct {
	Address           string
	Verified          bool
	VerificationToken *string
	Password          string
	CreationTime      int64
	LastUpdateTime    int64
	Props             map[string]any // the custom properties, at the top level
}

// token returns the verification token, or "" for null.
func (u thUser) token() string {
	if u.VerificationToken == nil {
		return ""
	}
	return *u.VerificationToken
}

// thParseUser decodes a Thunder user and checks its shape: an email object
// with exactly address, verified and verificationToken; a string password;
// integer epoch-millisecond times; everything else a custom property.
func thParseUser(t testing.TB, r thResponse) thUser {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &top); err != nil {
		t.Fatalf("user is not a JSON object: %v\n%s", err, r.Body)
	}
	var u thUser
	var email map[string]json.RawMessage
	if err := json.Unmarshal(top["email"], &email); err != nil || email == nil {
		t.Fatalf("email: got %s, want an object\n%s", top["email"], r.Body)
	}
	if got, want := thKeys(email), []string{"address", "verificationToken", "verified"}; !cmp.Equal(got, want) {
		t.Errorf("email keys: got %v, want %v", got, want)
	}
	for _, f := range []struct {
		raw json.RawMessage
		dst any
	}{
		{email["address"], &u.Address}, {email["verified"], &u.Verified}, {email["verificationToken"], &u.VerificationToken},
		{top["password"], &u.Password}, {top["creationTime"], &u.CreationTime}, {top["lastUpdateTime"], &u.LastUpdateTime},
	} {
		if f.raw == nil {
			t.Fatalf("user lacks a field: %s", r.Body)
		}
		if err := json.Unmarshal(f.raw, f.dst); err != nil {
			t.Fatalf("user field %s: %v\n%s", f.raw, err, r.Body)
		}
	}
	u.Props = map[string]any{}
	for k, v := range top {
		switch k {
		case "email", "password", "creationTime", "lastUpdateTime":
			continue
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			t.Fatal(err)
		}
		u.Props[k] = x
	}
	return u
}

// thDiff compares want and got by their indented JSON encoding (map keys
// sorted), so deeply nested custom data compares in linear time; it
// returns a line diff, or "" when they are equal.
func thDiff(t testing.TB, want, got any) string {
	t.Helper()
	w, err := json.MarshalIndent(want, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	g, err := json.MarshalIndent(got, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(w, g) {
		return ""
	}
	return cmp.Diff(string(w), string(g))
}

func thKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ { // tiny insertion sort: no extra imports
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

// thProps turns props into what JSON decoding gives back (numbers as
// float64), for comparison with thUser.Props.
func thProps(t testing.TB, props map[string]any) map[string]any {
	t.Helper()
	if len(props) == 0 {
		return map[string]any{}
	}
	b, err := json.Marshal(props)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// thCustom is thProps without Thunder's own top-level fields.
func thCustom(t testing.TB, props map[string]any) map[string]any {
	t.Helper()
	out := thProps(t, props)
	for _, k := range []string{"email", "password", "creationTime", "lastUpdateTime"} {
		delete(out, k)
	}
	return out
}

// thWantUser checks that r is status with a Thunder user, and returns it.
func thWantUser(t testing.TB, what string, r thResponse, status int) thUser {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: got %s, want %d with a user", what, r, status)
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Errorf("%s: no X-Request-ID", what)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control: got %q, want no-store", what, got)
	}
	return thParseUser(t, r)
}

// thEmptyUser is the who of thWantError for "(User: )": an email query
// parameter given empty, which Thunder echoes.
const thEmptyUser = "\x00empty"

// thWantError checks Thunder's error format: status, plain text,
// exactly "<message> (User: <email or null>)".
func thWantError(t testing.TB, what string, r thResponse, status int, msg, who string) {
	t.Helper()
	switch who {
	case "":
		who = "null"
	case thEmptyUser:
		who = ""
	}
	want := msg + " (User: " + who + ")"
	if r.Status != status || string(r.Body) != want {
		t.Errorf("%s: got %d %q, want %d %q", what, r.Status, r.Body, status, want)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("%s: Content-Type: got %q, want text/plain", what, ct)
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Errorf("%s: no X-Request-ID", what)
	}
}

// thWantThunderFormat checks status and the shape of Thunder's error,
// "<message> (User: <email or null>)", whatever the message.
func thWantThunderFormat(t testing.TB, what string, r thResponse, status int) {
	t.Helper()
	body := string(r.Body)
	i := strings.LastIndex(body, " (User: ")
	if r.Status != status || i <= 0 || !strings.HasSuffix(body, ")") {
		t.Errorf("%s: got %d %q, want %d \"<message> (User: <email or null>)\"", what, r.Status, body, status)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("%s: Content-Type: got %q, want text/plain", what, ct)
	}
}

// thNested returns a JSON value nested depth levels deep.
func thNested(depth int) any {
	var v any = "leaf"
	for range depth {
		v = []any{v}
	}
	return v
}

// create posts a user and returns it.
func (a *thAPI) create(t testing.TB, email, pw string, props map[string]any) thUser {
	t.Helper()
	return thWantUser(t, "POST /users "+email, a.do(t, "POST", "/users", thUserBody(t, email, pw, props)), http.StatusCreated)
}

// get reads a user with its password.
func (a *thAPI) get(t testing.TB, email, pw string) thUser {
	t.Helper()
	return thWantUser(t, "GET /users "+email, a.do(t, "GET", "/users"+thQ(email), "", thPW(pw)), http.StatusOK)
}

// sendVerification is POST /verify; it returns the user with its token.
func (a *thAPI) sendVerification(t testing.TB, email, pw string) thUser {
	t.Helper()
	u := thWantUser(t, "POST /verify "+email, a.do(t, "POST", "/verify"+thQ(email), "", thPW(pw)), http.StatusOK)
	if u.token() == "" {
		t.Fatalf("POST /verify %s: no verificationToken", email)
	}
	return u
}

// verifyLink is GET /verify on the Thunder listener (no Basic auth).
func (a *thAPI) verifyLink(t testing.TB, email, tok, responseType string) thResponse {
	t.Helper()
	q := thQ(email, "token", tok)
	if responseType != "" {
		q += "&response_type=" + responseType
	}
	return a.do(t, "GET", "/verify"+q, "", thNoBasic)
}

func TestThunderListenerOffByDefault(t *testing.T) {
	s := startServer(t)
	if got := s.ThunderAddr(); got != "" {
		t.Fatalf("ThunderAddr without thunder-addr: got %q, want none", got)
	}
}

func TestThunderCreate(t *testing.T) {
	a := thStart(t)
	tests := []struct {
		name      string
		body      func(email string) string
		wantProps map[string]any
	}{
		{
			name: "email and password only",
			body: func(e string) string { return thUserBody(t, e, thPassword, nil) },
		},
		{
			name: "custom properties of every JSON type",
			body: func(e string) string {
				return thUserBody(t, e, thPassword, map[string]any{
					"myCustomProperty": "Hello World", "age": 41, "ratio": 2.5, "admin": false,
					"tags": []any{"a", 1.0}, "prefs": map[string]any{"theme": "dark", "n": []any{}},
				})
			},
			wantProps: map[string]any{
				"myCustomProperty": "Hello World", "age": 41, "ratio": 2.5, "admin": false,
				"tags": []any{"a", 1.0}, "prefs": map[string]any{"theme": "dark", "n": []any{}},
			},
		},
		{
			name: "properties at the limits: nested 32 deep, about 63 KiB",
			body: func(e string) string {
				return thUserBody(t, e, thPassword, map[string]any{"deep": thNested(31), "big": strings.Repeat("y", 63<<10)})
			},
			wantProps: map[string]any{"deep": thNested(31), "big": strings.Repeat("y", 63<<10)},
		},
		{
			name: "verification fields in the body are ignored",
			body: func(e string) string {
				return `{"email":{"address":"` + e + `","verified":true,"verificationToken":"0a4b81f3-0756-468e-8d98-7199eaab2ab8"},"password":"` + thPassword + `"}`
			},
		},
		{
			name: "times in the body are ignored",
			body: func(e string) string {
				return `{"email":{"address":"` + e + `"},"password":"` + thPassword + `","creationTime":5,"lastUpdateTime":6}`
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := "create" + string(rune('a'+i)) + "@example.com"
			before := time.Now().UnixMilli()
			res := a.do(t, "POST", "/users", tt.body(email))
			after := time.Now().UnixMilli()
			got := thWantUser(t, "POST /users", res, http.StatusCreated)

			if got.Address != email || got.Verified || got.VerificationToken != nil {
				t.Errorf("email: got {%q %v %v}, want {%q false null}", got.Address, got.Verified, got.VerificationToken, email)
			}
			if !strings.HasPrefix(got.Password, "$argon2id$") || strings.Contains(got.Password, thPassword) {
				t.Errorf("password: got %q, want an $argon2id$ PHC string without the plain text", got.Password)
			}
			if bytes.Contains(res.Body, []byte(thPassword)) {
				t.Errorf("the plain password appears in the response: %s", res.Body)
			}
			if got.CreationTime < before || got.CreationTime > after {
				t.Errorf("creationTime: got %d, want epoch ms in [%d, %d]", got.CreationTime, before, after)
			}
			if got.LastUpdateTime != got.CreationTime {
				t.Errorf("lastUpdateTime: got %d, want creationTime %d", got.LastUpdateTime, got.CreationTime)
			}
			want := thProps(t, tt.wantProps)
			if diff := thDiff(t, want, got.Props); diff != "" {
				t.Errorf("properties (-want +got):\n%s", diff)
			}
			if got, want := res.Header.Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("Cache-Control: got %q, want %q", got, want)
			}

			// It is stored as rendered.
			stored := a.get(t, email, thPassword)
			if diff := thDiff(t, got, stored); diff != "" {
				t.Errorf("GET after POST (-posted +stored):\n%s", diff)
			}
		})
	}
}

func TestThunderCreateErrors(t *testing.T) {
	a := thStart(t)
	a.create(t, "taken@example.com", thPassword, nil)
	pw := `"password":"` + thPassword + `"`
	tests := []struct {
		name       string
		body       string
		opts       []thOpt
		wantStatus int
		wantMsg    string // "": Thunder's format, any message (API.md names none)
		wantUser   string
	}{
		{"empty body", "", nil, 400, thMsgNullUser, ""},
		{"blank body", " \n ", nil, 400, thMsgNullUser, ""},
		{"null", "null", nil, 400, thMsgNullUser, ""},
		{"null with spaces", "  null\n", nil, 400, thMsgNullUser, ""},
		{"no email", `{` + pw + `}`, nil, 400, thMsgNoEmail, ""},
		{"email null", `{"email":null,` + pw + `}`, nil, 400, thMsgNoEmail, ""},
		{"email object without address", `{"email":{},` + pw + `}`, nil, 400, thMsgNoEmail, ""},
		{"address null", `{"email":{"address":null},` + pw + `}`, nil, 400, thMsgNoEmail, ""},
		{"address empty", `{"email":{"address":""},` + pw + `}`, nil, 400, thMsgNoEmail, ""},
		{"no at sign", `{"email":{"address":"not-an-email"},` + pw + `}`, nil, 400, thMsgBadEmail, "not-an-email"},
		{"no local part", `{"email":{"address":"@example.com"},` + pw + `}`, nil, 400, thMsgBadEmail, "@example.com"},
		{"display name", `{"email":{"address":"Bob <bob@example.com>"},` + pw + `}`, nil, 400, thMsgBadEmail, "Bob <bob@example.com>"},
		{"two addresses", `{"email":{"address":"a@example.com, b@example.com"},` + pw + `}`, nil, 400, thMsgBadEmail, "a@example.com, b@example.com"},
		{"line break in the address", `{"email":{"address":"a@example.com\r\nBcc: b@example.com"},` + pw + `}`, nil, 400, thMsgBadEmail, "a@example.com\r\nBcc: b@example.com"},
		{"same email", thUserBody(t, "taken@example.com", thOtherPW, nil), nil, 409, thMsgConflict, "taken@example.com"},
		{"same email other case", thUserBody(t, "TAKEN@Example.COM", thOtherPW, nil), nil, 409, thMsgConflict, "TAKEN@Example.COM"},
		{"property nested 33 deep", thUserBody(t, "deep@example.com", thPassword, map[string]any{"p": thNested(32)}), nil, 400, thMsgBadProperties, "deep@example.com"},
		{"properties over 64 KiB", thUserBody(t, "big@example.com", thPassword, map[string]any{"p": strings.Repeat("x", 64<<10)}), nil, 400, thMsgBadProperties, "big@example.com"},
		// Common rules (API.md): statuses only, in Thunder's format.
		{"no password", `{"email":{"address":"nopw@example.com"}}`, nil, 400, "", ""},
		{"password outside the policy", thUserBody(t, "short@example.com", "short", nil), nil, 400, "", ""},
		{"common password", thUserBody(t, "common@example.com", "password123", nil), nil, 400, "", ""},
		{"not an object", `[]`, nil, 400, "", ""},
		{"invalid JSON", `{"email":`, nil, 400, "", ""},
		{"duplicate key", `{"email":{"address":"dup1@example.com"},"email":{"address":"dup2@example.com"},` + pw + `}`, nil, 400, "", ""},
		{"case-variant key", `{"email":{"address":"cv@example.com"},"Email":{"address":"cv2@example.com"},` + pw + `}`, nil, 400, "", ""},
		{"Content-Type text/plain", thUserBody(t, "ct@example.com", thPassword, nil), []thOpt{thHeader("Content-Type", "text/plain")}, 415, "", ""},
		{"body over 1 MiB", thUserBody(t, "huge@example.com", thPassword, map[string]any{"p": strings.Repeat("x", 1<<20)}), nil, 413, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.do(t, "POST", "/users", tt.body, tt.opts...)
			if tt.wantMsg == "" {
				thWantThunderFormat(t, "POST /users", res, tt.wantStatus)
				return
			}
			thWantError(t, "POST /users", res, tt.wantStatus, tt.wantMsg, tt.wantUser)
		})
	}
	t.Run("nothing was created", func(t *testing.T) {
		for _, e := range []string{"not-an-email", "a@example.com", "bob@example.com", "deep@example.com", "big@example.com",
			"nopw@example.com", "short@example.com", "common@example.com", "dup1@example.com", "dup2@example.com",
			"cv@example.com", "ct@example.com", "huge@example.com"} {
			res := a.do(t, "GET", "/users"+thQ(e), "", thPW(thPassword))
			if res.Status == http.StatusOK {
				t.Errorf("GET %s after a refused POST: got %s, want no user", e, res)
			}
		}
	})
}

func TestThunderProperties(t *testing.T) {
	type propCase struct {
		name  string
		props map[string]any
		ok    bool
	}
	configs := []struct {
		name     string
		allowed  []string
		subset   bool
		superset bool
		cases    []propCase
	}{
		{
			name: "exact set", allowed: []string{"age:integer", "nick:string"}, subset: false, superset: false,
			cases: []propCase{
				{"all allowed with their types", map[string]any{"age": 41, "nick": "tabby"}, true},
				{"Thunder's own fields are not properties", map[string]any{"age": 41, "nick": "tabby", "creationTime": 1, "lastUpdateTime": 2}, true},
				{"one missing", map[string]any{"age": 41}, false},
				{"none", nil, false},
				{"an extra one", map[string]any{"age": 41, "nick": "tabby", "extra": 1}, false},
				{"integer as string", map[string]any{"age": "41", "nick": "tabby"}, false},
				{"integer with a fraction", map[string]any{"age": 41.5, "nick": "tabby"}, false},
				{"string as number", map[string]any{"age": 41, "nick": 7}, false},
				{"string as null", map[string]any{"age": 41, "nick": nil}, false},
			},
		},
		{
			name: "subset allowed", allowed: []string{"age:integer", "nick:string"}, subset: true, superset: false,
			cases: []propCase{
				{"all", map[string]any{"age": 41, "nick": "tabby"}, true},
				{"one missing", map[string]any{"nick": "tabby"}, true},
				{"none", nil, true},
				{"an extra one", map[string]any{"nick": "tabby", "extra": true}, false},
				{"a wrong type", map[string]any{"age": "old"}, false},
			},
		},
		{
			name: "superset allowed", allowed: []string{"age:integer", "nick:string"}, subset: false, superset: true,
			cases: []propCase{
				{"all plus extra", map[string]any{"age": 41, "nick": "tabby", "extra": []any{1}}, true},
				{"one missing", map[string]any{"age": 41, "extra": 1}, false},
				{"a wrong type", map[string]any{"age": 41, "nick": false}, false},
			},
		},
		{
			name: "defaults: subset and superset", allowed: []string{"age:integer"}, subset: true, superset: true,
			cases: []propCase{
				{"anything else", map[string]any{"whatever": map[string]any{"x": 1}}, true},
				{"none", nil, true},
				{"a wrong type still fails", map[string]any{"age": "x"}, false},
			},
		},
		{
			name:    "every type",
			allowed: []string{"s:string", "i:integer", "d:double", "b:boolean", "l:list", "m:map"}, subset: true, superset: false,
			cases: []propCase{
				{"all right", map[string]any{"s": "x", "i": -3, "d": 2.5, "b": true, "l": []any{"a", 1}, "m": map[string]any{"k": "v"}}, true},
				{"string ok", map[string]any{"s": ""}, true},
				{"string bad: number", map[string]any{"s": 1}, false},
				{"string bad: list", map[string]any{"s": []any{"x"}}, false},
				{"integer ok", map[string]any{"i": 0}, true},
				{"integer bad: double", map[string]any{"i": 0.5}, false},
				{"integer bad: string", map[string]any{"i": "1"}, false},
				{"integer bad: boolean", map[string]any{"i": true}, false},
				{"double ok", map[string]any{"d": -0.25}, true},
				{"double bad: string", map[string]any{"d": "2.5"}, false},
				{"double bad: map", map[string]any{"d": map[string]any{}}, false},
				{"boolean ok", map[string]any{"b": false}, true},
				{"boolean bad: string", map[string]any{"b": "true"}, false},
				{"boolean bad: number", map[string]any{"b": 1}, false},
				{"list ok", map[string]any{"l": []any{}}, true},
				{"list bad: map", map[string]any{"l": map[string]any{}}, false},
				{"list bad: string", map[string]any{"l": "[]"}, false},
				{"map ok", map[string]any{"m": map[string]any{"nested": map[string]any{"deep": []any{1}}}}, true},
				{"map bad: list", map[string]any{"m": []any{}}, false},
				{"map bad: string", map[string]any{"m": "{}"}, false},
				{"map bad: null", map[string]any{"m": nil}, false},
			},
		},
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			a := thStart(t, func(m *Main) {
				m.Config.ThunderProperties = cfg.allowed
				m.Config.ThunderAllowSubset = cfg.subset
				m.Config.ThunderAllowSuperset = cfg.superset
			})
			// A user to update with each case.
			var base map[string]any
			for _, c := range cfg.cases {
				if c.ok {
					base = c.props
					break
				}
			}
			a.create(t, "base@example.com", thPassword, base)
			for i, c := range cfg.cases {
				t.Run(c.name, func(t *testing.T) {
					email := "p" + string(rune('a'+i)) + "@example.com"
					res := a.do(t, "POST", "/users", thUserBody(t, email, thPassword, c.props))
					if c.ok {
						u := thWantUser(t, "POST /users", res, http.StatusCreated)
						if diff := thDiff(t, thCustom(t, c.props), u.Props); diff != "" {
							t.Errorf("properties (-want +got):\n%s", diff)
						}
					} else {
						thWantError(t, "POST /users", res, http.StatusBadRequest, thMsgBadProperties, email)
					}

					// PUT validates the same way.
					res = a.do(t, "PUT", "/users", thUserBody(t, "base@example.com", "", c.props), thPW(thPassword))
					if c.ok {
						u := thWantUser(t, "PUT /users", res, http.StatusOK)
						if diff := thDiff(t, thCustom(t, c.props), u.Props); diff != "" {
							t.Errorf("properties after PUT (-want +got):\n%s", diff)
						}
					} else {
						thWantError(t, "PUT /users", res, http.StatusBadRequest, thMsgBadProperties, "base@example.com")
					}
				})
			}
		})
	}
}

func TestThunderGet(t *testing.T) {
	a := thStart(t)
	created := a.create(t, "Reader@Example.com", thPassword, map[string]any{"nick": "r"})
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantMsg    string
		wantUser   string
	}{
		{"by email", thQ("Reader@Example.com"), 200, "", ""},
		{"email case-insensitively", thQ("reader@EXAMPLE.COM"), 200, "", ""},
		{"unknown email", thQ("nobody@example.com"), 404, thMsgNotFound, "nobody@example.com"},
		{"no email parameter", "", 400, thMsgBadEmailParam, ""},
		{"empty email parameter", "?email=", 400, thMsgBadEmailParam, thEmptyUser},
		{"blank email parameter", "?email=%20%20", 400, thMsgBadEmailParam, "  "},
		{"other parameter only", "?mail=reader@example.com", 400, thMsgBadEmailParam, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.do(t, "GET", "/users"+tt.query, "", thPW(thPassword))
			if tt.wantStatus != http.StatusOK {
				thWantError(t, "GET /users", res, tt.wantStatus, tt.wantMsg, tt.wantUser)
				return
			}
			got := thWantUser(t, "GET /users", res, http.StatusOK)
			if diff := thDiff(t, created, got); diff != "" {
				t.Errorf("GET (-created +got):\n%s", diff)
			}
		})
	}
}

// TestThunderAuth covers the application's Basic credentials and the
// user's password header on every call that needs them.
func TestThunderAuth(t *testing.T) {
	calls := []struct {
		name, method, path string
		body               func(t testing.TB, email string) string
		wantStatus         int // with the right credentials
	}{
		{"create", "POST", "/users", func(t testing.TB, e string) string { return thUserBody(t, "new-"+e, thPassword, nil) }, 201},
		{"get", "GET", "/users?email=%s", nil, 200},
		{"update", "PUT", "/users", func(t testing.TB, e string) string { return thUserBody(t, e, "", map[string]any{"x": 1}) }, 200},
		{"delete", "DELETE", "/users?email=%s", nil, 200},
		{"send verification", "POST", "/verify?email=%s", nil, 200},
		{"reset verification", "POST", "/verify/reset?email=%s", nil, 200},
	}
	pathFor := func(p, email string) string { return strings.ReplaceAll(p, "%s", url.QueryEscape(email)) }
	bodyFor := func(t testing.TB, f func(testing.TB, string) string, email string) string {
		if f == nil {
			return ""
		}
		return f(t, email)
	}

	t.Run("basic auth", func(t *testing.T) {
		a := thStart(t)
		a.create(t, "basic@example.com", thPassword, nil)
		creds := []struct {
			name string
			opt  thOpt
		}{
			{"missing", thNoBasic},
			{"wrong secret", thBasic(thApp, "Secret")},
			{"wrong application", thBasic("App", thSecret)},
			{"empty", thBasic("", "")},
			{"bearer instead", thHeader("Authorization", "Bearer "+thSecret)},
			{"not base64", thHeader("Authorization", "Basic !!!")},
		}
		for _, c := range calls {
			for _, cr := range creds {
				t.Run(c.name+"/"+cr.name, func(t *testing.T) {
					res := a.do(t, c.method, pathFor(c.path, "basic@example.com"), bodyFor(t, c.body, "basic@example.com"), thPW(thPassword), cr.opt)
					if res.Status != http.StatusUnauthorized {
						t.Fatalf("got %s, want 401", res)
					}
					if got := res.Header.Get("WWW-Authenticate"); got != thRealm {
						t.Errorf("WWW-Authenticate: got %q, want %q", got, thRealm)
					}
					if got, want := string(res.Body), thMsgNoCredentials; got != want {
						t.Errorf("body: got %q, want %q (Dropwizard's)", got, want)
					}
				})
			}
		}
		t.Run("nothing changed", func(t *testing.T) {
			u := a.get(t, "basic@example.com", thPassword)
			if len(u.Props) != 0 || u.VerificationToken != nil {
				t.Errorf("refused calls changed the user: %+v", u)
			}
			res := a.do(t, "GET", "/users"+thQ("new-basic@example.com"), "", thPW(thPassword))
			thWantError(t, "GET the user a refused POST would have made", res, 404, thMsgNotFound, "new-basic@example.com")
		})
		t.Run("verification link needs none", func(t *testing.T) {
			for _, p := range []string{"/verify/success", "/verify" + thQ("basic@example.com", "token", "x")} {
				res := a.do(t, "GET", p, "", thNoBasic)
				if res.Status == http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") != "" {
					t.Errorf("GET %s without Basic auth: got %s, want no auth challenge", p, res)
				}
			}
		})
	})

	t.Run("password header", func(t *testing.T) {
		a := thStart(t)
		for _, c := range calls {
			if c.method == "POST" && c.path == "/users" {
				continue // a new user has no password to check yet
			}
			t.Run(c.name, func(t *testing.T) {
				email := c.name[:3] + "-pw@example.com"
				a.create(t, email, thPassword, nil)
				path, body := pathFor(c.path, email), bodyFor(t, c.body, email)
				thWantError(t, "no header", a.do(t, c.method, path, body), 400, thMsgNoCredentials, email)
				thWantError(t, "empty header", a.do(t, c.method, path, body, thPW("")), 400, thMsgNoCredentials, email)
				thWantError(t, "wrong password", a.do(t, c.method, path, body, thPW(thOtherPW)), 401, thMsgBadCredentials, email)
				thWantError(t, "password in another case", a.do(t, c.method, path, body, thPW(strings.ToUpper(thPassword))), 401, thMsgBadCredentials, email)
				thWantError(t, "the stored hash", a.do(t, c.method, path, body, thPW(a.getHash(t, email))), 401, thMsgBadCredentials, email)
				thWantError(t, "the password with one more character", a.do(t, c.method, path, body, thPW(thPassword+"x")), 401, thMsgBadCredentials, email)
				// The refused calls changed nothing.
				u := a.get(t, email, thPassword)
				if len(u.Props) != 0 || u.VerificationToken != nil {
					t.Errorf("refused calls changed the user: %+v", u)
				}
				if res := a.do(t, c.method, path, body, thPW(thPassword)); res.Status != c.wantStatus {
					t.Errorf("right password: got %s, want %d", res, c.wantStatus)
				}
			})
		}
	})

	t.Run("header check off", func(t *testing.T) {
		a := thStart(t, func(m *Main) { m.Config.ThunderHeaderCheck = false })
		for _, c := range calls {
			for _, h := range []struct {
				name string
				opts []thOpt
			}{{"no header", nil}, {"wrong header", []thOpt{thPW(thOtherPW)}}} {
				t.Run(c.name+"/"+h.name, func(t *testing.T) {
					email := c.name[:3] + strings.ReplaceAll(h.name, " ", "") + "@example.com"
					a.create(t, email, thPassword, nil)
					res := a.do(t, c.method, pathFor(c.path, email), bodyFor(t, c.body, email), h.opts...)
					if res.Status != c.wantStatus {
						t.Errorf("got %s, want %d", res, c.wantStatus)
					}
				})
			}
		}
		t.Run("basic auth still required", func(t *testing.T) {
			a.create(t, "still@example.com", thPassword, nil)
			res := a.do(t, "GET", "/users"+thQ("still@example.com"), "", thNoBasic)
			if res.Status != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") != thRealm {
				t.Errorf("got %s %v, want 401 with the realm", res, res.Header)
			}
		})
	})
}

// getHash returns the stored hash of a user, as GET shows it.
func (a *thAPI) getHash(t testing.TB, email string) string {
	t.Helper()
	return a.get(t, email, thPassword).Password
}

func TestThunderUpdate(t *testing.T) {
	t.Run("properties replaced, times kept", func(t *testing.T) {
		a := thStart(t)
		before := a.create(t, "upd@example.com", thPassword, map[string]any{"a": 1, "b": "x"})
		res := a.do(t, "PUT", "/users", thUserBody(t, "upd@example.com", before.Password, map[string]any{"b": "y", "c": []any{true}}), thPW(thPassword))
		got := thWantUser(t, "PUT", res, http.StatusOK)
		if diff := thDiff(t, thProps(t, map[string]any{"b": "y", "c": []any{true}}), got.Props); diff != "" {
			t.Errorf("properties (-want +got):\n%s", diff)
		}
		if got.CreationTime != before.CreationTime {
			t.Errorf("creationTime: got %d, want %d", got.CreationTime, before.CreationTime)
		}
		if got.LastUpdateTime < before.LastUpdateTime {
			t.Errorf("lastUpdateTime: got %d, want at least %d", got.LastUpdateTime, before.LastUpdateTime)
		}
		if diff := thDiff(t, got, a.get(t, "upd@example.com", thPassword)); diff != "" {
			t.Errorf("GET after PUT (-put +get):\n%s", diff)
		}
	})

	t.Run("verification fields in the body are ignored", func(t *testing.T) {
		a := thStart(t)
		a.create(t, "unv@example.com", thPassword, nil)
		body := `{"email":{"address":"unv@example.com","verified":true,"verificationToken":"0a4b81f3-0756-468e-8d98-7199eaab2ab8"}}`
		got := thWantUser(t, "PUT claiming verified", a.do(t, "PUT", "/users", body, thPW(thPassword)), http.StatusOK)
		if got.Verified || got.VerificationToken != nil {
			t.Errorf("a client verified itself: verified %v token %v", got.Verified, got.VerificationToken)
		}

		a.create(t, "ver2@example.com", thPassword, nil)
		tok := a.sendVerification(t, "ver2@example.com", thPassword).token()
		thWantUser(t, "verify", a.verifyLink(t, "ver2@example.com", tok, "json"), http.StatusOK)
		body = `{"email":{"address":"ver2@example.com","verified":false,"verificationToken":null}}`
		got = thWantUser(t, "PUT as in the seed", a.do(t, "PUT", "/users", body, thPW(thPassword)), http.StatusOK)
		if !got.Verified || got.token() != tok {
			t.Errorf("same email: verified %v token %q, want true %q", got.Verified, got.token(), tok)
		}
	})

	t.Run("password", func(t *testing.T) {
		a := thStart(t)
		tests := []struct {
			name      string
			password  func(stored string) any // the body's password field; nil: left out
			wantPW    string                  // the password that works afterwards
			wantNewPW bool                    // the stored hash changes
		}{
			{"the stored hash keeps it", func(h string) any { return h }, thPassword, false},
			{"left out keeps it", nil, thPassword, false},
			{"null keeps it", func(string) any { return nil }, thPassword, false},
			{"empty keeps it", func(string) any { return "" }, thPassword, false},
			{"a new plain one changes it", func(string) any { return thOtherPW }, thOtherPW, true},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				email := "pw" + string(rune('a'+i)) + "@example.com"
				before := a.create(t, email, thPassword, nil)
				body := map[string]any{"email": map[string]any{"address": email}}
				if tt.password != nil {
					body["password"] = tt.password(before.Password)
				}
				b, _ := json.Marshal(body)
				got := thWantUser(t, "PUT", a.do(t, "PUT", "/users", string(b), thPW(thPassword)), http.StatusOK)
				if changed := got.Password != before.Password; changed != tt.wantNewPW {
					t.Errorf("stored hash changed: got %v, want %v", changed, tt.wantNewPW)
				}
				if !strings.HasPrefix(got.Password, "$argon2id$") {
					t.Errorf("password: got %q, want a $argon2id$ PHC string", got.Password)
				}
				for _, pw := range []string{thPassword, thOtherPW} {
					res := a.do(t, "GET", "/users"+thQ(email), "", thPW(pw))
					if pw == tt.wantPW {
						thWantUser(t, "GET with the password in force", res, http.StatusOK)
					} else {
						thWantError(t, "GET with the other password", res, 401, thMsgBadCredentials, email)
					}
				}
			})
		}
		t.Run("a new password outside the policy", func(t *testing.T) {
			a.create(t, "weak@example.com", thPassword, nil)
			res := a.do(t, "PUT", "/users", thUserBody(t, "weak@example.com", "short", nil), thPW(thPassword))
			if res.Status != http.StatusBadRequest {
				t.Errorf("got %s, want 400", res)
			}
			a.get(t, "weak@example.com", thPassword)
		})
	})

	t.Run("email", func(t *testing.T) {
		a := thStart(t)
		a.create(t, "taken2@example.com", thPassword, nil)
		tests := []struct {
			name       string
			old, new   string
			lookup     string // ?email=lookup; "" sends none
			wantStatus int
			wantMsg    string
			wantUser   string
		}{
			{"new email with ?email=old", "old1@example.com", "new1@example.com", "old1@example.com", 200, "", ""},
			{"only the case of the domain", "old2@example.com", "old2@EXAMPLE.com", "old2@example.com", 200, "", ""},
			{"only the case of the local part", "old3@example.com", "OLD3@example.com", "old3@example.com", 200, "", ""},
			{"?email=old in another case", "old4@example.com", "new4@example.com", "Old4@Example.com", 200, "", ""},
			// Thunder names the user being updated, not the address it wanted.
			{"new email taken", "old5@example.com", "taken2@example.com", "old5@example.com", 409, thMsgConflictUpdate, "old5@example.com"},
			{"new email taken in another case", "old6@example.com", "Taken2@Example.com", "old6@example.com", 409, thMsgConflictUpdate, "old6@example.com"},
			{"new email without ?email=old", "old7@example.com", "new7@example.com", "", 404, thMsgNotFound, "new7@example.com"},
			{"?email=old unknown", "old8@example.com", "new8@example.com", "nobody@example.com", 404, thMsgNotFound, "nobody@example.com"},
			{"new email invalid", "old9@example.com", "not-an-email", "old9@example.com", 400, thMsgBadEmail, "not-an-email"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a.create(t, tt.old, thPassword, map[string]any{"keep": "me"})
				// Verified, with a live token.
				tok := a.sendVerification(t, tt.old, thPassword).token()
				thWantUser(t, "verify", a.verifyLink(t, tt.old, tok, "json"), http.StatusOK)

				path := "/users"
				if tt.lookup != "" {
					path += thQ(tt.lookup)
				}
				res := a.do(t, "PUT", path, thUserBody(t, tt.new, "", map[string]any{"keep": "me"}), thPW(thPassword))
				if tt.wantStatus != http.StatusOK {
					thWantError(t, "PUT", res, tt.wantStatus, tt.wantMsg, tt.wantUser)
					// Nothing changed: still verified with the same token.
					u := a.get(t, tt.old, thPassword)
					if !u.Verified || u.token() != tok {
						t.Errorf("after a refused PUT: verified %v token %q, want true %q", u.Verified, u.token(), tok)
					}
					return
				}
				got := thWantUser(t, "PUT", res, http.StatusOK)
				sameAddress := strings.EqualFold(tt.old, tt.new)
				if got.Address != tt.new {
					t.Errorf("address: got %q, want %q", got.Address, tt.new)
				}
				if sameAddress {
					// The same address (the domain is case-insensitive) is
					// not a new email: verification stays.
					if !got.Verified || got.token() != tok {
						t.Errorf("same address: verified %v token %q, want true %q", got.Verified, got.token(), tok)
					}
					return
				}
				if got.Verified || got.VerificationToken != nil {
					t.Errorf("new email: verified %v token %v, want false null", got.Verified, got.VerificationToken)
				}
				thWantError(t, "GET the old email", a.do(t, "GET", "/users"+thQ(tt.old), "", thPW(thPassword)), 404, thMsgNotFound, tt.old)
				if diff := thDiff(t, got, a.get(t, tt.new, thPassword)); diff != "" {
					t.Errorf("GET new email (-put +get):\n%s", diff)
				}
				thWantError(t, "the old token on the new email", a.verifyLink(t, tt.new, tok, "json"), 400, thMsgBadToken, tt.new)
			})
		}
	})

	t.Run("errors", func(t *testing.T) {
		a := thStart(t)
		a.create(t, "puterr@example.com", thPassword, nil)
		tests := []struct {
			name       string
			query      string
			body       string
			wantStatus int
			wantMsg    string
			wantUser   string
		}{
			{"empty body", "", "", 400, thMsgNullUser, ""},
			{"null", "", "null", 400, thMsgNullUser, ""},
			{"no email", "", `{"password":"x"}`, 400, thMsgNoEmail, ""},
			{"empty address", thQ("puterr@example.com"), `{"email":{"address":""}}`, 400, thMsgNoEmail, ""},
			{"invalid address", thQ("puterr@example.com"), `{"email":{"address":"bad@"}}`, 400, thMsgBadEmail, "bad@"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				thWantError(t, "PUT", a.do(t, "PUT", "/users"+tt.query, tt.body, thPW(thPassword)), tt.wantStatus, tt.wantMsg, tt.wantUser)
			})
		}
	})
}

func TestThunderDelete(t *testing.T) {
	a := thStart(t)
	a.create(t, "gone@example.com", thPassword, map[string]any{"nick": "g"})
	before := a.sendVerification(t, "gone@example.com", thPassword)

	res := a.do(t, "DELETE", "/users"+thQ("gone@example.com"), "", thPW(thPassword))
	got := thWantUser(t, "DELETE", res, http.StatusOK)
	if diff := thDiff(t, before, got); diff != "" {
		t.Errorf("DELETE answers the user as it was (-before +got):\n%s", diff)
	}
	thWantError(t, "GET after DELETE", a.do(t, "GET", "/users"+thQ("gone@example.com"), "", thPW(thPassword)), 404, thMsgNotFound, "gone@example.com")
	thWantError(t, "DELETE again", a.do(t, "DELETE", "/users"+thQ("gone@example.com"), "", thPW(thPassword)), 404, thMsgNotFound, "gone@example.com")
	thWantError(t, "the token of a deleted user", a.verifyLink(t, "gone@example.com", before.token(), "json"), 404, thMsgNotFound, "gone@example.com")
	thWantError(t, "DELETE without email", a.do(t, "DELETE", "/users", "", thPW(thPassword)), 400, thMsgBadEmailParam, "")

	// The address is free again.
	recreated := a.create(t, "gone@example.com", thOtherPW, nil)
	if recreated.VerificationToken != nil || len(recreated.Props) != 0 {
		t.Errorf("a new user with a deleted user's email inherited its state: %+v", recreated)
	}
}

func TestThunderVerification(t *testing.T) {
	sink := startSMTPSink(t)
	a := thStart(t, sink.Configure)
	a.create(t, "ver@example.com", thPassword, map[string]any{"nick": "v"})

	sent := a.sendVerification(t, "ver@example.com", thPassword)
	t.Run("POST /verify returns the unverified user with its token", func(t *testing.T) {
		if sent.Verified || sent.Address != "ver@example.com" {
			t.Errorf("got %+v, want the unverified user", sent)
		}
		if diff := thDiff(t, thProps(t, map[string]any{"nick": "v"}), sent.Props); diff != "" {
			t.Errorf("properties (-want +got):\n%s", diff)
		}
		if got := a.get(t, "ver@example.com", thPassword).token(); got != sent.token() {
			t.Errorf("GET shows token %q, want %q", got, sent.token())
		}
	})
	t.Run("the email holds a link to the public listener with the token", func(t *testing.T) {
		link := thVerifyLink(t, a.s, sink, "ver@example.com")
		q := link.Query()
		if got, want := q.Get("token"), sent.token(); got != want {
			t.Errorf("token in the link: got %q, want %q", got, want)
		}
		if got, want := q.Get("email"), "ver@example.com"; got != want {
			t.Errorf("email in the link: got %q, want %q", got, want)
		}
		if got, want := q.Get("response_type"), "html"; got != want {
			t.Errorf("response_type in the link: got %q, want %q", got, want)
		}
	})
	t.Run("GET /verify errors", func(t *testing.T) {
		tests := []struct {
			name       string
			query      string
			wantStatus int
			wantMsg    string
			wantUser   string
		}{
			{"no parameters", "", 400, thMsgBadEmailParam, ""},
			{"no email", "?token=" + sent.token(), 400, thMsgBadEmailParam, ""},
			{"empty email", "?email=&token=" + sent.token(), 400, thMsgBadEmailParam, thEmptyUser},
			{"no token", thQ("ver@example.com"), 400, thMsgBadTokenParam, "ver@example.com"},
			{"empty token", thQ("ver@example.com", "token", ""), 400, thMsgBadTokenParam, "ver@example.com"},
			{"wrong token", thQ("ver@example.com", "token", "0a4b81f3-0756-468e-8d98-7199eaab2ab8"), 400, thMsgBadToken, "ver@example.com"},
			{"the token with a character changed", thQ("ver@example.com", "token", thFlip(sent.token())), 400, thMsgBadToken, "ver@example.com"},
			{"a prefix of the token", thQ("ver@example.com", "token", sent.token()[:20]), 400, thMsgBadToken, "ver@example.com"},
			{"unknown user", thQ("nobody@example.com", "token", sent.token()), 404, thMsgNotFound, "nobody@example.com"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := a.do(t, "GET", "/verify"+tt.query, "", thNoBasic)
				thWantError(t, "GET /verify", res, tt.wantStatus, tt.wantMsg, tt.wantUser)
			})
		}
		if u := a.get(t, "ver@example.com", thPassword); u.Verified {
			t.Errorf("refused links verified the user")
		}
	})
	t.Run("GET /verify html redirects to the success page", func(t *testing.T) {
		res := a.verifyLink(t, "ver@example.com", sent.token(), "html")
		if res.Status != http.StatusSeeOther {
			t.Fatalf("got %s, want 303", res)
		}
		if got, want := res.Header.Get("Location"), "/verify/success"; got != want {
			t.Errorf("Location: got %q, want %q", got, want)
		}
		if u := a.get(t, "ver@example.com", thPassword); !u.Verified {
			t.Errorf("after the html link: not verified")
		}
	})
	t.Run("GET /verify json returns the verified user", func(t *testing.T) {
		for _, rt := range []string{"json", "JSON", ""} {
			got := thWantUser(t, "GET /verify response_type="+rt, a.verifyLink(t, "ver@example.com", sent.token(), rt), http.StatusOK)
			if !got.Verified || got.token() != sent.token() || got.Address != "ver@example.com" {
				t.Errorf("response_type=%q: got %+v, want verified with token %q", rt, got, sent.token())
			}
		}
	})
	t.Run("GET /verify/success", func(t *testing.T) {
		res := a.do(t, "GET", "/verify/success", "", thNoBasic)
		thWantSuccessPage(t, res)
	})
	t.Run("POST /verify/reset", func(t *testing.T) {
		got := thWantUser(t, "POST /verify/reset", a.do(t, "POST", "/verify/reset"+thQ("ver@example.com"), "", thPW(thPassword)), http.StatusOK)
		if got.Verified || got.VerificationToken != nil {
			t.Errorf("got verified %v token %v, want false null", got.Verified, got.VerificationToken)
		}
		if diff := thDiff(t, got, a.get(t, "ver@example.com", thPassword)); diff != "" {
			t.Errorf("GET after reset (-reset +get):\n%s", diff)
		}
		thWantError(t, "the token after a reset", a.verifyLink(t, "ver@example.com", sent.token(), "json"), 400, thMsgBadToken, "ver@example.com")
	})
	t.Run("query errors on POST /verify and /verify/reset", func(t *testing.T) {
		for _, p := range []string{"/verify", "/verify/reset"} {
			thWantError(t, "POST "+p+" without email", a.do(t, "POST", p, "", thPW(thPassword)), 400, thMsgBadEmailParam, "")
			thWantError(t, "POST "+p+" empty email", a.do(t, "POST", p+"?email=", "", thPW(thPassword)), 400, thMsgBadEmailParam, thEmptyUser)
			thWantError(t, "POST "+p+" unknown user", a.do(t, "POST", p+thQ("nobody@example.com"), "", thPW(thPassword)), 404, thMsgNotFound, "nobody@example.com")
		}
	})
}

// thFlip changes the last character of s to another URL-safe one.
func thFlip(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return s[:len(s)-1] + string(repl)
}

// thWantSuccessPage checks GET /verify/success's answer.
func thWantSuccessPage(t testing.TB, res thResponse) {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("got %s, want 200", res)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type: got %q, want text/html", ct)
	}
	const want = "Success! Your account has been verified."
	if got := thInnerDivText(t, res.Body); len(got) != 1 || got[0] != want {
		t.Errorf("text of div > div: got %q, want [%q]\n%s", got, want, res.Body)
	}
}

// thVerifyLink waits for the first "Account Verification" email to rcpt
// and returns its link, which must point at the public listener.
func thVerifyLink(t testing.TB, s *testServer, sink *smtpSink, rcpt string) *url.URL {
	t.Helper()
	return thVerifyLinkN(t, s, sink, rcpt, 1)
}

// thVerifyLinkN waits until n verification emails to rcpt have arrived and
// returns the link of the n-th.
func thVerifyLinkN(t testing.TB, s *testServer, sink *smtpSink, rcpt string, n int) *url.URL {
	t.Helper()
	deadline := time.Now().Add(thMailWait)
	for sink.Count(rcpt, "Account Verification") < n {
		// sink.WaitFor returns the first match, so waiting for the n-th
		// email waits on the sink's arrival signal instead.
		if time.Now().After(deadline) {
			t.Fatalf("%d verification emails to %s: got %d", n, rcpt, sink.Count(rcpt, "Account Verification"))
		}
		select {
		case <-sink.arrived:
		case <-time.After(time.Until(deadline)):
		}
	}
	var msgs []sinkMessage
	for _, m := range sink.Messages() {
		if m.Has(rcpt) && strings.Contains(m.Subject(), "Account Verification") {
			msgs = append(msgs, m)
		}
	}
	m := msgs[n-1]
	if got, want := m.Subject(), "Account Verification"; got != want {
		t.Errorf("subject: got %q, want %q", got, want)
	}
	text := m.Part("text/plain")
	prefix := s.Public + "/verify?"
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, prefix) {
			u, err := url.Parse(line)
			if err != nil {
				t.Fatalf("link %q: %v", line, err)
			}
			return u
		}
	}
	t.Fatalf("no link starting %q in the text part:\n%s", prefix, text)
	return nil
}

func TestThunderUnknownRoutes(t *testing.T) {
	a := thStart(t)
	tests := []struct {
		name         string
		method, path string
		opts         []thOpt
		wantStatus   int
		wantBody     string
	}{
		{"root", "GET", "/", nil, 404, thNotFoundBody},
		{"unknown path", "GET", "/nope", nil, 404, thNotFoundBody},
		{"unknown path without basic auth", "POST", "/accounts", []thOpt{thNoBasic}, 404, thNotFoundBody},
		{"user by path", "GET", "/users/someone@example.com", nil, 404, thNotFoundBody},
		{"trailing slash", "GET", "/users/", nil, 404, thNotFoundBody},
		{"deeper verify path", "GET", "/verify/success/x", nil, 404, thNotFoundBody},
		{"the backend's routes", "GET", "/healthz", nil, 404, thNotFoundBody},
		{"the public surface's routes", "POST", "/login", nil, 404, thNotFoundBody},
		{"known path, unknown method", "PATCH", "/users", nil, 405, `{"code":405,"message":"HTTP 405 Method Not Allowed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.do(t, tt.method, tt.path, "", tt.opts...)
			if res.Status != tt.wantStatus || string(res.Body) != tt.wantBody {
				t.Errorf("%s %s: got %d %q, want %d %q", tt.method, tt.path, res.Status, res.Body, tt.wantStatus, tt.wantBody)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type: got %q, want application/json", ct)
			}
		})
	}
}

// TestThunderDatabaseUnavailable cuts the database off under a running
// Usher and checks every Thunder call answers Thunder's 503, never 500.
//
// How the database is cut off depends on the engine:
//   - PostgreSQL: Usher reaches it through a TCP proxy inside the test;
//     closing the proxy and every connection through it is a dead server
//     (connections refused or reset).
//   - SQLite: another connection holds the database's write lock, as a
//     stuck process would. Usher's writes then wait past db-timeout. Closing
//     the store underneath (s.Store.DB().Close()) is not used: it closes
//     only the writer pool (reads go through a separate reader pool), and a
//     closed *sql.DB is a programming state, not a database that cannot be
//     reached. Reads keep working while another process holds the write
//     lock (WAL), so each call below writes: the password-header check
//     records its outcome, create and the verification calls write.
//
// Each 503 must come within db-timeout (plus slack), as its setting
// promises.
func TestThunderDatabaseUnavailable(t *testing.T) {
	var cut func(t *testing.T, a *thAPI) (restore func())
	const dbTimeout = 500 * time.Millisecond
	sent := &thEventWatch{event: "email_sent", ch: make(chan struct{}, 16)}
	edits := []func(*Main){func(m *Main) {
		m.Config.DBTimeout = dbTimeout
		// The relay must be idle when the database goes away, or it would
		// hold the (single SQLite) writer connection itself; the requests
		// are what this test times. It sleeps between polls, and the one
		// email below is awaited through its log line, written once the
		// relay has recorded the message as sent.
		m.Config.MailPoll = time.Hour
		m.Log = slog.New(sent)
	}}
	if os.Getenv("USHER_TEST_ENGINE") == "postgres" {
		var proxy *thTCPProxy
		edits = append(edits, func(m *Main) { proxy = thProxyDB(t, m) })
		cut = func(t *testing.T, _ *thAPI) func() {
			proxy.Kill()
			return func() { proxy.Revive(t) }
		}
	} else {
		cut = func(t *testing.T, a *thAPI) func() { return thLockSQLite(t, a.s) }
	}
	a := thStart(t, edits...)
	a.create(t, "down@example.com", thPassword, nil)
	tok := a.sendVerification(t, "down@example.com", thPassword).token()
	select {
	case <-sent.ch:
	case <-time.After(thMailWait):
		t.Fatal("the verification email was not sent")
	}

	restore := cut(t, a)
	tests := []struct {
		name, method, path, body string
		opts                     []thOpt
		wantUser                 string
	}{
		{"create", "POST", "/users", thUserBody(t, "new-down@example.com", thPassword, nil), nil, "new-down@example.com"},
		{"get", "GET", "/users" + thQ("down@example.com"), "", []thOpt{thPW(thPassword)}, "down@example.com"},
		{"update", "PUT", "/users", thUserBody(t, "down@example.com", "", map[string]any{"x": 1}), []thOpt{thPW(thPassword)}, "down@example.com"},
		{"delete", "DELETE", "/users" + thQ("down@example.com"), "", []thOpt{thPW(thPassword)}, "down@example.com"},
		{"send verification", "POST", "/verify" + thQ("down@example.com"), "", []thOpt{thPW(thPassword)}, "down@example.com"},
		{"reset verification", "POST", "/verify/reset" + thQ("down@example.com"), "", []thOpt{thPW(thPassword)}, "down@example.com"},
		{"verification link", "GET", "/verify" + thQ("down@example.com", "token", tok, "response_type", "json"), "", []thOpt{thNoBasic}, "down@example.com"},
	}
	// In parallel, so that on SQLite one call waits on the lock while the
	// others wait for the writer connection: each must answer within
	// db-timeout ("longest a single database operation may take ...
	// before the request gets 503"), with some slack for the rest of the
	// request.
	limit := dbTimeout + 2*time.Second
	t.Run("down", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				res := a.do(t, tt.method, tt.path, tt.body, tt.opts...)
				elapsed := time.Since(start)
				thWantError(t, tt.method+" "+tt.path, res, http.StatusServiceUnavailable, thMsgUnavailable, tt.wantUser)
				if res.Header.Get("Retry-After") == "" {
					t.Errorf("no Retry-After on 503")
				}
				// A single operation waiting longer than db-timeout breaks
				// the setting's promise, whichever layer waits.
				if elapsed > limit {
					t.Errorf("answered after %v, want within db-timeout %v (+2s)", elapsed.Round(time.Millisecond), dbTimeout)
				}
			})
		}
	})
	restore()
	t.Run("back once the database is", func(t *testing.T) {
		u := a.get(t, "down@example.com", thPassword)
		if u.Verified || len(u.Props) != 0 || u.token() != tok {
			t.Errorf("calls answered 503 changed the user: %+v", u)
		}
		res := a.do(t, "GET", "/users"+thQ("new-down@example.com"), "", thPW(thPassword))
		thWantError(t, "the user a 503 POST would have made", res, 404, thMsgNotFound, "new-down@example.com")
	})
}

// thEventWatch is a slog.Handler that signals ch on every record whose
// "event" attribute is event, and drops everything.
type thEventWatch struct {
	event string
	ch    chan struct{}
}

func (h *thEventWatch) Enabled(context.Context, slog.Level) bool { return true }

func (h *thEventWatch) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "event" && a.Value.String() == h.event {
			select {
			case h.ch <- struct{}{}:
			default:
			}
			return false
		}
		return true
	})
	return nil
}

func (h *thEventWatch) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *thEventWatch) WithGroup(string) slog.Handler      { return h }

// thLockSQLite takes SQLite's write lock from another connection and
// returns the function that releases it (also run at cleanup).
func thLockSQLite(t testing.TB, s *testServer) (release func()) {
	t.Helper()
	path := (&url.URL{Path: SQLitePath(s.Config.Data)}).EscapedPath()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatalf("lock: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Errorf("unlock: %v", err)
			}
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// thTCPProxy forwards TCP connections to a target; Kill refuses and cuts
// them, Revive serves again on the same address.
type thTCPProxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// thProxyDB puts a proxy between m and its PostgreSQL server.
func thProxyDB(t testing.TB, m *Main) *thTCPProxy {
	t.Helper()
	u, err := url.Parse(m.Config.DB)
	if err != nil {
		t.Fatal(err)
	}
	p := &thTCPProxy{target: u.Host, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.Kill(); p.wg.Wait() })
	u.Host = p.addr
	m.Config.DB = u.String()
	return p
}

func (p *thTCPProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.pipe(c)
			}()
		}
	}()
}

func (p *thTCPProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // killed meanwhile
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Kill stops accepting and cuts every open connection.
func (p *thTCPProxy) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// Revive listens again on the same address.
func (p *thTCPProxy) Revive(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy revive: %v", err)
	}
	p.serve(ln)
}
