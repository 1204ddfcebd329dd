package public_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/api/public"
	"github.com/usherhq/usher/internal/usher"
)

const (
	annPassword = "first-Secret-8451"
	newPassword = "second-Secret-9362"
	created     = "2030-03-04T05:06:07.000Z" // the injected clock's time, as native bodies write it
)

var (
	key    = map[string]string{"SB-PUBLIC-KEY": "{pk}", "Content-Type": "application/json"}
	bearer = map[string]string{"SB-PUBLIC-KEY": "{pk}", "Authorization": "Bearer {token}"}
	ann    = `{"email":"ann@example.com","password":"` + annPassword + `"}`
	meBody = fmt.Sprintf(`{"userId":"{id}","accountId":%q,"email":"ann@example.com","confirmed":false,"role":0}`, usher.DefaultTenantID)
	// badLogin is the one answer to every refused login.
	badLogin = `{"error":{"code":"unauthorized","message":"Invalid email or password."}}`
)

// withAnn creates ann@example.com ({id}), changed by mod before creation.
func withAnn(mod func(*account.NewUser)) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		in := account.NewUser{Email: "ann@example.com", Password: annPassword, Enabled: true}
		if mod != nil {
			mod(&in)
		}
		u, err := e.Service.Create(t.Context(), e.Tenant.ID, in)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		e.vars["{id}"] = u.ID
	}
}

func disabled(in *account.NewUser) { in.Enabled = false }

// loggedIn creates ann and logs her in: {token} is her access token.
func loggedIn(t *testing.T, e *env) {
	withAnn(nil)(t, e)
	tok, err := e.Service.Login(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", annPassword)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	e.vars["{token}"] = tok
}

// sent runs send, then returns the params of the one email it queued.
func sent(t *testing.T, e *env, send func() error) usher.MailParams {
	t.Helper()
	if err := send(); err != nil {
		t.Fatalf("sending: %v", err)
	}
	_, params := e.drain(t)
	if len(params) != 1 {
		t.Fatalf("queued emails: got %d, want 1", len(params))
	}
	return params[0]
}

// withResetCode is loggedIn, and a reset code ({code}) sent to ann.
func withResetCode(t *testing.T, e *env) {
	loggedIn(t, e)
	p := sent(t, e, func() error { return e.Service.SendReset(apitest.Ctx(t), e.Tenant.ID, "ann@example.com") })
	e.vars["{code}"] = p.Code
}

// withVerifyToken creates ann and sends her a verification link, whose
// token is {vtoken}.
func withVerifyToken(t *testing.T, e *env) {
	withAnn(nil)(t, e)
	p := sent(t, e, func() error { return e.Service.SendVerification(t.Context(), e.Tenant.ID, e.vars["{id}"]) })
	e.vars["{vtoken}"] = p.Token
}

// wantToken checks that the body is a JSON string holding an access token
// of a live session of the user at email.
func wantToken(email string) func(*testing.T, *env, *httptest.ResponseRecorder) {
	return func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
		var tok string
		if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || strings.Count(tok, ".") != 2 {
			t.Fatalf("body: got %s, want a JWT as a JSON string", rec.Body)
		}
		u, claims, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, tok)
		if err != nil || u.Email != email || claims.TenantID != e.Tenant.ID {
			t.Errorf("Authenticate(the token): got %q in %q, %v; want %s in %s", u.Email, claims.TenantID, err, email, e.Tenant.ID)
		}
	}
}

// wantLogin checks whether ann can log in with pw.
func wantLogin(pw string, want bool) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		_, err := e.Service.Login(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", pw)
		if got := err == nil; got != want {
			t.Errorf("Login(%q): got %v, want success %t", pw, err, want)
		}
	}
}

// wantSession checks whether {token} is still accepted.
func wantSession(want bool) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		_, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, e.vars["{token}"])
		if got := err == nil; got != want {
			t.Errorf("Authenticate({token}): got %v, want success %t", err, want)
		}
	}
}

func TestRegister(t *testing.T) {
	run(t, []scenario{
		{
			name: "register", method: "POST", path: "/register", header: key, body: ann,
			status: http.StatusOK, wantHeader: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
			check:    wantToken("ann@example.com"),
			wantMail: []mail{{Kind: usher.MailVerify, To: "ann@example.com"}},
		},
		{
			name: "register with the key in ?sbpk= and an accountId", method: "POST", path: "/register?sbpk={pk}",
			body: `{"email":"ann@example.com","password":"` + annPassword + `","accountId":42}`, status: http.StatusOK,
			check: wantToken("ann@example.com"), wantMail: []mail{{Kind: usher.MailVerify, To: "ann@example.com"}},
		},
		{name: "invalid email", method: "POST", path: "/register", header: key, body: `{"email":"ann","password":"` + annPassword + `"}`, status: 400, wantCode: usher.InvalidEmail},
		{name: "invalid password", method: "POST", path: "/register", header: key, body: `{"email":"ann@example.com","password":"short"}`, status: 400, wantCode: usher.InvalidPassword},
		{name: "a password shaped like a hash", method: "POST", path: "/register", header: key, body: `{"email":"ann@example.com","password":"$2b$10$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012"}`, status: 400, wantCode: usher.InvalidPassword},
		{name: "invalid JSON", method: "POST", path: "/register", header: key, body: `{"email"`, status: 400, wantCode: usher.InvalidJSON},
		{name: "unknown field", method: "POST", path: "/register", header: key, body: `{"email":"ann@example.com","password":"` + annPassword + `","role":1}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "another Content-Type", method: "POST", path: "/register", header: map[string]string{"SB-PUBLIC-KEY": "{pk}", "Content-Type": "text/plain"}, body: ann, status: http.StatusUnsupportedMediaType, wantCode: usher.MediaType},
		{name: "body over 1 MiB", method: "POST", path: "/register", header: key, body: `{"email":"` + strings.Repeat("a", 1<<20) + `"}`, status: http.StatusRequestEntityTooLarge, wantCode: usher.TooLarge},
		{name: "email taken", setup: withAnn(nil), method: "POST", path: "/register", header: key, body: `{"email":"ANN@example.com","password":"` + newPassword + `"}`, status: http.StatusConflict, wantCode: usher.EmailTaken},
		{name: "without SB-PUBLIC-KEY", method: "POST", path: "/register", body: ann, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{name: "unknown SB-PUBLIC-KEY", method: "POST", path: "/register", header: map[string]string{"SB-PUBLIC-KEY": "pk_unknown"}, body: ann, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{name: "unknown ?sbpk=", method: "POST", path: "/register?sbpk=pk_unknown", body: ann, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{name: "SB-PUBLIC-KEY outside the key alphabet", method: "POST", path: "/register", header: map[string]string{"SB-PUBLIC-KEY": "{pk}' OR 1=1"}, body: ann, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{name: "SB-PUBLIC-KEY over 256 bytes", method: "POST", path: "/register", header: map[string]string{"SB-PUBLIC-KEY": strings.Repeat("k", 257)}, body: ann, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
	})
}

func TestLogin(t *testing.T) {
	run(t, []scenario{
		{name: "login", setup: withAnn(nil), method: "POST", path: "/login", header: key, body: ann, status: http.StatusOK, check: wantToken("ann@example.com")},
		{
			name: "login in another case, with an accountId", setup: withAnn(nil), method: "POST", path: "/login", header: key,
			body: `{"email":"Ann@Example.COM","password":"` + annPassword + `","accountId":"x"}`, status: http.StatusOK, check: wantToken("ann@example.com"),
		},
		{name: "unknown email", setup: withAnn(nil), method: "POST", path: "/login", header: key, body: `{"email":"bob@example.com","password":"` + annPassword + `"}`, status: http.StatusUnauthorized, wantBody: badLogin},
		{name: "wrong password", setup: withAnn(nil), method: "POST", path: "/login", header: key, body: `{"email":"ann@example.com","password":"` + newPassword + `"}`, status: http.StatusUnauthorized, wantBody: badLogin},
		{name: "disabled", setup: withAnn(disabled), method: "POST", path: "/login", header: key, body: ann, status: http.StatusUnauthorized, wantBody: badLogin},
		{
			name: "locked after 10 failures", method: "POST", path: "/login", header: key, body: ann, status: http.StatusUnauthorized, wantBody: badLogin,
			setup: func(t *testing.T, e *env) {
				withAnn(nil)(t, e)
				for range 10 {
					if _, err := e.Service.Login(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", newPassword); usher.ErrorCode(err) != usher.Unauthorized {
						t.Fatalf("a wrong login: got %v", err)
					}
				}
			},
		},
		{name: "invalid email", setup: withAnn(nil), method: "POST", path: "/login", header: key, body: `{"email":"ann","password":"` + annPassword + `"}`, status: http.StatusUnauthorized, wantBody: badLogin},
		{name: "invalid JSON", method: "POST", path: "/login", header: key, body: `{`, status: 400, wantCode: usher.InvalidJSON},
		// Refused before any work, the same for every account (the README
		// lists only 401 for /login).
		{name: "a password over the policy's length", setup: withAnn(nil), method: "POST", path: "/login", header: key, body: `{"email":"ann@example.com","password":"` + strings.Repeat("x", 129) + `"}`, status: 400, wantCode: usher.InvalidPassword},
		{name: "hashing at capacity", setup: withAnn(nil), busy: true, method: "POST", path: "/login", header: key, body: ann, status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantCode: usher.Overloaded},
		{name: "database unreachable", setup: withAnn(nil), down: true, method: "POST", path: "/login", header: key, body: ann, status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantCode: usher.Unavailable},
		{name: "without SB-PUBLIC-KEY", setup: withAnn(nil), method: "POST", path: "/login", body: ann, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{name: "unknown SB-PUBLIC-KEY", setup: withAnn(nil), method: "POST", path: "/login", header: map[string]string{"SB-PUBLIC-KEY": "nope"}, body: ann, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
	})
}

func TestSession(t *testing.T) {
	challenge := map[string]string{"WWW-Authenticate": `Bearer realm="usher"`}
	logout := func(t *testing.T, e *env) {
		loggedIn(t, e)
		if rec := e.do(t, "POST", "/logout", bearer, ""); rec.Code != http.StatusNoContent {
			t.Fatalf("logout: got %d %s", rec.Code, rec.Body)
		}
	}
	run(t, []scenario{
		{
			name: "me", setup: loggedIn, method: "GET", path: "/me", header: bearer, status: http.StatusOK,
			wantHeader: map[string]string{"Cache-Control": "no-store"},
			wantBody:   meBody,
		},
		{name: "me without a token", setup: loggedIn, method: "GET", path: "/me", header: key, status: http.StatusUnauthorized, wantHeader: challenge, wantCode: usher.Unauthorized},
		{
			name: "me with a bad token", setup: loggedIn, method: "GET", path: "/me",
			header: map[string]string{"SB-PUBLIC-KEY": "{pk}", "Authorization": "Bearer {token}x"}, status: http.StatusUnauthorized, wantHeader: challenge, wantCode: usher.Unauthorized,
		},
		{
			name: "me with another scheme", setup: loggedIn, method: "GET", path: "/me",
			header: map[string]string{"SB-PUBLIC-KEY": "{pk}", "Authorization": "Basic {token}"}, status: http.StatusUnauthorized, wantHeader: challenge, wantCode: usher.Unauthorized,
		},
		{
			name: "me after the session expired", method: "GET", path: "/me", header: bearer, status: http.StatusUnauthorized, wantHeader: challenge, wantCode: usher.Unauthorized,
			setup: func(t *testing.T, e *env) { loggedIn(t, e); e.Clock.Advance(time.Hour) },
		},
		{name: "me after logout", setup: logout, method: "GET", path: "/me", header: bearer, status: http.StatusUnauthorized, wantHeader: challenge, wantCode: usher.Unauthorized},
		{
			name: "me when disabled", method: "GET", path: "/me", header: bearer, status: http.StatusUnauthorized, wantHeader: challenge, wantCode: usher.Unauthorized,
			setup: func(t *testing.T, e *env) {
				loggedIn(t, e)
				if err := e.Service.SetEnabled(t.Context(), e.Tenant.ID, e.vars["{id}"], false); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "me without SB-PUBLIC-KEY", setup: loggedIn, method: "GET", path: "/me", header: map[string]string{"Authorization": "Bearer {token}"},
			status: http.StatusUnauthorized, wantHeader: challenge, wantCode: usher.Unauthorized,
		},
		{name: "logout", setup: loggedIn, method: "POST", path: "/logout", header: bearer, status: http.StatusNoContent, after: wantSession(false)},
		{name: "logout without a token", setup: loggedIn, method: "POST", path: "/logout", header: key, status: http.StatusUnauthorized, wantHeader: challenge, wantCode: usher.Unauthorized, after: wantSession(true)},
		{name: "logout twice", setup: logout, method: "POST", path: "/logout", header: bearer, status: http.StatusUnauthorized, wantHeader: challenge, wantCode: usher.Unauthorized},
	})
}

func TestPasswordReset(t *testing.T) {
	reset := func(code, pw string) string {
		return `{"email":"ann@example.com","code":"` + code + `","password":"` + pw + `"}`
	}
	run(t, []scenario{
		{
			name: "send", setup: withAnn(nil), method: "POST", path: "/password/send", header: key, body: `{"email":"ann@example.com"}`,
			status: http.StatusOK, wantBody: `true`, wantMail: []mail{{Kind: usher.MailReset, To: "ann@example.com"}},
		},
		{name: "send to an unknown address", setup: withAnn(nil), method: "POST", path: "/password/send", header: key, body: `{"email":"bob@example.com"}`, status: http.StatusOK, wantBody: `true`},
		{name: "send to a disabled user", setup: withAnn(disabled), method: "POST", path: "/password/send", header: key, body: `{"email":"ann@example.com"}`, status: http.StatusOK, wantBody: `true`},
		{name: "send to an invalid address", method: "POST", path: "/password/send", header: key, body: `{"email":"ann"}`, status: 400, wantCode: usher.InvalidEmail},
		{name: "send with an unknown field", method: "POST", path: "/password/send", header: key, body: `{"email":"ann@example.com","x":1}`, status: 400, wantCode: usher.InvalidJSON},
		{
			name: "send past the per-address limit", method: "POST", path: "/password/send", header: key, body: `{"email":"ann@example.com"}`,
			status: http.StatusTooManyRequests, wantHeader: map[string]string{"Retry-After": "3600"}, wantCode: usher.RateLimited,
			setup: func(t *testing.T, e *env) {
				withAnn(nil)(t, e)
				for range 5 {
					if err := e.Service.SendReset(apitest.Ctx(t), e.Tenant.ID, "ann@example.com"); err != nil {
						t.Fatal(err)
					}
				}
			},
		},
		{name: "send without SB-PUBLIC-KEY", setup: withAnn(nil), method: "POST", path: "/password/send", body: `{"email":"ann@example.com"}`, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{
			name: "reset", setup: withResetCode, method: "POST", path: "/password/reset", header: key, body: reset("{code}", newPassword),
			status: http.StatusOK, wantBody: `true`, wantMail: []mail{{Kind: usher.MailPasswordChanged, To: "ann@example.com"}},
			after: func(t *testing.T, e *env) {
				wantLogin(newPassword, true)(t, e)
				wantLogin(annPassword, false)(t, e)
				wantSession(false)(t, e)
			},
		},
		{
			name: "reset with a wrong code", setup: withResetCode, method: "POST", path: "/password/reset", header: key, body: reset("AAAAAAAAAA", newPassword),
			status: 400, wantCode: usher.InvalidCode, after: func(t *testing.T, e *env) { wantLogin(annPassword, true)(t, e); wantSession(true)(t, e) },
		},
		{
			name: "reset a used code", method: "POST", path: "/password/reset", header: key, body: reset("{code}", "third-Secret-1234"),
			status: 400, wantCode: usher.InvalidCode,
			setup: func(t *testing.T, e *env) {
				withResetCode(t, e)
				if err := e.Service.ResetPassword(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", e.vars["{code}"], newPassword); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "reset with an expired code", method: "POST", path: "/password/reset", header: key, body: reset("{code}", newPassword), status: 400, wantCode: usher.InvalidCode,
			setup: func(t *testing.T, e *env) { withResetCode(t, e); e.Clock.Advance(30 * time.Minute) },
		},
		{
			name: "reset with a code after 5 wrong tries", method: "POST", path: "/password/reset", header: key, body: reset("{code}", newPassword), status: 400, wantCode: usher.InvalidCode,
			setup: func(t *testing.T, e *env) {
				withResetCode(t, e)
				for range 5 {
					if err := e.Service.ResetPassword(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", "AAAAAAAAAA", newPassword); usher.ErrorCode(err) != usher.InvalidCode {
						t.Fatalf("a wrong code: got %v", err)
					}
				}
			},
		},
		{name: "reset for an unknown address", setup: withResetCode, method: "POST", path: "/password/reset", header: key, body: `{"email":"bob@example.com","code":"{code}","password":"` + newPassword + `"}`, status: 400, wantCode: usher.InvalidCode},
		{
			name: "reset to an invalid password", setup: withResetCode, method: "POST", path: "/password/reset", header: key, body: reset("{code}", "short"),
			status: 400, wantCode: usher.InvalidPassword, after: wantLogin(annPassword, true),
		},
		{name: "reset without SB-PUBLIC-KEY", setup: withResetCode, method: "POST", path: "/password/reset", body: reset("{code}", newPassword), status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
	})
}

func TestVerify(t *testing.T) {
	// {unknown} is a well-formed tenant id that names no tenant.
	unknownTenant := func(t *testing.T, e *env) {
		withVerifyToken(t, e)
		e.vars["{unknown}"] = usher.NewID(e.Clock.Now())
	}
	verified := fmt.Sprintf(`{"id":"{id}","email":"ann@example.com","confirmed":true,"enabled":true,"data":{},"created_at":%q,"updated_at":%q}`, created, created)
	run(t, []scenario{
		{name: "json", setup: withVerifyToken, method: "GET", path: "/verify?email=ann@example.com&token={vtoken}&response_type=json", status: http.StatusOK, wantBody: verified},
		{name: "json by default, in another case", setup: withVerifyToken, method: "GET", path: "/verify?email=ANN@example.com&token={vtoken}", status: http.StatusOK, wantBody: verified},
		{
			name: "html", setup: withVerifyToken, method: "GET", path: "/verify?email=ann@example.com&token={vtoken}&response_type=html",
			status: http.StatusSeeOther, wantHeader: map[string]string{"Location": "/verify/success"},
			check: func(*testing.T, *env, *httptest.ResponseRecorder) {}, // the redirect's own short body
			after: func(t *testing.T, e *env) {
				u, err := e.Service.User(t.Context(), e.Tenant.ID, e.vars["{id}"])
				if err != nil || !u.Confirmed {
					t.Errorf("after the link: got confirmed %t (%v), want true", u.Confirmed, err)
				}
			},
		},
		{name: "missing token", setup: withVerifyToken, method: "GET", path: "/verify?email=ann@example.com", status: 400, wantCode: usher.Invalid},
		{name: "missing email", setup: withVerifyToken, method: "GET", path: "/verify?token={vtoken}", status: 400, wantCode: usher.Invalid},
		{name: "wrong token", setup: withVerifyToken, method: "GET", path: "/verify?email=ann@example.com&token=x{vtoken}", status: 400, wantCode: usher.InvalidCode},
		{
			name: "an expired token", method: "GET", path: "/verify?email=ann@example.com&token={vtoken}", status: 400, wantCode: usher.InvalidCode,
			setup: func(t *testing.T, e *env) { withVerifyToken(t, e); e.Clock.Advance(24 * time.Hour) },
		},
		{
			name: "a token voided by an email change", method: "GET", path: "/verify?email=ann@example.com&token={vtoken}", status: 400, wantCode: usher.InvalidCode,
			setup: func(t *testing.T, e *env) {
				withVerifyToken(t, e)
				for _, email := range []string{"ann@example.org", "ann@example.com"} {
					if err := e.Service.SetEmail(t.Context(), e.Tenant.ID, e.vars["{id}"], email); err != nil {
						t.Fatal(err)
					}
				}
			},
		},
		{name: "never sent", setup: withAnn(nil), method: "GET", path: "/verify?email=ann@example.com&token=abc", status: 400, wantCode: usher.InvalidCode},
		// An unknown address is answered as a wrong token: a link must not
		// tell who has an account.
		{name: "unknown email", setup: withVerifyToken, method: "GET", path: "/verify?email=bob@example.com&token={vtoken}", status: 400, wantCode: usher.InvalidCode},
		{name: "the default tenant named by the link", setup: withVerifyToken, method: "GET", path: "/verify?email=ann@example.com&token={vtoken}&tenant=" + usher.DefaultTenantID, status: http.StatusOK, wantBody: verified},
		{name: "an unknown tenant", setup: unknownTenant, method: "GET", path: "/verify?email=ann@example.com&token={vtoken}&tenant={unknown}", status: 400, wantCode: usher.InvalidCode},
		{name: "a malformed tenant", setup: withVerifyToken, method: "GET", path: "/verify?email=ann@example.com&token={vtoken}&tenant=default", status: 400, wantCode: usher.InvalidCode},
		{
			name: "success page", method: "GET", path: "/verify/success", status: http.StatusOK,
			wantHeader: map[string]string{"Content-Type": "text/html; charset=utf-8"},
			check: func(t *testing.T, _ *env, rec *httptest.ResponseRecorder) {
				if want := "<strong>Success!</strong> Your account has been verified."; !strings.Contains(rec.Body.String(), want) {
					t.Errorf("body: got %s, want it to hold %q", rec.Body, want)
				}
			},
		},
	})
}

func TestOpenRoutes(t *testing.T) {
	run(t, []scenario{
		{
			name: "jwks", method: "GET", path: "/.well-known/jwks.json", status: http.StatusOK,
			wantHeader: map[string]string{"Cache-Control": "public, max-age=300", "Content-Type": "application/json"},
			check: func(t *testing.T, _ *env, rec *httptest.ResponseRecorder) {
				var set struct {
					Keys []struct{ Kty, Crv, Alg, Kid, Use, X, D string }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 {
					t.Fatalf("body: got %s, want a key set of one key", rec.Body)
				}
				k := set.Keys[0]
				if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" || k.Kid == "" || k.X == "" || k.D != "" {
					t.Errorf("key: got %+v, want a public Ed25519 signing key with a kid", k)
				}
			},
		},
		{name: "health", method: "GET", path: "/healthz", status: http.StatusOK, wantBody: `{"status":"ok"}`},
		{name: "unknown path", method: "GET", path: "/nope", header: key, status: http.StatusNotFound, wantCode: usher.NotFound},
		{
			name: "method not allowed", method: "GET", path: "/login", header: key, status: http.StatusMethodNotAllowed,
			wantHeader: map[string]string{"Allow": "POST"}, wantCode: usher.MethodNotAllow,
		},
	})
}

func TestLimit(t *testing.T) {
	login := func(t *testing.T, e *env) {
		withAnn(nil)(t, e)
		if rec := e.do(t, "POST", "/login", key, ann); rec.Code != http.StatusOK {
			t.Fatalf("first login: got %d %s", rec.Code, rec.Body)
		}
	}
	limited := map[string]string{"Retry-After": "60"}
	run(t, []scenario{
		{name: "a second login within the minute", limited: true, setup: login, method: "POST", path: "/login", header: key, body: ann, status: http.StatusTooManyRequests, wantHeader: limited, wantCode: usher.RateLimited},
		{name: "the credential routes share the limit", limited: true, setup: login, method: "POST", path: "/password/send", header: key, body: `{"email":"ann@example.com"}`, status: http.StatusTooManyRequests, wantHeader: limited, wantCode: usher.RateLimited},
		{name: "register is limited", limited: true, setup: login, method: "POST", path: "/register", header: key, body: `{"email":"bob@example.com","password":"` + annPassword + `"}`, status: http.StatusTooManyRequests, wantHeader: limited, wantCode: usher.RateLimited},
		{name: "reset is limited", limited: true, setup: login, method: "POST", path: "/password/reset", header: key, body: `{"email":"ann@example.com","code":"AAAAAAAAAA","password":"` + newPassword + `"}`, status: http.StatusTooManyRequests, wantHeader: limited, wantCode: usher.RateLimited},
		{
			name: "the surface's limit", limitAll: true, method: "GET", path: "/.well-known/jwks.json", status: http.StatusTooManyRequests, wantHeader: limited, wantCode: usher.RateLimited,
			setup: func(t *testing.T, e *env) { e.do(t, "GET", "/verify/success", nil, "") },
		},
		{
			name: "the surface's limit counts unknown paths", limitAll: true, method: "GET", path: "/verify/success", status: http.StatusTooManyRequests, wantHeader: limited, wantCode: usher.RateLimited,
			setup: func(t *testing.T, e *env) { e.do(t, "GET", "/nope", nil, "") },
		},
		{
			name: "health checks are exempt from the surface's limit", limitAll: true, method: "GET", path: "/healthz", status: http.StatusOK, wantBody: `{"status":"ok"}`,
			setup: func(t *testing.T, e *env) {
				if rec := e.do(t, "GET", "/healthz", nil, ""); rec.Code != http.StatusOK {
					t.Fatalf("first health check: got %d", rec.Code)
				}
				if rec := e.do(t, "GET", "/verify/success", nil, ""); rec.Code != http.StatusOK {
					t.Fatalf("first other request: got %d", rec.Code)
				}
			},
		},
		{
			name: "a request refused by the guard is not counted", limited: true, method: "POST", path: "/login", header: key, body: ann, status: http.StatusOK, check: wantToken("ann@example.com"),
			setup: func(t *testing.T, e *env) {
				withAnn(nil)(t, e)
				if rec := e.do(t, "POST", "/login", nil, ann); rec.Code != http.StatusUnauthorized {
					t.Fatalf("login without a key: got %d %s", rec.Code, rec.Body)
				}
			},
		},
		{
			name: "other routes are not limited", limited: true, method: "GET", path: "/me", header: bearer, status: http.StatusOK, wantBody: meBody,
			setup: func(t *testing.T, e *env) {
				login(t, e)
				if rec := e.do(t, "POST", "/login", key, ann); rec.Code != http.StatusTooManyRequests {
					t.Fatalf("second login: got %d, want 429", rec.Code)
				}
				tok, err := e.Service.Login(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", annPassword)
				if err != nil {
					t.Fatal(err)
				}
				e.vars["{token}"] = tok
			},
		},
	})
}

// TestRouteTable fails when a route is added, dropped, guarded or limited
// otherwise than the scenarios above assume.
func TestRouteTable(t *testing.T) {
	want := []string{
		"POST /register tenant-key limited", "POST /login tenant-key limited", "POST /token tenant-key limited", "GET /me bearer", "POST /logout bearer",
		"PUT /me/password bearer limited", "PUT /me/email bearer limited", "DELETE /me bearer limited", "GET /me/sessions bearer", "DELETE /me/sessions/{id} bearer",
		"POST /me/mfa/totp bearer", "POST /me/mfa/totp/confirm bearer limited", "DELETE /me/mfa/totp bearer limited",
		"POST /me/mfa/recovery-codes bearer limited",
		"POST /password/send tenant-key limited", "POST /password/reset tenant-key limited",
		"GET /.well-known/jwks.json open", "GET /verify open", "GET /verify/success open", "GET /verify/email open", "GET /healthz open exempt",
	}
	var got []string
	for _, rt := range public.New(nil, "", nil, api.NewLimiter(1, time.Minute)).Routes() {
		s := rt.Pattern + " " + rt.Guard.Name
		if rt.Limit != nil {
			s += " limited"
		}
		if rt.Exempt {
			s += " exempt"
		}
		got = append(got, s)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
}
