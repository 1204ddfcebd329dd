package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// End-to-end tests of the public surface (API.md, "Public surface"): real
// HTTP against an in-process Usher, real SMTP into the test's sink.

const (
	pubPassword    = "correct horse battery"
	pubNewPassword = "staple battery horse correct"

	pubResetSubject   = "Your password reset code"
	pubChangedSubject = "Your password was changed"
	pubMailWait       = 10 * time.Second
)

// pubClock is a settable clock for Main.Now, safe for concurrent use. It
// starts at the real time (the development certificates are made with it).
type pubClock struct {
	mu  sync.Mutex
	now time.Time
}

func newPubClock() *pubClock { return &pubClock{now: time.Now().UTC().Truncate(time.Millisecond)} }

func (c *pubClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *pubClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *pubClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Use is an edit func for startServer.
func (c *pubClock) Use(m *Main) { m.Now = c.Now }

// pubResponse is one HTTP answer, body read.
type pubResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r pubResponse) String() string {
	return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body))
}

// pubAPI calls a test server's public surface.
type pubAPI struct {
	t      testing.TB
	s      *testServer
	key    string // the tenant public key sent by call
	client *http.Client
}

func pubClient(t testing.TB, s *testServer) *pubAPI {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &pubAPI{t: t, s: s, key: s.Tenant.PublicKey, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// on returns a copy of a that reports to t (a subtest's).
func (a *pubAPI) on(t testing.TB) *pubAPI {
	c := *a
	c.t = t
	return &c
}

// withKey returns a copy of a that sends another tenant key.
func (a *pubAPI) withKey(key string) *pubAPI {
	c := *a
	c.key = key
	return &c
}

// raw sends a request exactly as given: no tenant key is added. A non-empty
// body is sent as application/json.
func (a *pubAPI) raw(method, path, body string, header map[string]string) pubResponse {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.s.Public+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return pubResponse{Status: res.StatusCode, Header: res.Header, Body: b}
}

// call sends a request with the tenant key, and a bearer token if given.
func (a *pubAPI) call(method, path, body, bearer string) pubResponse {
	a.t.Helper()
	h := map[string]string{"SB-PUBLIC-KEY": a.key}
	if bearer != "" {
		h["Authorization"] = "Bearer " + bearer
	}
	return a.raw(method, path, body, h)
}

func (a *pubAPI) login(email, pw string) pubResponse {
	a.t.Helper()
	return a.call("POST", "/login", mustJSON(a.t, map[string]string{"email": email, "password": pw}), "")
}

// register registers a user and returns its token.
func (a *pubAPI) register(email, pw string) string {
	a.t.Helper()
	r := a.call("POST", "/register", mustJSON(a.t, map[string]string{"email": email, "password": pw}), "")
	return pubToken(a.t, "register "+email, r)
}

// mustLogin logs in and returns the token.
func (a *pubAPI) mustLogin(email, pw string) string {
	a.t.Helper()
	return pubToken(a.t, "login "+email, a.login(email, pw))
}

func (a *pubAPI) me(tok string) pubResponse {
	a.t.Helper()
	return a.call("GET", "/me", "", tok)
}

func (a *pubAPI) sendReset(email string) pubResponse {
	a.t.Helper()
	return a.call("POST", "/password/send", mustJSON(a.t, map[string]string{"email": email}), "")
}

func (a *pubAPI) reset(email, code, pw string) pubResponse {
	a.t.Helper()
	return a.call("POST", "/password/reset", mustJSON(a.t, map[string]string{"email": email, "code": code, "password": pw}), "")
}

// wantMe checks that tok is live: /me answers 200.
func (a *pubAPI) wantMe(what, tok string) {
	a.t.Helper()
	if r := a.me(tok); r.Status != http.StatusOK {
		a.t.Fatalf("%s: GET /me: got %v, want 200", what, r)
	}
}

// wantNoMe checks that tok is refused: /me answers 401 unauthorized.
func (a *pubAPI) wantNoMe(what, tok string) {
	a.t.Helper()
	r := a.me(tok)
	pubWantError(a.t, what+": GET /me", r, http.StatusUnauthorized, usher.Unauthorized)
	if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		a.t.Errorf("%s: GET /me: WWW-Authenticate = %q, want a Bearer challenge", what, got)
	}
}

// pubBackend calls the backend surface over mutual TLS.
func pubBackend(t testing.TB, s *testServer, method, path, body string) pubResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.Backend+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("backend %s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return pubResponse{Status: res.StatusCode, Header: res.Header, Body: b}
}

// pubWantBackend calls the backend and checks the status.
func pubWantBackend(t testing.TB, s *testServer, method, path, body string, want int) pubResponse {
	t.Helper()
	r := pubBackend(t, s, method, path, body)
	if r.Status != want {
		t.Fatalf("backend %s %s: got %v, want %d", method, path, r, want)
	}
	return r
}

// pubToken returns the JWT of a 200 register or login answer.
func pubToken(t testing.TB, what string, r pubResponse) string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: got %v, want 200 with a token", what, r)
	}
	var tok string
	if err := json.Unmarshal(r.Body, &tok); err != nil {
		t.Fatalf("%s: body %s is not a JSON string: %v", what, r.Body, err)
	}
	if strings.Count(tok, ".") != 2 || !strings.HasPrefix(tok, "eyJ") {
		t.Fatalf("%s: %q is not a compact JWS", what, tok)
	}
	return tok
}

// pubErrorCode returns the code of a native error body.
func pubErrorCode(t testing.TB, body []byte) (code, message string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not a native error body: %s", body)
	}
	return e.Error.Code, e.Error.Message
}

// pubWantError checks status and error code of r.
func pubWantError(t testing.TB, what string, r pubResponse, status int, code usher.Code) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: got %v, want %d %s", what, r, status, code)
	}
	if got, _ := pubErrorCode(t, r.Body); got != string(code) {
		t.Fatalf("%s: error code: got %q, want %q", what, got, code)
	}
}

// pubWantTrue checks a 200 `true` answer (password/send and reset).
func pubWantTrue(t testing.TB, what string, r pubResponse) {
	t.Helper()
	if r.Status != http.StatusOK || string(bytes.TrimSpace(r.Body)) != "true" {
		t.Fatalf("%s: got %v, want 200 true", what, r)
	}
}

// pubSegments decodes a compact JWS's header and payload without verifying.
func pubSegments(t testing.TB, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", tok, len(parts))
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("token segment %q: %v", s, err)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("token segment %s: %v", b, err)
		}
		// Integers (the NumericDates) as int64, so that they marshal
		// again as numbers with any JSON encoder.
		for k, v := range m {
			if n, ok := v.(json.Number); ok {
				if i, err := n.Int64(); err == nil {
					m[k] = i
				}
			}
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

// pubSubject returns the user id a token names.
func pubSubject(t testing.TB, tok string) string {
	t.Helper()
	_, c := pubSegments(t, tok)
	sub, _ := c["sub"].(string)
	if !usher.ValidID(sub) {
		t.Fatalf("token sub %q is not a user id", sub)
	}
	return sub
}

// pubCodeLine finds the reset code: a line holding only the code.
var pubCodeLine = regexp.MustCompile(`(?m)^\s*([2-9A-HJKMNP-Z]{10})\s*$`)

// pubCode returns the reset code in a reset email's text part.
func pubCode(t testing.TB, m sinkMessage) string {
	t.Helper()
	text := m.Part("text/plain")
	found := pubCodeLine.FindAllStringSubmatch(text, -1)
	if len(found) != 1 {
		t.Fatalf("want exactly one reset code in the text part, found %d:\n%s", len(found), text)
	}
	return found[0][1]
}

// pubWrongCode returns a well-formed code other than code.
func pubWrongCode(code string) string {
	if code == "2222222222" {
		return "3333333333"
	}
	return "2222222222"
}

// pubWaitMessages waits until rcpt has received n messages whose subject
// contains subject, and returns them in arrival order.
func pubWaitMessages(t testing.TB, sink *smtpSink, rcpt, subject string, n int) []sinkMessage {
	t.Helper()
	deadline := time.NewTimer(pubMailWait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var got []sinkMessage
		for _, m := range sink.Messages() {
			if m.Has(rcpt) && strings.Contains(m.Subject(), subject) {
				got = append(got, m)
			}
		}
		if len(got) >= n {
			return got
		}
		select {
		case <-sink.arrived:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%d of %d emails to %s with subject %q within %s", len(got), n, rcpt, subject, pubMailWait)
		}
	}
}

// pubResetCode requests a reset for email and returns the code that
// arrives by SMTP; it is the nth reset email to that address.
func pubResetCode(t testing.TB, a *pubAPI, sink *smtpSink, email string, nth int) string {
	t.Helper()
	pubWantTrue(t, "password/send "+email, a.sendReset(email))
	msgs := pubWaitMessages(t, sink, email, pubResetSubject, nth)
	return pubCode(t, msgs[nth-1])
}

// pubEventually polls cond until it holds or the timeout passes. It is for
// state that changes in a background job (the outbox relay).
func pubEventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%s: not within %s", what, timeout)
		}
	}
}

func TestPubSessionFlow(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure)
	a := pubClient(t, s)

	t.Run("register login me logout", func(t *testing.T) {
		a := pubClient(t, s)
		const email = "ada@example.com"
		regTok := a.register(email, pubPassword)
		tok := a.mustLogin(email, pubPassword)
		if tok == regTok {
			t.Fatal("login returned the register token; want a new session")
		}

		r := a.me(tok)
		if r.Status != http.StatusOK {
			t.Fatalf("GET /me: got %v, want 200", r)
		}
		var got map[string]any
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatalf("GET /me: %v: %s", err, r.Body)
		}
		want := map[string]any{
			"userId": pubSubject(t, tok), "accountId": s.Tenant.ID, "email": email,
			"confirmed": false, "role": float64(0),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("GET /me (-want +got):\n%s", diff)
		}
		if sub := pubSubject(t, regTok); sub != want["userId"] {
			t.Fatalf("register token sub %s, login token sub %s: want one user", sub, want["userId"])
		}

		r = a.call("POST", "/logout", "", tok)
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("POST /logout: got %v, want 204 without body", r)
		}
		a.wantNoMe("after logout", tok)
		pubWantError(t, "second logout", a.call("POST", "/logout", "", tok), http.StatusUnauthorized, usher.Unauthorized)
		a.wantMe("the register session after the login session's logout", regTok)
	})

	t.Run("password reset by email", func(t *testing.T) {
		a := pubClient(t, s)
		const email = "reset@example.com"
		tok1 := a.register(email, pubPassword)
		tok2 := a.mustLogin(email, pubPassword)
		a.wantMe("before reset", tok1) // cached now: the cache must not outlive the session

		code := pubResetCode(t, a, sink, email, 1)
		pubWantTrue(t, "password/reset", a.reset(email, code, pubNewPassword))

		a.wantNoMe("register token after reset", tok1)
		a.wantNoMe("login token after reset", tok2)
		a.mustLogin(email, pubNewPassword)
		pubWantError(t, "login with the old password", a.login(email, pubPassword), http.StatusUnauthorized, usher.Unauthorized)
		pubWaitMessages(t, sink, email, pubChangedSubject, 1)
	})

	t.Run("backend password change ends sessions", func(t *testing.T) {
		a := a.on(t)
		const email = "backend-pw@example.com"
		tok := a.register(email, pubPassword)
		a.wantMe("before", tok)
		pubWantBackend(t, s, "PUT", "/users/"+pubSubject(t, tok)+"/password", mustJSON(t, map[string]string{"password": pubNewPassword}), http.StatusNoContent)
		a.wantNoMe("after the backend set the password", tok)
		a.mustLogin(email, pubNewPassword)
		pubWantError(t, "old password", a.login(email, pubPassword), http.StatusUnauthorized, usher.Unauthorized)
	})

	t.Run("disabled user", func(t *testing.T) {
		a := a.on(t)
		const email = "disabled@example.com"
		tok := a.register(email, pubPassword)
		id := pubSubject(t, tok)
		a.wantMe("before", tok) // cached now
		pubWantBackend(t, s, "PUT", "/users/"+id+"/disable", "", http.StatusNoContent)
		a.wantNoMe("live token of a disabled user", tok)
		pubWantError(t, "login of a disabled user", a.login(email, pubPassword), http.StatusUnauthorized, usher.Unauthorized)

		pubWantBackend(t, s, "PUT", "/users/"+id+"/enable", "", http.StatusNoContent)
		a.wantNoMe("token of a session ended by disable, after enable", tok)
		a.mustLogin(email, pubPassword)
	})

	t.Run("deleted user", func(t *testing.T) {
		a := a.on(t)
		const email = "deleted@example.com"
		tok := a.register(email, pubPassword)
		a.wantMe("before", tok)
		pubWantBackend(t, s, "DELETE", "/users/"+pubSubject(t, tok), "", http.StatusNoContent)
		a.wantNoMe("token of a deleted user", tok)
		pubWantError(t, "login of a deleted user", a.login(email, pubPassword), http.StatusUnauthorized, usher.Unauthorized)
	})
}

func TestPubResetCodes(t *testing.T) {
	sink := startSMTPSink(t)
	clock := newPubClock()
	s := startServer(t, sink.Configure, clock.Use)
	a := pubClient(t, s)

	// wantUnchanged checks that the password is still the old one.
	wantUnchanged := func(t *testing.T, email string) {
		t.Helper()
		a := a.on(t)
		a.mustLogin(email, pubPassword)
		pubWantError(t, "login with the new password", a.login(email, pubNewPassword), http.StatusUnauthorized, usher.Unauthorized)
	}

	t.Run("five wrong codes kill the code", func(t *testing.T) {
		a := a.on(t)
		const email = "five@example.com"
		a.register(email, pubPassword)
		code := pubResetCode(t, a, sink, email, 1)
		for i := 1; i <= 5; i++ {
			pubWantError(t, fmt.Sprintf("wrong code %d", i), a.reset(email, pubWrongCode(code), pubNewPassword), http.StatusBadRequest, usher.InvalidCode)
		}
		pubWantError(t, "right code after five wrong ones", a.reset(email, code, pubNewPassword), http.StatusBadRequest, usher.InvalidCode)
		wantUnchanged(t, email)
	})

	t.Run("four wrong codes leave the code alive", func(t *testing.T) {
		a := a.on(t)
		const email = "four@example.com"
		a.register(email, pubPassword)
		code := pubResetCode(t, a, sink, email, 1)
		for i := 1; i <= 4; i++ {
			pubWantError(t, fmt.Sprintf("wrong code %d", i), a.reset(email, pubWrongCode(code), pubNewPassword), http.StatusBadRequest, usher.InvalidCode)
		}
		pubWantTrue(t, "right code after four wrong ones", a.reset(email, code, pubNewPassword))
	})

	t.Run("code as people type it", func(t *testing.T) {
		a := a.on(t)
		const email = "typed@example.com"
		a.register(email, pubPassword)
		code := pubResetCode(t, a, sink, email, 1)
		typed := strings.ToLower(code[:5]) + "-" + code[5:]
		pubWantTrue(t, "reset with "+typed, a.reset(email, typed, pubNewPassword))
	})

	t.Run("used code fails", func(t *testing.T) {
		a := a.on(t)
		const email = "used@example.com"
		a.register(email, pubPassword)
		code := pubResetCode(t, a, sink, email, 1)
		pubWantTrue(t, "first use", a.reset(email, code, pubNewPassword))
		pubWantError(t, "second use", a.reset(email, code, "a third passphrase here"), http.StatusBadRequest, usher.InvalidCode)
		a.mustLogin(email, pubNewPassword)
	})

	t.Run("expired code fails", func(t *testing.T) {
		a := a.on(t)
		const email = "expired@example.com"
		a.register(email, pubPassword)
		code := pubResetCode(t, a, sink, email, 1)
		clock.Advance(30*time.Minute + time.Second)
		pubWantError(t, "code after 30 minutes", a.reset(email, code, pubNewPassword), http.StatusBadRequest, usher.InvalidCode)
		wantUnchanged(t, email)
	})

	t.Run("code just before expiry works", func(t *testing.T) {
		a := a.on(t)
		const email = "in-time@example.com"
		a.register(email, pubPassword)
		code := pubResetCode(t, a, sink, email, 1)
		clock.Advance(29 * time.Minute)
		pubWantTrue(t, "code after 29 minutes", a.reset(email, code, pubNewPassword))
	})

	t.Run("newer code voids the older", func(t *testing.T) {
		a := a.on(t)
		const email = "newer@example.com"
		a.register(email, pubPassword)
		older := pubResetCode(t, a, sink, email, 1)
		newer := pubResetCode(t, a, sink, email, 2)
		if older == newer {
			t.Fatalf("two reset emails carry the same code %s", older)
		}
		pubWantError(t, "older code", a.reset(email, older, pubNewPassword), http.StatusBadRequest, usher.InvalidCode)
		pubWantTrue(t, "newer code", a.reset(email, newer, pubNewPassword))
	})

	t.Run("code serves only its user", func(t *testing.T) {
		a := a.on(t)
		const alice, bob = "alice@example.com", "bob@example.com"
		a.register(alice, pubPassword)
		a.register(bob, pubPassword)
		aliceCode := pubResetCode(t, a, sink, alice, 1)
		bobCode := pubResetCode(t, a, sink, bob, 1)
		pubWantError(t, "bob's code on alice", a.reset(alice, bobCode, pubNewPassword), http.StatusBadRequest, usher.InvalidCode)
		wantUnchanged(t, alice)
		pubWantTrue(t, "alice's own code", a.reset(alice, aliceCode, pubNewPassword))
	})

	t.Run("refused password does not spend the code", func(t *testing.T) {
		a := a.on(t)
		const email = "weak@example.com"
		a.register(email, pubPassword)
		code := pubResetCode(t, a, sink, email, 1)
		pubWantError(t, "reset to a common password", a.reset(email, code, "password1"), http.StatusBadRequest, usher.InvalidPassword)
		pubWantTrue(t, "reset to a good password", a.reset(email, code, pubNewPassword))
	})

	t.Run("unknown email", func(t *testing.T) {
		a := a.on(t)
		pubWantError(t, "reset of an unknown email", a.reset("nobody@example.com", "ABCDEFGHJK", pubNewPassword), http.StatusBadRequest, usher.InvalidCode)
	})
}

func TestPubTenantKey(t *testing.T) {
	s := startServer(t)
	a := pubClient(t, s)
	const email = "key@example.com"
	tok := a.register(email, pubPassword)
	creds := mustJSON(t, map[string]string{"email": email, "password": pubPassword})
	reset := mustJSON(t, map[string]string{"email": email, "code": "ABCDEFGHJK", "password": pubNewPassword})
	bearer := "Bearer " + tok

	routes := []struct {
		name, method, path, body string
		header                   map[string]string
	}{
		{"register", "POST", "/register", mustJSON(t, map[string]string{"email": "key2@example.com", "password": pubPassword}), nil},
		{"login", "POST", "/login", creds, nil},
		{"me", "GET", "/me", "", map[string]string{"Authorization": bearer}},
		{"logout", "POST", "/logout", "", map[string]string{"Authorization": bearer}},
		{"password send", "POST", "/password/send", mustJSON(t, map[string]string{"email": email}), nil},
		{"password reset", "POST", "/password/reset", reset, nil},
	}
	keys := []struct{ name, key string }{
		{"missing", ""},
		{"unknown", "pk_unknownunknownunknown"},
		{"too long", "pk_" + strings.Repeat("x", 300)},
		{"another tenant's shape", strings.ToUpper(s.Tenant.PublicKey)},
	}
	for _, rt := range routes {
		for _, k := range keys {
			t.Run(rt.name+" key "+k.name, func(t *testing.T) {
				a := a.on(t)
				h := map[string]string{}
				for name, v := range rt.header {
					h[name] = v
				}
				if k.key != "" {
					h["SB-PUBLIC-KEY"] = k.key
				}
				pubWantError(t, rt.method+" "+rt.path, a.raw(rt.method, rt.path, rt.body, h), http.StatusUnauthorized, usher.Unauthorized)
			})
			t.Run(rt.name+" sbpk "+k.name, func(t *testing.T) {
				a := a.on(t)
				if k.key == "" {
					t.Skip("an empty ?sbpk= is the missing key case")
				}
				path := rt.path + "?sbpk=" + k.key
				pubWantError(t, rt.method+" "+path, a.raw(rt.method, path, rt.body, rt.header), http.StatusUnauthorized, usher.Unauthorized)
			})
		}
	}

	t.Run("sbpk query works", func(t *testing.T) {
		a := a.on(t)
		q := "?sbpk=" + s.Tenant.PublicKey
		login := pubToken(t, "login with ?sbpk=", a.raw("POST", "/login"+q, creds, nil))
		if r := a.raw("GET", "/me"+q, "", map[string]string{"Authorization": "Bearer " + login}); r.Status != http.StatusOK {
			t.Fatalf("GET /me with ?sbpk=: got %v, want 200", r)
		}
		pubWantTrue(t, "password/send with ?sbpk=", a.raw("POST", "/password/send"+q, mustJSON(t, map[string]string{"email": email}), nil))
	})

	t.Run("key is all a keyless route needs", func(t *testing.T) {
		a := a.on(t)
		for _, path := range []string{"/.well-known/jwks.json", "/healthz"} {
			if r := a.raw("GET", path, "", nil); r.Status != http.StatusOK {
				t.Errorf("GET %s without a key: got %v, want 200", path, r)
			}
		}
	})

	t.Run("bearer without a token", func(t *testing.T) {
		a := a.on(t)
		for _, auth := range []string{"", "Bearer", "Bearer ", "Basic " + tok, tok} {
			h := map[string]string{"SB-PUBLIC-KEY": s.Tenant.PublicKey}
			if auth != "" {
				h["Authorization"] = auth
			}
			pubWantError(t, fmt.Sprintf("GET /me with Authorization %.20q", auth), a.raw("GET", "/me", "", h), http.StatusUnauthorized, usher.Unauthorized)
		}
	})
}

func TestPubCORSPreflight(t *testing.T) {
	s := startServer(t)
	a := pubClient(t, s)
	const origin = "https://app.example.com"

	for _, rt := range []struct{ method, path string }{{"POST", "/login"}, {"POST", "/register"}, {"GET", "/me"}, {"POST", "/password/reset"}} {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			a := a.on(t)
			r := a.raw("OPTIONS", rt.path, "", map[string]string{
				"Origin":                        origin,
				"Access-Control-Request-Method": rt.method,
				// As browsers send it (Fetch: lower case, sorted).
				"Access-Control-Request-Headers": "authorization,content-type,sb-public-key",
			})
			if r.Status != http.StatusNoContent && r.Status != http.StatusOK {
				t.Fatalf("preflight: got %v, want 204 or 200", r)
			}
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != origin {
				t.Errorf("Access-Control-Allow-Origin = %q, want * or %s", got, origin)
			}
			if got := r.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(strings.ToUpper(got), rt.method) {
				t.Errorf("Access-Control-Allow-Methods = %q, want it to hold %s", got, rt.method)
			}
			allowed := strings.ToLower(strings.Join(r.Header.Values("Access-Control-Allow-Headers"), ","))
			for _, h := range []string{"sb-public-key", "authorization", "content-type"} {
				if !strings.Contains(allowed, h) {
					t.Errorf("Access-Control-Allow-Headers = %q, want it to allow %s", allowed, h)
				}
			}
		})
	}

	t.Run("actual request exposes the request id", func(t *testing.T) {
		a := a.on(t)
		r := a.raw("POST", "/login", mustJSON(t, map[string]string{"email": "x@example.com", "password": pubPassword}),
			map[string]string{"Origin": origin, "SB-PUBLIC-KEY": s.Tenant.PublicKey})
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != origin {
			t.Errorf("Access-Control-Allow-Origin = %q, want * or %s", got, origin)
		}
		if got := strings.ToLower(r.Header.Get("Access-Control-Expose-Headers")); !strings.Contains(got, "x-request-id") {
			t.Errorf("Access-Control-Expose-Headers = %q, want X-Request-ID exposed", got)
		}
	})
}

func TestPubRequestValidation(t *testing.T) {
	s := startServer(t)
	a := pubClient(t, s)
	const email = "valid@example.com"
	a.register(email, pubPassword)

	t.Run("login ignores accountId", func(t *testing.T) {
		a := a.on(t)
		for _, id := range []any{s.Tenant.ID, 42, nil, map[string]any{"x": 1}} {
			body := mustJSON(t, map[string]any{"email": email, "password": pubPassword, "accountId": id})
			pubToken(t, "login with accountId "+fmt.Sprint(id), a.call("POST", "/login", body, ""))
		}
	})

	for _, tc := range []struct {
		name, email, password string
		code                  usher.Code
	}{
		{"invalid email", "not-an-email", pubPassword, usher.InvalidEmail},
		{"email with display name", "Ada <ada2@example.com>", pubPassword, usher.InvalidEmail},
		{"empty email", "", pubPassword, usher.InvalidEmail},
		{"short password", "short@example.com", "horse7", usher.InvalidPassword},
		{"common password", "common@example.com", "password1", usher.InvalidPassword},
		{"long password", "long@example.com", strings.Repeat("h", 129), usher.InvalidPassword},
	} {
		t.Run("register "+tc.name, func(t *testing.T) {
			a := a.on(t)
			r := a.call("POST", "/register", mustJSON(t, map[string]string{"email": tc.email, "password": tc.password}), "")
			pubWantError(t, "register", r, http.StatusBadRequest, tc.code)
			if _, msg := pubErrorCode(t, r.Body); msg == "" {
				t.Error("no reason in the message")
			}
			if strings.Contains(string(r.Body), tc.password) {
				t.Errorf("the refusal echoes the password: %s", r.Body)
			}
		})
	}

	t.Run("register duplicate", func(t *testing.T) {
		a := a.on(t)
		for _, dup := range []string{email, "Valid@Example.COM", " valid@example.com "} {
			r := a.call("POST", "/register", mustJSON(t, map[string]string{"email": dup, "password": "another passphrase"}), "")
			pubWantError(t, "register "+dup, r, http.StatusConflict, usher.EmailTaken)
		}
		a.mustLogin(email, pubPassword) // the first account is untouched
	})

	t.Run("register unknown field", func(t *testing.T) {
		a := a.on(t)
		r := a.call("POST", "/register", mustJSON(t, map[string]any{"email": "extra@example.com", "password": pubPassword, "role": 1}), "")
		pubWantError(t, "register with role", r, http.StatusBadRequest, usher.InvalidJSON)
	})
}

// pubJWKS fetches the key set.
func pubJWKS(t testing.TB, a *pubAPI) (pubResponse, []map[string]any) {
	t.Helper()
	r := a.raw("GET", "/.well-known/jwks.json", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET jwks: got %v, want 200", r)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("jwks: %v: %s", err, r.Body)
	}
	return r, set.Keys
}

// pubKIDs lists the kids of a key set in order.
func pubKIDs(keys []map[string]any) []string {
	var out []string
	for _, k := range keys {
		kid, _ := k["kid"].(string)
		out = append(out, kid)
	}
	return out
}

func TestPubJWKS(t *testing.T) {
	s := startServer(t)
	a := pubClient(t, s)
	tok := a.register("jwks@example.com", pubPassword)
	h, _ := pubSegments(t, tok)

	r, keys := pubJWKS(t, a)
	if diff := cmp.Diff([]string{h["kid"].(string)}, pubKIDs(keys)); diff != "" {
		t.Fatalf("jwks kids, want the token's kid (-want +got):\n%s", diff)
	}
	if got, want := h["alg"], "EdDSA"; got != want {
		t.Errorf("token alg: got %v, want %s", got, want)
	}
	k := keys[0]
	for name, want := range map[string]string{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig"} {
		if got, _ := k[name].(string); got != want {
			t.Errorf("jwk %s: got %q, want %q", name, got, want)
		}
	}
	if _, ok := k["d"]; ok {
		t.Errorf("jwks publishes a private key: %s", r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); strings.Contains(cc, "no-store") || !strings.Contains(cc, "max-age") {
		t.Errorf("jwks Cache-Control = %q, want cacheable (max-age)", cc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("jwks Content-Type = %q", ct)
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Error("jwks has no X-Request-ID")
	}
}

func TestPubResponseHeaders(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure)
	a := pubClient(t, s)
	const email = "headers@example.com"
	tok := a.register(email, pubPassword)
	creds := mustJSON(t, map[string]string{"email": email, "password": pubPassword})
	key := map[string]string{"SB-PUBLIC-KEY": s.Tenant.PublicKey}

	for _, tc := range []struct {
		name   string
		do     func(*pubAPI) pubResponse
		status int
	}{
		{"register", func(a *pubAPI) pubResponse {
			return a.call("POST", "/register", mustJSON(t, map[string]string{"email": "h2@example.com", "password": pubPassword}), "")
		}, 200},
		{"register refused", func(a *pubAPI) pubResponse {
			return a.call("POST", "/register", mustJSON(t, map[string]string{"email": "bad", "password": pubPassword}), "")
		}, 400},
		{"login", func(a *pubAPI) pubResponse { return a.call("POST", "/login", creds, "") }, 200},
		{"login refused", func(a *pubAPI) pubResponse { return a.login(email, "wrong horse battery") }, 401},
		{"me", func(a *pubAPI) pubResponse { return a.me(tok) }, 200},
		{"me refused", func(a *pubAPI) pubResponse { return a.me("nope") }, 401},
		{"password send", func(a *pubAPI) pubResponse { return a.sendReset(email) }, 200},
		{"password reset refused", func(a *pubAPI) pubResponse { return a.reset(email, "ABCDEFGHJK", pubNewPassword) }, 400},
		{"missing key", func(a *pubAPI) pubResponse { return a.raw("POST", "/login", creds, nil) }, 401},
		{"unknown route", func(a *pubAPI) pubResponse { return a.raw("GET", "/nope", "", key) }, 404},
		{"wrong method", func(a *pubAPI) pubResponse { return a.raw("DELETE", "/login", "", key) }, 405},
		{"wrong content type", func(a *pubAPI) pubResponse {
			return a.raw("POST", "/login", creds, map[string]string{"SB-PUBLIC-KEY": s.Tenant.PublicKey, "Content-Type": "text/plain"})
		}, 415},
		{"healthz", func(a *pubAPI) pubResponse { return a.raw("GET", "/healthz", "", nil) }, 200},
		{"logout", func(a *pubAPI) pubResponse { return a.call("POST", "/logout", "", a.mustLogin(email, pubPassword)) }, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := a.on(t)
			r := tc.do(a)
			if r.Status != tc.status {
				t.Fatalf("got %v, want %d", r, tc.status)
			}
			if r.Header.Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID")
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}

	t.Run("request id echoed", func(t *testing.T) {
		a := a.on(t)
		r := a.raw("GET", "/healthz", "", map[string]string{"X-Request-ID": "client-id-123"})
		if got, want := r.Header.Get("X-Request-ID"), "client-id-123"; got != want {
			t.Errorf("X-Request-ID: got %q, want %q", got, want)
		}
		r = a.raw("GET", "/healthz", "", map[string]string{"X-Request-ID": "bad id\twith spaces"})
		if got := r.Header.Get("X-Request-ID"); got == "" || strings.ContainsAny(got, " \t") {
			t.Errorf("X-Request-ID for an insane client id: got %q, want a fresh one", got)
		}
	})

	// API.md: every response carries X-Request-ID, including the ones the
	// CORS and whole-surface rate limit layers answer themselves.
	t.Run("preflight", func(t *testing.T) {
		a := a.on(t)
		r := a.raw("OPTIONS", "/login", "", map[string]string{
			"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "content-type,sb-public-key",
		})
		if r.Header.Get("X-Request-ID") == "" {
			t.Errorf("preflight answer %d has no X-Request-ID", r.Status)
		}
	})

	t.Run("surface rate limit", func(t *testing.T) {
		s := startServer(t, func(m *Main) { m.Config.RatePublic = 2 })
		a := pubClient(t, s)
		var r pubResponse
		for range 3 {
			r = a.raw("GET", "/healthz", "", nil)
		}
		pubWantError(t, "third request", r, http.StatusTooManyRequests, usher.RateLimited)
		if r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		if r.Header.Get("X-Request-ID") == "" {
			t.Error("429 of the surface rate limit has no X-Request-ID")
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("429 of the surface rate limit: Cache-Control = %q, want no-store", got)
		}
	})
}

// pubSame checks that responses are indistinguishable: status, body and
// every header but the request id and date.
func pubSame(t testing.TB, what string, names []string, rs []pubResponse) {
	t.Helper()
	strip := func(h http.Header) http.Header {
		h = h.Clone()
		h.Del("X-Request-ID")
		h.Del("Date")
		return h
	}
	for i := 1; i < len(rs); i++ {
		if rs[i].Status != rs[0].Status || !bytes.Equal(rs[i].Body, rs[0].Body) {
			t.Errorf("%s: %s answered %v, %s answered %v", what, names[0], rs[0], names[i], rs[i])
		}
		if diff := cmp.Diff(strip(rs[0].Header), strip(rs[i].Header)); diff != "" {
			t.Errorf("%s: headers differ (-%s +%s):\n%s", what, names[0], names[i], diff)
		}
	}
}

func TestPubEnumeration(t *testing.T) {
	s := startServer(t)
	a := pubClient(t, s)
	const known, disabled = "known@example.com", "off@example.com"
	a.register(known, pubPassword)
	off := a.register(disabled, pubPassword)
	if err := s.Accounts.SetEnabled(t.Context(), s.Tenant.ID, pubSubject(t, off), false); err != nil {
		t.Fatal(err)
	}

	t.Run("login", func(t *testing.T) {
		a := a.on(t)
		names := []string{"unknown email", "wrong password", "disabled user", "malformed email"}
		rs := []pubResponse{
			a.login("nobody@example.com", pubPassword),
			a.login(known, "wrong horse battery"),
			a.login(disabled, pubPassword),
			a.login("not an email", pubPassword),
		}
		pubWantError(t, names[0], rs[0], http.StatusUnauthorized, usher.Unauthorized)
		pubSame(t, "login", names, rs)
	})

	t.Run("password send", func(t *testing.T) {
		a := a.on(t)
		names := []string{"known email", "unknown email", "disabled user"}
		rs := []pubResponse{a.sendReset(known), a.sendReset("nobody@example.com"), a.sendReset(disabled)}
		pubWantTrue(t, names[0], rs[0])
		pubSame(t, "password/send", names, rs)
	})
}

func TestPubRateLimit(t *testing.T) {
	const known = "limited@example.com"
	limited := func(t *testing.T, edit func(*Main)) (*testServer, *pubAPI) {
		s := startServer(t, func(m *Main) { m.Config.RateAuth = 3 }, edit)
		if _, err := s.Accounts.Create(t.Context(), s.Tenant.ID, account.NewUser{Email: known, Password: pubPassword, Enabled: true}); err != nil {
			t.Fatal(err)
		}
		return s, pubClient(t, s)
	}
	loginFrom := func(a *pubAPI, email, xff string) pubResponse {
		h := map[string]string{"SB-PUBLIC-KEY": a.key}
		if xff != "" {
			h["X-Forwarded-For"] = xff
		}
		return a.raw("POST", "/login", mustJSON(a.t, map[string]string{"email": email, "password": pubPassword}), h)
	}
	wantLimited := func(t *testing.T, what string, r pubResponse) {
		t.Helper()
		pubWantError(t, what, r, http.StatusTooManyRequests, usher.RateLimited)
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("%s: Retry-After = %q, want a positive number of seconds", what, r.Header.Get("Retry-After"))
		}
	}

	t.Run("fourth login from one address", func(t *testing.T) {
		_, a := limited(t, func(*Main) {})
		for i := 1; i <= 3; i++ {
			pubToken(t, fmt.Sprintf("login %d", i), loginFrom(a, known, ""))
		}
		existing, unknown := loginFrom(a, known, ""), loginFrom(a, "unknown@example.com", "")
		wantLimited(t, "fourth login", existing)
		// The limiter's own X-RateLimit-* headers depend on the clock, so
		// status, body and Retry-After are compared.
		if unknown.Status != existing.Status || !bytes.Equal(unknown.Body, existing.Body) ||
			unknown.Header.Get("Retry-After") != existing.Header.Get("Retry-After") {
			t.Errorf("limited login: existing email got %v (Retry-After %s), unknown email got %v (Retry-After %s)",
				existing, existing.Header.Get("Retry-After"), unknown, unknown.Header.Get("Retry-After"))
		}
		wantLimited(t, "register past the limit", a.call("POST", "/register", mustJSON(t, map[string]string{"email": "n@example.com", "password": pubPassword}), ""))
		wantLimited(t, "password/send past the limit", a.sendReset(known))
	})

	t.Run("untrusted X-Forwarded-For is ignored", func(t *testing.T) {
		_, a := limited(t, func(*Main) {})
		for i := 1; i <= 3; i++ {
			pubToken(t, fmt.Sprintf("login %d", i), loginFrom(a, known, fmt.Sprintf("198.51.100.%d", i)))
		}
		wantLimited(t, "login claiming a fresh address", loginFrom(a, known, "203.0.113.77"))
		wantLimited(t, "login claiming a chain", loginFrom(a, known, "203.0.113.78, 203.0.113.79"))
	})

	// The control: from a trusted proxy, X-Forwarded-For does pick the key,
	// so the case above shows the peer check, not a limiter that ignores
	// the header.
	t.Run("trusted X-Forwarded-For picks the key", func(t *testing.T) {
		_, a := limited(t, func(m *Main) { m.Config.TrustedProxies = []string{"127.0.0.1/32"} })
		for i := 1; i <= 3; i++ {
			pubToken(t, fmt.Sprintf("login %d", i), loginFrom(a, known, "198.51.100.1"))
		}
		wantLimited(t, "fourth login of the client", loginFrom(a, known, "198.51.100.1"))
		pubToken(t, "login of another client behind the proxy", loginFrom(a, known, "198.51.100.2"))
	})
}

func TestPubResetRateLimit(t *testing.T) {
	s := startServer(t, func(m *Main) { m.Config.ResetPerHour = 2 })
	a := pubClient(t, s)
	const known, unknown = "many-resets@example.com", "no-such@example.com"
	a.register(known, pubPassword)

	var third []pubResponse
	for _, email := range []string{known, unknown} {
		for i := 1; i <= 2; i++ {
			pubWantTrue(t, fmt.Sprintf("send %d to %s", i, email), a.sendReset(email))
		}
		third = append(third, a.sendReset(email))
	}
	pubWantError(t, "third send to a known address", third[0], http.StatusTooManyRequests, usher.RateLimited)
	if third[0].Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	pubSame(t, "third send", []string{known, unknown}, third)

	var queued int
	if err := s.Store.DB().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND kind = $2`,
		known, usher.MailReset).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != 2 {
		t.Errorf("reset emails queued for %s: got %d, want 2", known, queued)
	}
}
