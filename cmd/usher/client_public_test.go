package main

// The public surface's typed client: the tenant key in SB-PUBLIC-KEY, one
// method per call, and the token and /me checks the tests share.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/usher"
)

// publicClient calls one public listener.
type publicClient struct {
	base string       // http://host:port
	key  string       // the tenant key do sends
	http *http.Client // plain HTTP, does not follow redirects
}

// withKey returns a copy of p that sends another tenant key.
func (p *publicClient) withKey(key string) *publicClient {
	c := *p
	c.key = key
	return &c
}

// raw sends a request exactly as given: no tenant key is added.
func (p *publicClient) raw(t testing.TB, method, path, body string, opts ...reqOpt) response {
	t.Helper()
	return doRequest(t, p.http, method, p.base+path, body, opts...)
}

// do sends a request with the tenant key; opts run after it.
func (p *publicClient) do(t testing.TB, method, path, body string, opts ...reqOpt) response {
	t.Helper()
	return p.raw(t, method, path, body, append([]reqOpt{header("SB-PUBLIC-KEY", p.key)}, opts...)...)
}

// register is POST /register.
func (p *publicClient) register(t testing.TB, email, pw string) response {
	t.Helper()
	return p.do(t, "POST", "/register", mustJSON(t, map[string]string{"email": email, "password": pw}))
}

// mustRegister registers a user and returns its token.
func (p *publicClient) mustRegister(t testing.TB, email, pw string) string {
	t.Helper()
	return p.register(t, email, pw).wantToken(t, "register "+email)
}

// login is POST /login; opts run after the tenant key is set.
func (p *publicClient) login(t testing.TB, email, pw string, opts ...reqOpt) response {
	t.Helper()
	return p.do(t, "POST", "/login", mustJSON(t, map[string]string{"email": email, "password": pw}), opts...)
}

// mustLogin logs in and returns the token.
func (p *publicClient) mustLogin(t testing.TB, email, pw string) string {
	t.Helper()
	return p.login(t, email, pw).wantToken(t, "login "+email)
}

// me is GET /me with tok.
func (p *publicClient) me(t testing.TB, tok string) response {
	t.Helper()
	return p.do(t, "GET", "/me", "", bearer(tok))
}

// meUser is what GET /me returns.
type meUser struct {
	UserID    string `json:"userId"`
	AccountID string `json:"accountId"`
	Email     string `json:"email"`
	Confirmed bool   `json:"confirmed"`
	Role      int    `json:"role"`
}

// mustMe is GET /me, which must answer 200; it returns the user.
func (p *publicClient) mustMe(t testing.TB, tok string) meUser {
	t.Helper()
	var me meUser
	p.me(t, tok).wantStatus(t, "GET /me", http.StatusOK).decode(t, "GET /me", &me)
	return me
}

// logout is POST /logout with tok.
func (p *publicClient) logout(t testing.TB, tok string) response {
	t.Helper()
	return p.do(t, "POST", "/logout", "", bearer(tok))
}

// passwordSend is POST /password/send.
func (p *publicClient) passwordSend(t testing.TB, email string) response {
	t.Helper()
	return p.do(t, "POST", "/password/send", mustJSON(t, map[string]string{"email": email}))
}

// passwordReset is POST /password/reset.
func (p *publicClient) passwordReset(t testing.TB, email, code, pw string) response {
	t.Helper()
	return p.do(t, "POST", "/password/reset", mustJSON(t, map[string]string{"email": email, "code": code, "password": pw}))
}

// verify is GET /verify, the link of the verification email (no key).
func (p *publicClient) verify(t testing.TB, email, tok, responseType string) response {
	t.Helper()
	q := url.Values{"email": {email}, "token": {tok}}
	if responseType != "" {
		q.Set("response_type", responseType)
	}
	return p.raw(t, "GET", "/verify?"+q.Encode(), "")
}

// jwks fetches the key set, which must answer 200.
func (p *publicClient) jwks(t testing.TB) (response, []map[string]any) {
	t.Helper()
	r := p.raw(t, "GET", "/.well-known/jwks.json", "").wantStatus(t, "GET jwks", http.StatusOK)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	r.decode(t, "jwks", &set)
	return r, set.Keys
}

// kids lists the kids of a key set in order.
func kids(keys []map[string]any) []string {
	var out []string
	for _, k := range keys {
		kid, _ := k["kid"].(string)
		out = append(out, kid)
	}
	return out
}

// wantMe checks that tok is live: /me answers 200.
func (p *publicClient) wantMe(t testing.TB, what, tok string) {
	t.Helper()
	if r := p.me(t, tok); r.Status != http.StatusOK {
		t.Fatalf("%s: GET /me: got %v, want 200", what, r)
	}
}

// wantNoMe checks that tok is refused: /me answers 401 unauthorized with a
// Bearer challenge.
func (p *publicClient) wantNoMe(t testing.TB, what, tok string) {
	t.Helper()
	r := p.me(t, tok)
	r.wantNativeError(t, what+": GET /me", http.StatusUnauthorized, usher.Unauthorized)
	if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Errorf("%s: GET /me: WWW-Authenticate = %q, want a Bearer challenge", what, got)
	}
}

// wantToken returns the JWT of a 200 register or login answer: a compact
// JWS as a JSON string.
func (r response) wantToken(t testing.TB, what string) string {
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

// jwtSegments decodes a compact JWS's header and payload without verifying.
func jwtSegments(t testing.TB, tok string) (header, claims map[string]any) {
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

// jwtSubject returns the user id a token names.
func jwtSubject(t testing.TB, tok string) string {
	t.Helper()
	_, c := jwtSegments(t, tok)
	sub, _ := c["sub"].(string)
	if !usher.ValidID(sub) {
		t.Fatalf("token sub %q is not a user id", sub)
	}
	return sub
}
