package main

// End-to-end tests of the Thunder surface's user calls (seed 001, API.md
// "Thunder surface"): create, get and delete, with every error string, on
// the real listener, and its unknown routes.

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestThunderListenerOffByDefault(t *testing.T) {
	s := startServer(t)
	if got := s.ThunderAddr(); got != "" {
		t.Fatalf("ThunderAddr without thunder-addr: got %q, want none", got)
	}
}

func TestThunderCreate(t *testing.T) {
	th := startServer(t, withThunder).ThunderAPI
	tests := []struct {
		name      string
		body      func(email string) string
		wantProps map[string]any
	}{
		{
			name: "email and password only",
			body: func(e string) string { return thunderBody(t, e, userPassword, nil) },
		},
		{
			name: "custom properties of every JSON type",
			body: func(e string) string {
				return thunderBody(t, e, userPassword, map[string]any{
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
				return thunderBody(t, e, userPassword, map[string]any{"deep": nestedValue(31), "big": strings.Repeat("y", 63<<10)})
			},
			wantProps: map[string]any{"deep": nestedValue(31), "big": strings.Repeat("y", 63<<10)},
		},
		{
			name: "verification fields in the body are ignored",
			body: func(e string) string {
				return `{"email":{"address":"` + e + `","verified":true,"verificationToken":"0a4b81f3-0756-468e-8d98-7199eaab2ab8"},"password":"` + userPassword + `"}`
			},
		},
		{
			name: "times in the body are ignored",
			body: func(e string) string {
				return `{"email":{"address":"` + e + `"},"password":"` + userPassword + `","creationTime":5,"lastUpdateTime":6}`
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := "create" + string(rune('a'+i)) + "@example.com"
			before := time.Now().UnixMilli()
			res := th.do(t, "POST", "/users", tt.body(email))
			after := time.Now().UnixMilli()
			got := res.wantThunderUser(t, "POST /users", http.StatusCreated)

			if got.Address != email || got.Verified || got.VerificationToken != nil {
				t.Errorf("email: got {%q %v %v}, want {%q false null}", got.Address, got.Verified, got.VerificationToken, email)
			}
			if !strings.HasPrefix(got.Password, "$argon2id$") || strings.Contains(got.Password, userPassword) {
				t.Errorf("password: got %q, want an $argon2id$ PHC string without the plain text", got.Password)
			}
			if bytes.Contains(res.Body, []byte(userPassword)) {
				t.Errorf("the plain password appears in the response: %s", res.Body)
			}
			if got.CreationTime < before || got.CreationTime > after {
				t.Errorf("creationTime: got %d, want epoch ms in [%d, %d]", got.CreationTime, before, after)
			}
			if got.LastUpdateTime != got.CreationTime {
				t.Errorf("lastUpdateTime: got %d, want creationTime %d", got.LastUpdateTime, got.CreationTime)
			}
			want := asJSON(t, tt.wantProps)
			if diff := jsonEqualDiff(t, want, got.Props); diff != "" {
				t.Errorf("properties (-want +got):\n%s", diff)
			}
			if got, want := res.Header.Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("Cache-Control: got %q, want %q", got, want)
			}

			// It is stored as rendered.
			stored := th.get(t, email, userPassword)
			if diff := jsonEqualDiff(t, got, stored); diff != "" {
				t.Errorf("GET after POST (-posted +stored):\n%s", diff)
			}
		})
	}
}

func TestThunderCreateErrors(t *testing.T) {
	th := startServer(t, withThunder).ThunderAPI
	th.create(t, "taken@example.com", userPassword, nil)
	pw := `"password":"` + userPassword + `"`
	tests := []struct {
		name       string
		body       string
		opts       []reqOpt
		wantStatus int
		wantMsg    string // "": Thunder's format, any message (API.md names none)
		wantUser   string
	}{
		{"empty body", "", nil, 400, msgNullUser, ""},
		{"blank body", " \n ", nil, 400, msgNullUser, ""},
		{"null", "null", nil, 400, msgNullUser, ""},
		{"null with spaces", "  null\n", nil, 400, msgNullUser, ""},
		{"no email", `{` + pw + `}`, nil, 400, msgNoEmail, ""},
		{"email null", `{"email":null,` + pw + `}`, nil, 400, msgNoEmail, ""},
		{"email object without address", `{"email":{},` + pw + `}`, nil, 400, msgNoEmail, ""},
		{"address null", `{"email":{"address":null},` + pw + `}`, nil, 400, msgNoEmail, ""},
		{"address empty", `{"email":{"address":""},` + pw + `}`, nil, 400, msgNoEmail, ""},
		{"no at sign", `{"email":{"address":"not-an-email"},` + pw + `}`, nil, 400, msgBadEmail, "not-an-email"},
		{"no local part", `{"email":{"address":"@example.com"},` + pw + `}`, nil, 400, msgBadEmail, "@example.com"},
		{"display name", `{"email":{"address":"Bob <bob@example.com>"},` + pw + `}`, nil, 400, msgBadEmail, "Bob <bob@example.com>"},
		{"two addresses", `{"email":{"address":"a@example.com, b@example.com"},` + pw + `}`, nil, 400, msgBadEmail, "a@example.com, b@example.com"},
		{"line break in the address", `{"email":{"address":"a@example.com\r\nBcc: b@example.com"},` + pw + `}`, nil, 400, msgBadEmail, "a@example.com\r\nBcc: b@example.com"},
		{"same email", thunderBody(t, "taken@example.com", otherPassword, nil), nil, 409, msgConflict, "taken@example.com"},
		{"same email other case", thunderBody(t, "TAKEN@Example.COM", otherPassword, nil), nil, 409, msgConflict, "TAKEN@Example.COM"},
		{"property nested 33 deep", thunderBody(t, "deep@example.com", userPassword, map[string]any{"p": nestedValue(32)}), nil, 400, msgBadProperties, "deep@example.com"},
		{"properties over 64 KiB", thunderBody(t, "big@example.com", userPassword, map[string]any{"p": strings.Repeat("x", 64<<10)}), nil, 400, msgBadProperties, "big@example.com"},
		// Common rules (API.md): statuses only, in Thunder's format.
		{"no password", `{"email":{"address":"nopw@example.com"}}`, nil, 400, "", ""},
		{"password outside the policy", thunderBody(t, "short@example.com", "short", nil), nil, 400, "", ""},
		{"common password", thunderBody(t, "common@example.com", "password123", nil), nil, 400, "", ""},
		{"not an object", `[]`, nil, 400, "", ""},
		{"invalid JSON", `{"email":`, nil, 400, "", ""},
		{"duplicate key", `{"email":{"address":"dup1@example.com"},"email":{"address":"dup2@example.com"},` + pw + `}`, nil, 400, "", ""},
		{"case-variant key", `{"email":{"address":"cv@example.com"},"Email":{"address":"cv2@example.com"},` + pw + `}`, nil, 400, "", ""},
		{"Content-Type text/plain", thunderBody(t, "ct@example.com", userPassword, nil), []reqOpt{header("Content-Type", "text/plain")}, 415, "", ""},
		{"body over 1 MiB", thunderBody(t, "huge@example.com", userPassword, map[string]any{"p": strings.Repeat("x", 1<<20)}), nil, 413, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := th.do(t, "POST", "/users", tt.body, tt.opts...)
			if tt.wantMsg == "" {
				res.wantThunderFormat(t, "POST /users", tt.wantStatus)
				return
			}
			res.wantThunderError(t, "POST /users", tt.wantStatus, tt.wantMsg, tt.wantUser)
		})
	}
	t.Run("nothing was created", func(t *testing.T) {
		for _, e := range []string{"not-an-email", "a@example.com", "bob@example.com", "deep@example.com", "big@example.com",
			"nopw@example.com", "short@example.com", "common@example.com", "dup1@example.com", "dup2@example.com",
			"cv@example.com", "ct@example.com", "huge@example.com"} {
			res := th.do(t, "GET", "/users"+emailQuery(e), "", withPassword(userPassword))
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
			th := startServer(t, withThunder, func(m *Main) {
				m.Config.ThunderProperties = cfg.allowed
				m.Config.ThunderAllowSubset = cfg.subset
				m.Config.ThunderAllowSuperset = cfg.superset
			}).ThunderAPI
			// A user to update with each case.
			var base map[string]any
			for _, c := range cfg.cases {
				if c.ok {
					base = c.props
					break
				}
			}
			th.create(t, "base@example.com", userPassword, base)
			for i, c := range cfg.cases {
				t.Run(c.name, func(t *testing.T) {
					email := "p" + string(rune('a'+i)) + "@example.com"
					res := th.do(t, "POST", "/users", thunderBody(t, email, userPassword, c.props))
					if c.ok {
						u := res.wantThunderUser(t, "POST /users", http.StatusCreated)
						if diff := jsonEqualDiff(t, customProps(t, c.props), u.Props); diff != "" {
							t.Errorf("properties (-want +got):\n%s", diff)
						}
					} else {
						res.wantThunderError(t, "POST /users", http.StatusBadRequest, msgBadProperties, email)
					}

					// PUT validates the same way.
					res = th.update(t, "", thunderBody(t, "base@example.com", "", c.props), userPassword)
					if c.ok {
						u := res.wantThunderUser(t, "PUT /users", http.StatusOK)
						if diff := jsonEqualDiff(t, customProps(t, c.props), u.Props); diff != "" {
							t.Errorf("properties after PUT (-want +got):\n%s", diff)
						}
					} else {
						res.wantThunderError(t, "PUT /users", http.StatusBadRequest, msgBadProperties, "base@example.com")
					}
				})
			}
		})
	}
}

func TestThunderGet(t *testing.T) {
	th := startServer(t, withThunder).ThunderAPI
	created := th.create(t, "Reader@Example.com", userPassword, map[string]any{"nick": "r"})
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantMsg    string
		wantUser   string
	}{
		{"by email", emailQuery("Reader@Example.com"), 200, "", ""},
		{"email case-insensitively", emailQuery("reader@EXAMPLE.COM"), 200, "", ""},
		{"unknown email", emailQuery("nobody@example.com"), 404, msgNotFound, "nobody@example.com"},
		{"no email parameter", "", 400, msgBadEmailParam, ""},
		{"empty email parameter", "?email=", 400, msgBadEmailParam, emptyUser},
		{"blank email parameter", "?email=%20%20", 400, msgBadEmailParam, "  "},
		{"other parameter only", "?mail=reader@example.com", 400, msgBadEmailParam, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := th.do(t, "GET", "/users"+tt.query, "", withPassword(userPassword))
			if tt.wantStatus != http.StatusOK {
				res.wantThunderError(t, "GET /users", tt.wantStatus, tt.wantMsg, tt.wantUser)
				return
			}
			got := res.wantThunderUser(t, "GET /users", http.StatusOK)
			if diff := jsonEqualDiff(t, created, got); diff != "" {
				t.Errorf("GET (-created +got):\n%s", diff)
			}
		})
	}
}

func TestThunderDelete(t *testing.T) {
	th := startServer(t, withThunder).ThunderAPI
	th.create(t, "gone@example.com", userPassword, map[string]any{"nick": "g"})
	before := th.sendVerification(t, "gone@example.com", userPassword)

	res := th.delete(t, "gone@example.com", userPassword)
	got := res.wantThunderUser(t, "DELETE", http.StatusOK)
	if diff := jsonEqualDiff(t, before, got); diff != "" {
		t.Errorf("DELETE answers the user as it was (-before +got):\n%s", diff)
	}
	th.do(t, "GET", "/users"+emailQuery("gone@example.com"), "", withPassword(userPassword)).wantThunderError(t, "GET after DELETE", 404, msgNotFound, "gone@example.com")
	th.delete(t, "gone@example.com", userPassword).wantThunderError(t, "DELETE again", 404, msgNotFound, "gone@example.com")
	th.verifyLink(t, "gone@example.com", before.token(), "json").wantThunderError(t, "the token of a deleted user", 404, msgNotFound, "gone@example.com")
	th.do(t, "DELETE", "/users", "", withPassword(userPassword)).wantThunderError(t, "DELETE without email", 400, msgBadEmailParam, "")

	// The address is free again.
	recreated := th.create(t, "gone@example.com", otherPassword, nil)
	if recreated.VerificationToken != nil || len(recreated.Props) != 0 {
		t.Errorf("a new user with a deleted user's email inherited its state: %+v", recreated)
	}
}

func TestThunderUnknownRoutes(t *testing.T) {
	th := startServer(t, withThunder).ThunderAPI
	tests := []struct {
		name         string
		method, path string
		opts         []reqOpt
		wantStatus   int
		wantBody     string
	}{
		{"root", "GET", "/", nil, 404, thunderNotFound},
		{"unknown path", "GET", "/nope", nil, 404, thunderNotFound},
		{"unknown path without basic auth", "POST", "/accounts", []reqOpt{noBasicAuth}, 404, thunderNotFound},
		{"user by path", "GET", "/users/someone@example.com", nil, 404, thunderNotFound},
		{"trailing slash", "GET", "/users/", nil, 404, thunderNotFound},
		{"deeper verify path", "GET", "/verify/success/x", nil, 404, thunderNotFound},
		{"the backend's routes", "GET", "/healthz", nil, 404, thunderNotFound},
		{"the public surface's routes", "POST", "/login", nil, 404, thunderNotFound},
		{"known path, unknown method", "PATCH", "/users", nil, 405, `{"code":405,"message":"HTTP 405 Method Not Allowed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := th.do(t, tt.method, tt.path, "", tt.opts...)
			if res.Status != tt.wantStatus || string(res.Body) != tt.wantBody {
				t.Errorf("%s %s: got %d %q, want %d %q", tt.method, tt.path, res.Status, res.Body, tt.wantStatus, tt.wantBody)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type: got %q, want application/json", ct)
			}
		})
	}
}
