package thunder_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/usher"
)

// wantVerified checks the stored confirmed flag of sam@example.com.
func wantVerified(want bool) func(*testing.T, *env, *httptest.ResponseRecorder) {
	return func(t *testing.T, e *env, _ *httptest.ResponseRecorder) {
		rec, err := e.Service.ReadUser(apitest.Ctx(t), e.Tenant.ID, account.Access{Email: "sam@example.com"})
		if err != nil || rec.Confirmed != want {
			t.Errorf("stored verified: got %t (%v), want %t", rec.Confirmed, err, want)
		}
	}
}

func TestSendVerification(t *testing.T) {
	run(t, []scenario{
		{
			name: "send", setup: withSam(confirmed), method: "POST", path: "/verify?email=sam@example.com", header: withPw,
			status: http.StatusOK, wantJSON: tuser("sam@example.com", false, true, `,"plan":"pro"`),
			wantMail: []mail{{Kind: usher.MailVerify, To: "sam@example.com"}},
			after: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				var u struct {
					Email struct{ VerificationToken string }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &u); err != nil || len(e.sent) != 1 || u.Email.VerificationToken != e.sent[0].Token {
					t.Errorf("token: got %q in the body, emails %+v; want the emailed token", u.Email.VerificationToken, e.sent)
				}
				wantVerified(false)(t, e, rec)
			},
		},
		{
			name: "send again voids the previous token", setup: withSamToken(nil), method: "POST", path: "/verify?email=sam@example.com", header: withPw,
			status: http.StatusOK, wantJSON: tuser("sam@example.com", false, true, `,"plan":"pro"`),
			wantMail: []mail{{Kind: usher.MailVerify, To: "sam@example.com"}},
			after: func(t *testing.T, e *env, _ *httptest.ResponseRecorder) {
				if _, err := e.Service.VerifyEmail(t.Context(), e.Tenant.ID, "sam@example.com", e.vars["{vtoken}"]); usher.ErrorCode(err) != usher.InvalidCode {
					t.Errorf("VerifyEmail(the previous token): got %v, want invalid_code", err)
				}
			},
		},
		{name: "unknown user", setup: withSam(nil), method: "POST", path: "/verify?email=bob@example.com", header: withPw, status: http.StatusNotFound, wantText: "User not found in the database. (User: bob@example.com)"},
		{name: "a wrong password", setup: withSam(nil), method: "POST", path: "/verify?email=sam@example.com", header: with(auth, "password", newPassword), status: http.StatusUnauthorized, wantText: "Unable to validate user with provided credentials. (User: sam@example.com)"},
		{name: "without the password header", setup: withSam(nil), method: "POST", path: "/verify?email=sam@example.com", header: auth, status: 400, wantText: "Credentials are required to access this resource. (User: sam@example.com)"},
		{name: "without the email parameter", setup: withSam(nil), method: "POST", path: "/verify", header: withPw, status: 400, wantText: "Incorrect or missing email query parameter. (User: null)"},
		{name: "without credentials", setup: withSam(nil), method: "POST", path: "/verify?email=sam@example.com", header: with(withPw, "Authorization", ""), status: http.StatusUnauthorized, wantHeader: challenge, wantText: noCredentials},
	})
}

func TestResetVerification(t *testing.T) {
	run(t, []scenario{
		{
			name: "reset", setup: withSamToken(confirmed), method: "POST", path: "/verify/reset?email=sam@example.com", header: withPw,
			status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, `,"plan":"pro"`),
			after: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				if _, err := e.Service.VerifyEmail(t.Context(), e.Tenant.ID, "sam@example.com", e.vars["{vtoken}"]); usher.ErrorCode(err) != usher.InvalidCode {
					t.Errorf("VerifyEmail(the voided token): got %v, want invalid_code", err)
				}
			},
		},
		{name: "unknown user", setup: withSam(nil), method: "POST", path: "/verify/reset?email=bob@example.com", header: withPw, status: http.StatusNotFound, wantText: "User not found in the database. (User: bob@example.com)"},
		{name: "a wrong password", setup: withSam(confirmed), method: "POST", path: "/verify/reset?email=sam@example.com", header: with(auth, "password", newPassword), status: http.StatusUnauthorized, wantText: "Unable to validate user with provided credentials. (User: sam@example.com)", after: wantVerified(true)},
		{name: "without the password header", setup: withSam(nil), method: "POST", path: "/verify/reset?email=sam@example.com", header: auth, status: 400, wantText: "Credentials are required to access this resource. (User: sam@example.com)"},
		{name: "without credentials", setup: withSam(confirmed), method: "POST", path: "/verify/reset?email=sam@example.com", header: with(withPw, "Authorization", ""), status: http.StatusUnauthorized, wantHeader: challenge, wantText: noCredentials, after: wantVerified(true)},
	})
}

func TestVerifyLink(t *testing.T) {
	run(t, []scenario{
		{
			name: "json", setup: withSamToken(nil), method: "GET", path: "/verify?email=sam@example.com&token={vtoken}&response_type=json",
			status: http.StatusOK, wantJSON: linkUser("sam@example.com", true, true, `,"plan":"pro"`), after: wantVerified(true),
		},
		{
			name: "a second use succeeds again", setup: func(t *testing.T, e *env) {
				withSamToken(nil)(t, e)
				if _, err := e.Service.VerifyEmail(t.Context(), e.Tenant.ID, "sam@example.com", e.vars["{vtoken}"]); err != nil {
					t.Fatal(err)
				}
			},
			method: "GET", path: "/verify?email=sam@example.com&token={vtoken}", status: http.StatusOK, wantJSON: linkUser("sam@example.com", true, true, `,"plan":"pro"`),
		},
		{
			name: "html", setup: withSamToken(nil), method: "GET", path: "/verify?email=sam@example.com&token={vtoken}&response_type=HTML",
			status: http.StatusSeeOther, wantHeader: map[string]string{"Location": "/verify/success"}, after: wantVerified(true),
		},
		{name: "without the email parameter", setup: withSamToken(nil), method: "GET", path: "/verify?token={vtoken}", status: 400, wantText: "Incorrect or missing email query parameter. (User: null)"},
		{name: "a blank email parameter", setup: withSamToken(nil), method: "GET", path: "/verify?email=%20&token={vtoken}", status: 400, wantText: "Incorrect or missing email query parameter. (User:  )"},
		{name: "without the token parameter", setup: withSamToken(nil), method: "GET", path: "/verify?email=sam@example.com", status: 400, wantText: "Incorrect or missing verification token query parameter. (User: sam@example.com)", after: wantVerified(false)},
		{name: "a wrong token", setup: withSamToken(nil), method: "GET", path: "/verify?email=sam@example.com&token=x{vtoken}", status: 400, wantText: "Incorrect verification token. (User: sam@example.com)", after: wantVerified(false)},
		{name: "no token sent", setup: withSam(nil), method: "GET", path: "/verify?email=sam@example.com&token=abc", status: 400, wantText: "Incorrect verification token. (User: sam@example.com)"},
		{name: "unknown user", setup: withSamToken(nil), method: "GET", path: "/verify?email=bob@example.com&token={vtoken}", status: http.StatusNotFound, wantText: "User not found in the database. (User: bob@example.com)"},
		{name: "an invalid email parameter", setup: withSamToken(nil), method: "GET", path: "/verify?email=sam&token={vtoken}", status: 400, wantText: "Incorrect or missing email query parameter. (User: sam)"},
		{
			name: "success page", method: "GET", path: "/verify/success", status: http.StatusOK,
			wantHeader: map[string]string{"Content-Type": "text/html; charset=utf-8"},
			after: func(t *testing.T, _ *env, rec *httptest.ResponseRecorder) {
				if want := "<strong>Success!</strong> Your account has been verified."; !strings.Contains(rec.Body.String(), want) {
					t.Errorf("body: got %s, want it to hold %q", rec.Body, want)
				}
			},
		},
	})
}
