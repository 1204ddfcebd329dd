package main

// The backend surface's typed client: mutual TLS, one method per call of
// README's backend table, and the native user it returns. Every request
// made through do is checked against the rules every backend response
// keeps (request id, no-store, JSON bodies, the native error shape).

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// backendClient calls one backend listener over mutual TLS.
type backendClient struct {
	base string       // https://host:port
	http *http.Client // holds the client certificate
}

// request builds a backend request (see newRequest).
func (b *backendClient) request(t testing.TB, method, path, body string, opts ...reqOpt) *http.Request {
	t.Helper()
	return newRequest(t, method, b.base+path, body, opts...)
}

// do sends one request and checks the rules every response keeps.
func (b *backendClient) do(t testing.TB, method, path, body string, opts ...reqOpt) response {
	t.Helper()
	r, err := send(b.http, b.request(t, method, path, body, opts...))
	if err != nil {
		t.Fatalf("%s %s: %v", method, shorten(path), err)
	}
	checkCommon(t, method+" "+shorten(path), r)
	return r
}

// doJSON is do with body marshalled as JSON (nil: no body).
func (b *backendClient) doJSON(t testing.TB, method, path string, body any) response {
	t.Helper()
	payload := ""
	if body != nil {
		payload = mustJSON(t, body)
	}
	return b.do(t, method, path, payload)
}

// call sends a JSON request (body nil: none) without a testing.T, for
// goroutines and for servers that may answer 503.
func (b *backendClient) call(ctx context.Context, method, path string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(b.http, req)
}

// create is POST /users/ with a raw body; it wants 201 and returns the id.
func (b *backendClient) create(t testing.TB, body string) string {
	t.Helper()
	r := b.do(t, "POST", "/users/", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create %s: got %v, want 201", shorten(body), r)
	}
	return r.Header.Get("X-Object-ID")
}

// newUser creates a user with email and password and returns its id.
func (b *backendClient) newUser(t testing.TB, email, pw string) string {
	t.Helper()
	return b.create(t, mustJSON(t, map[string]string{"email": email, "password": pw}))
}

// get returns the user as GET /users/{id} shows it.
func (b *backendClient) get(t testing.TB, id string) nativeUser {
	t.Helper()
	u, _ := b.getRaw(t, id)
	return u
}

// getRaw returns the user as GET /users/{id} shows it, and the raw body.
func (b *backendClient) getRaw(t testing.TB, id string) (nativeUser, []byte) {
	t.Helper()
	r := b.do(t, "GET", "/users/"+id, "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /users/%s: got %v, want 200", id, r)
	}
	return decodeUser(t, r.Body), r.Body
}

// delete is DELETE /users/{id}.
func (b *backendClient) delete(t testing.TB, id string) response {
	t.Helper()
	return b.do(t, "DELETE", "/users/"+id, "")
}

// setPassword is PUT /users/{id}/password.
func (b *backendClient) setPassword(t testing.TB, id, pw string) response {
	t.Helper()
	return b.do(t, "PUT", "/users/"+id+"/password", mustJSON(t, map[string]string{"password": pw}))
}

// enable is PUT /users/{id}/enable.
func (b *backendClient) enable(t testing.TB, id string) response {
	t.Helper()
	return b.do(t, "PUT", "/users/"+id+"/enable", "")
}

// disable is PUT /users/{id}/disable.
func (b *backendClient) disable(t testing.TB, id string) response {
	t.Helper()
	return b.do(t, "PUT", "/users/"+id+"/disable", "")
}

// getData is GET /users/{id}/data.
func (b *backendClient) getData(t testing.TB, id string) response {
	t.Helper()
	return b.do(t, "GET", "/users/"+id+"/data", "")
}

// checkpw returns the result of POST /users/{id}/checkpw.
func (b *backendClient) checkpw(t testing.TB, id, pw string) bool {
	t.Helper()
	r := b.do(t, "POST", "/users/"+id+"/checkpw", mustJSON(t, map[string]string{"password": pw}))
	if r.Status != http.StatusOK {
		t.Fatalf("checkpw: got %v, want 200", r)
	}
	return checkResult(t, r.Body)
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

// nativeUser is a user as the backend (and the public GET /verify) returns
// it.
type nativeUser struct {
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
func decodeUser(t testing.TB, body []byte) nativeUser {
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
	var u nativeUser
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

// wantUser checks that r is status with a native user, and returns it.
func (r response) wantUser(t testing.TB, what string, status int) nativeUser {
	t.Helper()
	r.wantStatus(t, what, status)
	return decodeUser(t, r.Body)
}

// data decodes the user's custom data for comparison with thunderProps.
func (u nativeUser) data(t testing.TB) map[string]any {
	t.Helper()
	return decodeData(t, u.Data)
}

// decodeData decodes custom data; null is the empty object.
func decodeData(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("data %s: %v", raw, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m
}

func parseTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return ts
}

// millis parses the backend's time into epoch milliseconds.
func millis(t testing.TB, s string) int64 {
	t.Helper()
	return parseTime(t, s).UnixMilli()
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
	check      func(t *testing.T, r response)
}

func runScenarios(t *testing.T, be *backendClient, cases []scenario) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := be.do(t, c.method, c.path, c.body, headers(c.header))
			if r.Status != c.status {
				t.Fatalf("%s %s: status: got %d, want %d; body %s", c.method, shorten(c.path), r.Status, c.status, shorten(string(r.Body)))
			}
			if c.code != "" {
				if got := errorCode(t, r.Body); got != c.code {
					t.Errorf("error code: got %q, want %q", got, c.code)
				}
			}
			for k, want := range c.wantHeader {
				if got := r.Header.Get(k); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			if c.want != "" {
				if d := jsonDiff(r.Body, []byte(c.want)); d != "" {
					t.Errorf("body: %s", d)
				}
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

// userCount counts every user in the database.
func (s *testServer) userCount(t testing.TB) int {
	t.Helper()
	var n int
	if err := s.Store.DB().QueryRow(`SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatalf("count users: %v", err)
	}
	return n
}

// errorCodeOf returns the code of a native error body, "" when there is
// none; it does not touch a testing.T.
func errorCodeOf(body []byte) usher.Code {
	var e struct {
		Error struct {
			Code usher.Code `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}
