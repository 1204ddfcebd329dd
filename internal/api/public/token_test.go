package public_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/usher"
)

// POST /token: the password and refresh_token grants, as clients see them.

// tokenAnswer is POST /token's success body, every field kept raw so that
// a type or a missing field shows.
type tokenAnswer map[string]json.RawMessage

var noStore = map[string]string{"Cache-Control": "no-store", "Content-Type": "application/json", "X-Content-Type-Options": "nosniff"}

// withPair creates ann and signs her in with the password grant: {rt} is
// her refresh token, {access} her access token.
func withPair(t *testing.T, e *env) {
	withAnn(nil)(t, e)
	p, err := e.Service.PasswordGrant(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", annPassword)
	if err != nil {
		t.Fatalf("PasswordGrant: %v", err)
	}
	e.vars["{rt}"], e.vars["{access}"] = p.Refresh, p.Access
}

// wantPair checks a success body: exactly the four fields, a Bearer access
// token of ann that lasts expires_in (the default 15 minutes), and a new
// refresh token that works.
func wantPair(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
	t.Helper()
	var raw tokenAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	var fields []string
	for k := range raw {
		fields = append(fields, k)
	}
	slices.Sort(fields)
	if diff := cmp.Diff([]string{"access_token", "expires_in", "refresh_token", "token_type"}, fields); diff != "" {
		t.Fatalf("body fields (-want +got):\n%s\nbody: %s", diff, rec.Body)
	}
	var got struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	if got.TokenType != "Bearer" {
		t.Errorf("token_type: got %q, want Bearer", got.TokenType)
	}
	if want := int((15 * time.Minute).Seconds()); got.ExpiresIn != want {
		t.Errorf("expires_in: got %d, want %d", got.ExpiresIn, want)
	}
	u, c, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, got.AccessToken)
	if err != nil || u.Email != "ann@example.com" {
		t.Fatalf("Authenticate(access_token): got %q, %v; want ann", u.Email, err)
	}
	if want := e.Clock.Now().Add(time.Duration(got.ExpiresIn) * time.Second); !c.Expiry.Equal(want) {
		t.Errorf("access token exp %v, want now + expires_in = %v", c.Expiry, want)
	}
	if !strings.HasPrefix(got.RefreshToken, "rt_") || got.RefreshToken == e.vars["{rt}"] {
		t.Errorf("refresh_token %q: want a new token with the rt_ prefix", got.RefreshToken)
	}
	e.vars["{new-rt}"] = got.RefreshToken
}

// refreshWorks checks that a refresh token ({rt}, {new-rt}) gives a pair
// as want says, a minute later (out of the retry grace).
func refreshWorks(name string, want bool) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		e.Clock.Advance(time.Minute)
		_, err := e.Service.RefreshGrant(t.Context(), e.Tenant.ID, e.vars[name])
		if got := err == nil; got != want {
			t.Errorf("refresh with %s: got %v, want success %t", name, err, want)
		}
	}
}

func TestToken(t *testing.T) {
	const (
		pwPath = "/token?grant_type=password"
		rtPath = "/token?grant_type=refresh_token"
		rtBody = `{"refresh_token":"{rt}"}`
	)
	badGrant := `{"error":{"code":"unauthorized","message":"The refresh token is invalid, expired or used."}}`
	run(t, []scenario{
		// The password grant.
		{
			name: "password grant", setup: withAnn(nil), method: "POST", path: pwPath, header: key, body: ann,
			status: http.StatusOK, wantHeader: noStore, check: wantPair, after: refreshWorks("{new-rt}", true),
		},
		{
			name: "password grant, the email in another case", setup: withAnn(nil), method: "POST", path: pwPath, header: key,
			body: `{"email":"Ann@Example.COM","password":"` + annPassword + `"}`, status: http.StatusOK, check: wantPair,
		},
		{
			name: "password grant without Content-Type", setup: withAnn(nil), method: "POST", path: pwPath,
			header: map[string]string{"SB-PUBLIC-KEY": "{pk}"}, body: ann, status: http.StatusOK, check: wantPair,
		},
		{
			name: "wrong password: the body of /login", setup: withAnn(nil), method: "POST", path: pwPath, header: key,
			body: `{"email":"ann@example.com","password":"` + newPassword + `"}`, status: http.StatusUnauthorized,
			wantHeader: noStore, wantBody: badLogin,
			after: func(t *testing.T, e *env) {
				login := e.do(t, "POST", "/login", key, `{"email":"ann@example.com","password":"`+newPassword+`"}`)
				tok := e.do(t, "POST", pwPath, key, `{"email":"ann@example.com","password":"`+newPassword+`"}`)
				if login.Code != tok.Code || login.Body.String() != tok.Body.String() {
					t.Errorf("wrong password: /login answers %d %s, /token %d %s; want the same", login.Code, login.Body, tok.Code, tok.Body)
				}
			},
		},
		{name: "unknown email", setup: withAnn(nil), method: "POST", path: pwPath, header: key, body: `{"email":"bob@example.com","password":"` + annPassword + `"}`, status: http.StatusUnauthorized, wantBody: badLogin},
		{name: "invalid email", setup: withAnn(nil), method: "POST", path: pwPath, header: key, body: `{"email":"ann","password":"` + annPassword + `"}`, status: http.StatusUnauthorized, wantBody: badLogin},
		{name: "disabled", setup: withAnn(disabled), method: "POST", path: pwPath, header: key, body: ann, status: http.StatusUnauthorized, wantBody: badLogin},
		{
			name: "locked by wrong logins", method: "POST", path: pwPath, header: key, body: ann, status: http.StatusUnauthorized, wantBody: badLogin,
			setup: func(t *testing.T, e *env) {
				withAnn(nil)(t, e)
				for range 10 { // the surface's lockout is 10
					if _, err := e.Service.Login(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", newPassword); usher.ErrorCode(err) != usher.Unauthorized {
						t.Fatalf("a wrong login: got %v", err)
					}
				}
			},
		},
		{name: "a password over the policy's length", setup: withAnn(nil), method: "POST", path: pwPath, header: key, body: `{"email":"ann@example.com","password":"` + strings.Repeat("x", 129) + `"}`, status: 400, wantCode: usher.InvalidPassword},
		{name: "password grant, database unreachable", setup: withAnn(nil), down: true, method: "POST", path: pwPath, header: key, body: ann, status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantCode: usher.Unavailable},
		{name: "password grant, hashing at capacity", setup: withAnn(nil), busy: true, method: "POST", path: pwPath, header: key, body: ann, status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantCode: usher.Overloaded},
		{name: "password grant with a refresh token field", setup: withPair, method: "POST", path: pwPath, header: key, body: `{"email":"ann@example.com","password":"` + annPassword + `","refresh_token":"{rt}"}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "password grant with accountId", setup: withAnn(nil), method: "POST", path: pwPath, header: key, body: `{"email":"ann@example.com","password":"` + annPassword + `","accountId":1}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "password grant with a repeated key", setup: withAnn(nil), method: "POST", path: pwPath, header: key, body: `{"email":"ann@example.com","password":"x","password":"` + annPassword + `"}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "password grant with a key in another case", setup: withAnn(nil), method: "POST", path: pwPath, header: key, body: `{"email":"ann@example.com","Password":"` + annPassword + `"}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "password grant, invalid JSON", method: "POST", path: pwPath, header: key, body: `{`, status: 400, wantCode: usher.InvalidJSON},
		{name: "password grant, a JSON array", method: "POST", path: pwPath, header: key, body: `[]`, status: 400, wantCode: usher.InvalidJSON},
		{name: "password grant, no body", method: "POST", path: pwPath, header: key, status: 400, wantCode: usher.InvalidJSON},
		{name: "password grant, a form body", setup: withAnn(nil), method: "POST", path: pwPath, header: map[string]string{"SB-PUBLIC-KEY": "{pk}", "Content-Type": "application/x-www-form-urlencoded"}, body: "email=ann%40example.com&password=" + annPassword, status: http.StatusUnsupportedMediaType, wantCode: usher.MediaType},

		// The refresh_token grant.
		{
			name: "refresh grant", setup: withPair, method: "POST", path: rtPath, header: key, body: rtBody,
			status: http.StatusOK, wantHeader: noStore, check: wantPair,
			after: func(t *testing.T, e *env) {
				refreshWorks("{new-rt}", true)(t, e)
				// Used, and out of the grace: reuse, which ended the session.
				refreshWorks("{rt}", false)(t, e)
				_, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, e.vars["{access}"])
				if usher.ErrorCode(err) != usher.Unauthorized {
					t.Errorf("the first access token after reuse: got %v, want Unauthorized", err)
				}
			},
		},
		{
			name: "refresh grant retried within the grace", method: "POST", path: rtPath, header: key, body: rtBody,
			setup: func(t *testing.T, e *env) {
				withPair(t, e)
				p, err := e.Service.RefreshGrant(t.Context(), e.Tenant.ID, e.vars["{rt}"])
				if err != nil {
					t.Fatalf("RefreshGrant: %v", err)
				}
				e.vars["{first-rt}"] = p.Refresh
			},
			status: http.StatusOK, check: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				var got struct {
					RefreshToken string `json:"refresh_token"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.RefreshToken != e.vars["{first-rt}"] {
					t.Errorf("the retry's refresh_token: got %s, want the first refresh's", rec.Body)
				}
			},
		},
		{name: "refresh grant, unknown token", setup: withPair, method: "POST", path: rtPath, header: key, body: `{"refresh_token":"rt_` + strings.Repeat("A", 43) + `"}`, status: http.StatusUnauthorized, wantHeader: noStore, wantBody: badGrant},
		{name: "refresh grant, the access token", setup: withPair, method: "POST", path: rtPath, header: key, body: `{"refresh_token":"{access}"}`, status: http.StatusUnauthorized, wantBody: badGrant, after: refreshWorks("{rt}", true)},
		{name: "refresh grant, too long", setup: withPair, method: "POST", path: rtPath, header: key, body: `{"refresh_token":"{rt}` + strings.Repeat("A", 100) + `"}`, status: http.StatusUnauthorized, wantBody: badGrant},
		{name: "refresh grant, empty token", setup: withPair, method: "POST", path: rtPath, header: key, body: `{"refresh_token":""}`, status: http.StatusUnauthorized, wantBody: badGrant},
		{name: "refresh grant, no token field", setup: withPair, method: "POST", path: rtPath, header: key, body: `{}`, status: http.StatusUnauthorized, wantBody: badGrant},
		{name: "refresh grant, a number", setup: withPair, method: "POST", path: rtPath, header: key, body: `{"refresh_token":42}`, status: 400, wantCode: usher.InvalidJSON},
		{
			name: "refresh grant after logout", method: "POST", path: rtPath, header: key, body: rtBody, status: http.StatusUnauthorized, wantBody: badGrant,
			setup: func(t *testing.T, e *env) {
				withPair(t, e)
				e.vars["{token}"] = e.vars["{access}"]
				if rec := e.do(t, "POST", "/logout", bearer, ""); rec.Code != http.StatusNoContent {
					t.Fatalf("logout: got %d %s", rec.Code, rec.Body)
				}
			},
		},
		{
			name: "refresh grant of another tenant's key", method: "POST", path: rtPath, header: map[string]string{"SB-PUBLIC-KEY": "{other-pk}"}, body: rtBody,
			status: http.StatusUnauthorized, wantBody: badGrant, after: refreshWorks("{rt}", true),
			setup: func(t *testing.T, e *env) {
				withPair(t, e)
				other, err := e.Service.CreateTenant(t.Context(), "other")
				if err != nil {
					t.Fatalf("CreateTenant: %v", err)
				}
				e.vars["{other-pk}"] = other.PublicKey
			},
		},
		{name: "refresh grant with the password grant's fields", setup: withPair, method: "POST", path: rtPath, header: key, body: ann, status: 400, wantCode: usher.InvalidJSON, after: refreshWorks("{rt}", true)},
		{name: "refresh grant with an extra field", setup: withPair, method: "POST", path: rtPath, header: key, body: `{"refresh_token":"{rt}","scope":"all"}`, status: 400, wantCode: usher.InvalidJSON, after: refreshWorks("{rt}", true)},
		{name: "refresh grant, invalid JSON", setup: withPair, method: "POST", path: rtPath, header: key, body: `{"refresh_token":"{rt}"`, status: 400, wantCode: usher.InvalidJSON, after: refreshWorks("{rt}", true)},

		// grant_type.
		{name: "no grant_type", setup: withPair, method: "POST", path: "/token", header: key, body: ann, status: 400, wantHeader: noStore, wantCode: usher.Invalid},
		{name: "empty grant_type", setup: withPair, method: "POST", path: "/token?grant_type=", header: key, body: ann, status: 400, wantCode: usher.Invalid},
		{name: "unknown grant_type", setup: withPair, method: "POST", path: "/token?grant_type=client_credentials", header: key, body: ann, status: 400, wantCode: usher.Invalid},
		{name: "grant_type in another case", setup: withPair, method: "POST", path: "/token?grant_type=Password", header: key, body: ann, status: 400, wantCode: usher.Invalid},
		{name: "grant_type mfa with an unknown token", setup: withPair, method: "POST", path: "/token?grant_type=mfa", header: key, body: `{"mfa_token":"x","code":"123456"}`, status: 401, wantCode: usher.Unauthorized},
		{name: "repeated grant_type", setup: withPair, method: "POST", path: "/token?grant_type=password&grant_type=password", header: key, body: ann, status: 400, wantCode: usher.Invalid},
		{name: "two grant_types", setup: withPair, method: "POST", path: "/token?grant_type=password&grant_type=refresh_token", header: key, body: ann, status: 400, wantCode: usher.Invalid},
		{name: "an extra parameter", setup: withPair, method: "POST", path: "/token?grant_type=password&scope=all", header: key, body: ann, status: 400, wantCode: usher.Invalid},
		{name: "grant_type in the body only", setup: withPair, method: "POST", path: "/token", header: key, body: `{"grant_type":"refresh_token","refresh_token":"{rt}"}`, status: 400, wantCode: usher.Invalid, after: refreshWorks("{rt}", true)},

		// The route.
		{name: "without SB-PUBLIC-KEY", setup: withAnn(nil), method: "POST", path: pwPath, body: ann, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{name: "unknown SB-PUBLIC-KEY", setup: withPair, method: "POST", path: rtPath, header: map[string]string{"SB-PUBLIC-KEY": "nope"}, body: rtBody, status: http.StatusUnauthorized, wantCode: usher.Unauthorized, after: refreshWorks("{rt}", true)},
		{name: "GET", method: "GET", path: pwPath, header: key, status: http.StatusMethodNotAllowed, wantHeader: map[string]string{"Allow": "POST"}, wantCode: usher.MethodNotAllow},
		{
			name: "limited with the credential routes", limited: true, method: "POST", path: rtPath, header: key, body: rtBody,
			status: http.StatusTooManyRequests, wantHeader: map[string]string{"Retry-After": "60"}, wantCode: usher.RateLimited,
			setup: func(t *testing.T, e *env) {
				withPair(t, e)
				if rec := e.do(t, "POST", "/login", key, ann); rec.Code != http.StatusOK {
					t.Fatalf("login: got %d %s", rec.Code, rec.Body)
				}
			},
			after: refreshWorks("{rt}", true),
		},
	})
}

// TestTokenBodyNeverCached: every answer of /token, success or not,
// carries Cache-Control: no-store (RFC 6749 5.1), and no answer echoes
// the refresh token it was sent.
func TestTokenBodyNeverCached(t *testing.T) {
	e := newEnv(t, scenario{})
	withPair(t, e)
	p, err := e.Service.PasswordGrant(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", annPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, body string }{
		{"/token?grant_type=password", ann},
		{"/token?grant_type=refresh_token", `{"refresh_token":"{rt}"}`},
		{"/token?grant_type=refresh_token", `{"refresh_token":"` + p.Refresh + `x"}`},
		{"/token?grant_type=nope", `{"refresh_token":"` + p.Refresh + `"}`},
		{"/token?grant_type=password", `{"refresh_token":"` + p.Refresh + `"}`},
	} {
		rec := e.do(t, "POST", tc.path, key, tc.body)
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("POST %s (%d): Cache-Control %q, want no-store", tc.path, rec.Code, got)
		}
		if rec.Code != http.StatusOK && strings.Contains(rec.Body.String(), strings.TrimPrefix(p.Refresh, "rt_")) {
			t.Errorf("POST %s (%d): the error echoes the refresh token: %s", tc.path, rec.Code, rec.Body)
		}
	}
}
