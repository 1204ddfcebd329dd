package public_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api/apitest"
	mailtpl "github.com/usherhq/usher/internal/mail"
	"github.com/usherhq/usher/internal/usher"
)

// changeBody is PUT /me/email's body: ann's new address and her password.
func changeBody(email, pw string) string {
	return fmt.Sprintf(`{"email":%q,"password":%q}`, email, pw)
}

// withEmailChange is loggedIn, and a change of ann's address to
// ann@example.org asked: {etoken} is the token the new address got, and
// {elink} the path and query of the link in the email, as the mail
// package builds it.
func withEmailChange(t *testing.T, e *env) {
	loggedIn(t, e)
	if err := e.Service.RequestEmailChange(apitest.Ctx(t), e.Tenant.ID, e.vars["{id}"], "ann@example.org", annPassword); err != nil {
		t.Fatalf("RequestEmailChange: %v", err)
	}
	_, params := e.drain(t)
	for _, p := range params {
		if p.Token == "" {
			continue
		}
		tpl, err := mailtpl.LoadTemplates("", "https://auth.example.com", time.Hour, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		e.vars["{etoken}"] = p.Token
		e.vars["{elink}"] = strings.TrimPrefix(tpl.EmailChangeLink(p.Email, p.Token, p.Tenant), "https://auth.example.com")
		return
	}
	t.Fatalf("no email-change link among %d emails", len(params))
}

// wantAnn checks ann's stored address and confirmed flag.
func wantAnn(email string, confirmed bool) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		u, err := e.Service.User(t.Context(), e.Tenant.ID, e.vars["{id}"])
		if err != nil || u.Email != email || u.Confirmed != confirmed {
			t.Errorf("ann: got %q confirmed %t (%v), want %q confirmed %t", u.Email, u.Confirmed, err, email, confirmed)
		}
	}
}

// all runs each check.
func all(checks ...func(*testing.T, *env)) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		for _, c := range checks {
			c(t, e)
		}
	}
}

func TestChangeEmail(t *testing.T) {
	withBob := func(t *testing.T, e *env) {
		loggedIn(t, e)
		if _, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "bob@example.org", Password: newPassword, Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	failures := func(want int) func(*testing.T, *env) {
		return func(t *testing.T, e *env) {
			u, err := e.Service.User(t.Context(), e.Tenant.ID, e.vars["{id}"])
			if err != nil || u.FailedChecks != want {
				t.Errorf("failed checks: got %d (%v), want %d", u.FailedChecks, err, want)
			}
		}
	}
	unchanged := all(wantAnn("ann@example.com", false), wantSession(true))
	run(t, []scenario{
		{
			name: "request", setup: loggedIn, method: "PUT", path: "/me/email", header: bearer, body: changeBody("Ann@Example.org", annPassword),
			status: http.StatusAccepted,
			wantMail: []mail{
				{Kind: usher.MailEmailChange, To: "Ann@Example.org"},
				{Kind: usher.MailEmailChangeRequested, To: "ann@example.com"},
			},
			after: all(unchanged, failures(0)),
		},
		{
			name: "wrong password", setup: loggedIn, method: "PUT", path: "/me/email", header: bearer, body: changeBody("ann@example.org", newPassword),
			status: http.StatusBadRequest, wantCode: usher.InvalidPassword, after: all(unchanged, failures(1)),
		},
		{
			name: "taken address", setup: withBob, method: "PUT", path: "/me/email", header: bearer, body: changeBody("BOB@example.org", annPassword),
			status: http.StatusConflict, wantCode: usher.EmailTaken, after: all(unchanged, failures(0)),
		},
		{
			name: "taken address, wrong password", setup: withBob, method: "PUT", path: "/me/email", header: bearer, body: changeBody("bob@example.org", newPassword),
			status: http.StatusBadRequest, wantCode: usher.InvalidPassword, after: all(unchanged, failures(1)),
		},
		{
			name: "the same address", setup: loggedIn, method: "PUT", path: "/me/email", header: bearer, body: changeBody("ANN@example.com", annPassword),
			status: http.StatusBadRequest, wantCode: usher.InvalidEmail, after: unchanged,
		},
		{
			name: "invalid address", setup: loggedIn, method: "PUT", path: "/me/email", header: bearer, body: changeBody("ann at example.org", annPassword),
			status: http.StatusBadRequest, wantCode: usher.InvalidEmail, after: unchanged,
		},
		{
			name: "unknown field", setup: loggedIn, method: "PUT", path: "/me/email", header: bearer,
			body:   `{"email":"ann@example.org","password":"` + annPassword + `","confirmed":true}`,
			status: http.StatusBadRequest, wantCode: usher.InvalidJSON, after: unchanged,
		},
		{
			name: "without a token", setup: loggedIn, method: "PUT", path: "/me/email", header: key, body: changeBody("ann@example.org", annPassword),
			status: http.StatusUnauthorized, wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="usher"`}, wantCode: usher.Unauthorized,
			after: unchanged,
		},
	})
}

func TestApplyEmailChange(t *testing.T) {
	changed := fmt.Sprintf(`{"id":"{id}","email":"ann@example.org","confirmed":true,"enabled":true,"data":{},"created_at":%q,"updated_at":%q}`, created, created)
	applied := all(wantAnn("ann@example.org", true), wantSession(false), func(t *testing.T, e *env) {
		if _, err := e.Service.Login(apitest.Ctx(t), e.Tenant.ID, "ann@example.org", annPassword); err != nil {
			t.Errorf("login at the new address: %v", err)
		}
	})
	unchanged := all(wantAnn("ann@example.com", false), wantSession(true))
	applyTwice := func(t *testing.T, e *env) {
		withEmailChange(t, e)
		if rec := e.do(t, "GET", "{elink}", nil, ""); rec.Code != http.StatusSeeOther {
			t.Fatalf("the link: got %d %s", rec.Code, rec.Body)
		}
	}
	run(t, []scenario{
		{
			name: "the link in the email", setup: withEmailChange, method: "GET", path: "{elink}",
			status: http.StatusSeeOther, wantHeader: map[string]string{"Location": "/verify/success"},
			check: func(*testing.T, *env, *httptest.ResponseRecorder) {}, // the redirect's own short body
			after: applied,
		},
		{
			name: "json", setup: withEmailChange, method: "GET", path: "/verify/email?email=ann@example.org&token={etoken}&response_type=json",
			status: http.StatusOK, wantBody: changed, after: applied,
		},
		{
			name: "json by default, the address in another case", setup: withEmailChange, method: "GET", path: "/verify/email?email=ANN@example.org&token={etoken}",
			status: http.StatusOK, wantBody: changed, after: applied,
		},
		{
			name: "the default tenant named by the link", setup: withEmailChange, method: "GET",
			path:   "/verify/email?email=ann@example.org&token={etoken}&tenant=" + usher.DefaultTenantID,
			status: http.StatusOK, wantBody: changed, after: applied,
		},
		{
			name: "used", setup: applyTwice, method: "GET", path: "{elink}",
			status: http.StatusBadRequest, wantCode: usher.InvalidCode, after: wantAnn("ann@example.org", true),
		},
		{
			name: "wrong token", setup: withEmailChange, method: "GET", path: "/verify/email?email=ann@example.org&token={etoken}x",
			status: http.StatusBadRequest, wantCode: usher.InvalidCode, after: unchanged,
		},
		{
			name: "a verification token", method: "GET", path: "/verify/email?email=ann@example.com&token={vtoken}",
			setup:  func(t *testing.T, e *env) { withVerifyToken(t, e); loggedInAgain(t, e) },
			status: http.StatusBadRequest, wantCode: usher.InvalidCode, after: unchanged,
		},
		{
			name: "another address", setup: withEmailChange, method: "GET", path: "/verify/email?email=eve@example.org&token={etoken}",
			status: http.StatusBadRequest, wantCode: usher.InvalidCode, after: unchanged,
		},
		{
			name: "expired", method: "GET", path: "{elink}", status: http.StatusBadRequest, wantCode: usher.InvalidCode,
			setup: func(t *testing.T, e *env) { withEmailChange(t, e); e.Clock.Advance(24 * time.Hour) },
			after: wantAnn("ann@example.com", false),
		},
		{
			name: "the address taken meanwhile", method: "GET", path: "{elink}", status: http.StatusConflict, wantCode: usher.EmailTaken,
			setup: func(t *testing.T, e *env) {
				withEmailChange(t, e)
				if _, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "ann@example.org", Password: newPassword, Enabled: true}); err != nil {
					t.Fatal(err)
				}
			},
			after: unchanged,
		},
		{
			name: "an unknown tenant", method: "GET", path: "/verify/email?email=ann@example.org&token={etoken}&tenant={unknown}",
			setup: func(t *testing.T, e *env) {
				withEmailChange(t, e)
				e.vars["{unknown}"] = usher.NewID(e.Clock.Now())
			},
			status: http.StatusBadRequest, wantCode: usher.InvalidCode, after: unchanged,
		},
		{
			name: "a malformed tenant", setup: withEmailChange, method: "GET", path: "/verify/email?email=ann@example.org&token={etoken}&tenant=default",
			status: http.StatusBadRequest, wantCode: usher.InvalidCode, after: unchanged,
		},
		{name: "missing token", setup: withEmailChange, method: "GET", path: "/verify/email?email=ann@example.org", status: 400, wantCode: usher.Invalid, after: unchanged},
		{name: "missing email", setup: withEmailChange, method: "GET", path: "/verify/email?token={etoken}", status: 400, wantCode: usher.Invalid, after: unchanged},
	})
}

// loggedInAgain logs ann in: {token} is her access token.
func loggedInAgain(t *testing.T, e *env) {
	tok, err := e.Service.Login(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", annPassword)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	e.vars["{token}"] = tok
}
