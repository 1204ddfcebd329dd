package thunder_test

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/api/thunder"
)

const (
	samPassword = "first-Secret-8451"
	newPassword = "second-Secret-9362"
	// noCredentials is the Basic challenge's body: the message alone.
	noCredentials = "Credentials are required to access this resource."
)

var (
	// auth are the headers of an application's call; withPw adds sam's
	// password.
	auth   = map[string]string{"Authorization": basic("app", "s3cret"), "Content-Type": "application/json"}
	withPw = with(auth, "password", samPassword)
	sam    = `{"email":{"address":"sam@example.com"},"password":"` + samPassword + `","plan":"pro"}`
	// challenge is the answer to a call without valid application credentials.
	challenge = map[string]string{"WWW-Authenticate": `Basic realm="THUNDER - AUTHENTICATION"`}
)

func basic(name, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+secret))
}

// with returns h with more headers (an empty value removes one).
func with(h map[string]string, kv ...string) map[string]string {
	out := maps.Clone(h)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// tuser is the Thunder JSON of a user made at the clock's time, with its
// hash as "<hash>"; props are its custom properties, each with a leading
// comma.
func tuser(email string, verified, token bool, props string) string {
	tok := "null"
	if token {
		tok = `"<token>"`
	}
	ms := start.UnixMilli()
	return fmt.Sprintf(`{"email":{"address":%q,"verified":%t,"verificationToken":%s},"password":"<hash>"%s,"creationTime":%d,"lastUpdateTime":%d}`,
		email, verified, tok, props, ms, ms)
}

// linkUser is tuser as the unauthenticated verification link answers it:
// without the password hash.
func linkUser(email string, verified, token bool, props string) string {
	return strings.Replace(tuser(email, verified, token, props), `"password":"<hash>"`, `"password":null`, 1)
}

// withSam creates sam@example.com ({id}), with the property plan "pro",
// changed by mod before creation.
func withSam(mod func(*account.NewUser)) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		in := account.NewUser{Email: "sam@example.com", Password: samPassword, Enabled: true, Data: []byte(`{"plan":"pro"}`)}
		if mod != nil {
			mod(&in)
		}
		u, err := e.Service.Create(t.Context(), e.Tenant.ID, in)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		e.vars["{id}"], e.vars["{hash}"] = u.ID, u.Hash
	}
}

func confirmed(in *account.NewUser) { in.Confirmed = true }

// withSamToken is withSam with a verification link sent: {vtoken}.
func withSamToken(mod func(*account.NewUser)) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		withSam(mod)(t, e)
		rec, err := e.Service.RequestVerification(t.Context(), e.Tenant.ID, account.Access{Email: "sam@example.com"})
		if err != nil {
			t.Fatalf("RequestVerification: %v", err)
		}
		e.vars["{vtoken}"] = rec.VerifyToken
	}
}

func withSamAndBob(t *testing.T, e *env) {
	if _, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "bob@example.com", Password: newPassword, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	withSam(nil)(t, e)
}

// wantUser checks whether the user at email exists and, if pw is set,
// whether pw is its password.
func wantUser(email, pw string, want bool) func(*testing.T, *env, *httptest.ResponseRecorder) {
	return func(t *testing.T, e *env, _ *httptest.ResponseRecorder) {
		_, err := e.Service.ReadUser(apitest.Ctx(t), e.Tenant.ID, account.Access{Email: email, Password: pw, Check: pw != ""})
		if got := err == nil; got != want {
			t.Errorf("ReadUser(%s, %q): got %v, want success %t", email, pw, err, want)
		}
	}
}

func TestCreate(t *testing.T) {
	run(t, []scenario{
		{
			name: "create", method: "POST", path: "/users", header: auth,
			body:   `{"email":{"address":"sam@example.com"},"password":"` + samPassword + `","zeta":1,"plan":"pro","alpha":{"b":[true,null]}}`,
			status: http.StatusCreated, wantJSON: tuser("sam@example.com", false, false, `,"zeta":1,"plan":"pro","alpha":{"b":[true,null]}`),
			after: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				body := rec.Body.String()
				if !(strings.Index(body, `"zeta"`) < strings.Index(body, `"plan"`) && strings.Index(body, `"plan"`) < strings.Index(body, `"alpha"`)) {
					t.Errorf("body %s: want the properties in the order sent", body)
				}
				wantUser("sam@example.com", samPassword, true)(t, e, rec)
			},
		},
		{
			name: "verified, a token and times in the body are ignored", method: "POST", path: "/users", header: auth,
			body:   `{"email":{"address":"sam@example.com","verified":true,"verificationToken":"x"},"password":"` + samPassword + `","creationTime":1,"lastUpdateTime":2}`,
			status: http.StatusCreated, wantJSON: tuser("sam@example.com", false, false, ""),
		},
		{name: "a property named as a user field in another case", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"},"password":"` + samPassword + `","creationtime":1}`, status: 400, wantText: "Cannot post a user with invalid properties. (User: sam@example.com)"},
		{name: "case-variant keys", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"},"password":"` + samPassword + `","Password":"x"}`, status: 400, wantText: "Unable to process JSON. (User: null)"},
		{name: "null user", method: "POST", path: "/users", header: auth, body: `null`, status: 400, wantText: "Cannot post a null user. (User: null)"},
		{name: "no body", method: "POST", path: "/users", header: auth, status: 400, wantText: "Cannot post a null user. (User: null)"},
		{name: "no email", method: "POST", path: "/users", header: auth, body: `{"password":"` + samPassword + `"}`, status: 400, wantText: "Cannot post a user without an email address. (User: null)"},
		{name: "null email", method: "POST", path: "/users", header: auth, body: `{"email":null,"password":"` + samPassword + `"}`, status: 400, wantText: "Cannot post a user without an email address. (User: null)"},
		{name: "empty address", method: "POST", path: "/users", header: auth, body: `{"email":{"address":""},"password":"` + samPassword + `"}`, status: 400, wantText: "Cannot post a user without an email address. (User: null)"},
		{name: "email as a string", method: "POST", path: "/users", header: auth, body: `{"email":"sam@example.com","password":"` + samPassword + `"}`, status: 400, wantText: "Cannot post a user without an email address. (User: null)"},
		{name: "invalid email", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"not-an-email"},"password":"` + samPassword + `"}`, status: 400, wantText: "Invalid email address format. Please try again. (User: not-an-email)"},
		{name: "invalid email and no password", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"not-an-email"}}`, status: 400, wantText: "Invalid email address format. Please try again. (User: not-an-email)"},
		{name: "no password", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"}}`, status: 400, wantText: "Cannot post a user without a password. (User: sam@example.com)"},
		{name: "empty password", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"},"password":""}`, status: 400, wantText: "Cannot post a user without a password. (User: sam@example.com)"},
		{name: "password not a string", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"},"password":12345678}`, status: 400, wantText: "Unable to process JSON. (User: sam@example.com)"},
		{
			name: "invalid password", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"},"password":"short"}`,
			status: 400, wantText: "Cannot post a user with an invalid password: Password must be at least 8 characters long. (User: sam@example.com)",
		},
		{
			name: "a password shaped like a hash", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"},"password":"$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g"}`,
			status: 400, wantText: "Cannot post a user with an invalid password: A password hash cannot be a password; send the password itself. (User: sam@example.com)",
		},
		{name: "email taken", setup: withSam(nil), method: "POST", path: "/users", header: auth, body: strings.Replace(sam, "sam@", "SAM@", 1), status: http.StatusConflict, wantText: "A user with the same email address already exists. (User: SAM@example.com)"},
		{name: "invalid JSON", method: "POST", path: "/users", header: auth, body: `{"email":`, status: 400, wantText: "Unable to process JSON. (User: null)"},
		{name: "an array", method: "POST", path: "/users", header: auth, body: `[` + sam + `]`, status: 400, wantText: "Unable to process JSON. (User: null)"},
		{name: "duplicate keys", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"},"password":"` + samPassword + `","plan":1,"plan":2}`, status: 400, wantText: "Unable to process JSON. (User: null)"},
		{name: "a property too deep", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"},"password":"` + samPassword + `","p":` + nested(33) + `}`, status: 400, wantText: "Unable to process JSON. (User: null)"},
		// The properties are the body's top level, so their depth is the body's.
		{name: "the deepest properties", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"},"password":"` + samPassword + `","p":` + nested(31) + `}`, status: http.StatusCreated, wantJSON: tuser("sam@example.com", false, false, `,"p":`+nested(31))},
		{name: "properties one too deep", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"},"password":"` + samPassword + `","p":` + nested(32) + `}`, status: 400, wantText: "Cannot post a user with invalid properties. (User: sam@example.com)"},
		{name: "another Content-Type", method: "POST", path: "/users", header: with(auth, "Content-Type", "text/plain"), body: sam, status: http.StatusUnsupportedMediaType, wantText: "Content-Type must be application/json. (User: null)"},
		{name: "body over 1 MiB", method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"},"p":"` + strings.Repeat("a", 1<<20) + `"}`, status: http.StatusRequestEntityTooLarge, wantText: "The request body is too large. (User: null)"},
		{name: "without credentials", method: "POST", path: "/users", header: with(auth, "Authorization", ""), body: sam, status: http.StatusUnauthorized, wantHeader: challenge, wantText: noCredentials},
		{name: "a wrong secret", method: "POST", path: "/users", header: with(auth, "Authorization", basic("app", "s3cre")), body: sam, status: http.StatusUnauthorized, wantHeader: challenge, wantText: noCredentials},
		{name: "an unknown application", method: "POST", path: "/users", header: with(auth, "Authorization", basic("other", "s3cret")), body: sam, status: http.StatusUnauthorized, wantHeader: challenge, wantText: noCredentials},
		{name: "a bearer token", method: "POST", path: "/users", header: with(auth, "Authorization", "Bearer x"), body: sam, status: http.StatusUnauthorized, wantHeader: challenge, wantText: noCredentials},
		{
			name: "hashing at capacity", busy: true, method: "POST", path: "/users", header: auth, body: sam,
			status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantText: "The server is busy. Please try again later. (User: sam@example.com)",
		},
		{
			name: "database unreachable", down: true, method: "POST", path: "/users", header: auth, body: sam,
			status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantText: "Database is currently unavailable. Please try again later. (User: sam@example.com)",
		},
	})
}

// nested is a JSON value nested depth deep.
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
}

func TestRead(t *testing.T) {
	noCheck := func(c *thunder.Config) { c.HeaderCheck = false }
	run(t, []scenario{
		{name: "read", setup: withSam(confirmed), method: "GET", path: "/users?email=sam@example.com", header: withPw, status: http.StatusOK, wantJSON: tuser("sam@example.com", true, false, `,"plan":"pro"`)},
		{name: "read in another case", setup: withSam(nil), method: "GET", path: "/users?email=SAM@Example.com", header: withPw, status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, `,"plan":"pro"`)},
		{
			name: "read with a live verification token", setup: withSamToken(nil), method: "GET", path: "/users?email=sam@example.com", header: withPw,
			status: http.StatusOK, wantJSON: tuser("sam@example.com", false, true, `,"plan":"pro"`),
			after: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				if !strings.Contains(rec.Body.String(), `"verificationToken":"`+e.vars["{vtoken}"]+`"`) {
					t.Errorf("body %s: want the live token", rec.Body)
				}
				if !strings.Contains(rec.Body.String(), `"password":"`+e.vars["{hash}"]+`"`) {
					t.Errorf("body %s: want the stored hash", rec.Body)
				}
			},
		},
		{name: "without the email parameter", setup: withSam(nil), method: "GET", path: "/users", header: withPw, status: 400, wantText: "Incorrect or missing email query parameter. (User: null)"},
		{name: "an empty email parameter", setup: withSam(nil), method: "GET", path: "/users?email=", header: withPw, status: 400, wantText: "Incorrect or missing email query parameter. (User: )"},
		{name: "an invalid email parameter", setup: withSam(nil), method: "GET", path: "/users?email=sam", header: withPw, status: 400, wantText: "Incorrect or missing email query parameter. (User: sam)"},
		{name: "without the password header", setup: withSam(nil), method: "GET", path: "/users?email=sam@example.com", header: auth, status: 400, wantText: "Credentials are required to access this resource. (User: sam@example.com)"},
		{name: "a wrong password", setup: withSam(nil), method: "GET", path: "/users?email=sam@example.com", header: with(auth, "password", newPassword), status: http.StatusUnauthorized, wantText: "Unable to validate user with provided credentials. (User: sam@example.com)"},
		{name: "a password over the policy's length", setup: withSam(nil), method: "GET", path: "/users?email=sam@example.com", header: with(auth, "password", strings.Repeat("p", 129)), status: http.StatusUnauthorized, wantText: "Unable to validate user with provided credentials. (User: sam@example.com)"},
		{name: "disabled", setup: withSam(func(in *account.NewUser) { in.Enabled = false }), method: "GET", path: "/users?email=sam@example.com", header: withPw, status: http.StatusUnauthorized, wantText: "Unable to validate user with provided credentials. (User: sam@example.com)"},
		{
			name: "locked after 10 wrong passwords", method: "GET", path: "/users?email=sam@example.com", header: withPw,
			status: http.StatusUnauthorized, wantText: "Unable to validate user with provided credentials. (User: sam@example.com)",
			setup: func(t *testing.T, e *env) {
				withSam(nil)(t, e)
				for range 10 {
					e.do(t, "GET", "/users?email=sam@example.com", with(auth, "password", newPassword), "")
				}
			},
		},
		{
			name: "a password header in ISO-8859-1", method: "GET", path: "/users?email=sam@example.com", header: with(auth, "password", "p\xe4ssw\xf6rd-8451"),
			status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, ""),
			setup: withSam(func(in *account.NewUser) { in.Password, in.Data = "pässwörd-8451", nil }),
		},
		{name: "unknown user", setup: withSam(nil), method: "GET", path: "/users?email=bob@example.com", header: withPw, status: http.StatusNotFound, wantText: "User not found in the database. (User: bob@example.com)"},
		{name: "header check off: no password needed", cfg: noCheck, setup: withSam(nil), method: "GET", path: "/users?email=sam@example.com", header: auth, status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, `,"plan":"pro"`)},
		{name: "header check off: a wrong password is ignored", cfg: noCheck, setup: withSam(nil), method: "GET", path: "/users?email=sam@example.com", header: with(auth, "password", newPassword), status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, `,"plan":"pro"`)},
		{name: "without credentials", setup: withSam(nil), method: "GET", path: "/users?email=sam@example.com", header: with(withPw, "Authorization", ""), status: http.StatusUnauthorized, wantHeader: challenge, wantText: noCredentials},
		{name: "an unexpected database error", broken: true, setup: withSam(nil), method: "GET", path: "/users?email=sam@example.com", header: withPw, status: http.StatusInternalServerError, wantText: "The request failed for an unknown reason. (User: sam@example.com)"},
		{name: "database unreachable", down: true, setup: withSam(nil), method: "GET", path: "/users?email=sam@example.com", header: withPw, status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantText: "Database is currently unavailable. Please try again later. (User: sam@example.com)"},
	})
}

func TestUpdate(t *testing.T) {
	moved := `{"email":{"address":"sam@example.org"},"password":"` + newPassword + `","plan":"team"}`
	run(t, []scenario{
		{
			name: "a new email, password and properties", setup: withSam(confirmed), method: "PUT", path: "/users?email=sam@example.com", header: withPw, body: moved,
			status: http.StatusOK, wantJSON: tuser("sam@example.org", false, false, `,"plan":"team"`),
			after: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				wantUser("sam@example.org", newPassword, true)(t, e, rec)
				wantUser("sam@example.com", "", false)(t, e, rec)
				if strings.Contains(rec.Body.String(), e.vars["{hash}"]) {
					t.Errorf("body %s: want the new hash, not the old", rec.Body)
				}
			},
		},
		{
			name: "the user named by the body", setup: withSamToken(confirmed), method: "PUT", path: "/users", header: withPw,
			body:   `{"email":{"address":"sam@example.com"},"password":"` + samPassword + `","seats":3}`,
			status: http.StatusOK, wantJSON: tuser("sam@example.com", false, true, `,"seats":3`),
		},
		{
			name: "the stored hash keeps the password", setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: withPw,
			body:   `{"email":{"address":"sam@example.com"},"password":"{hash}","plan":"team"}`,
			status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, `,"plan":"team"`),
			after: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				wantUser("sam@example.com", samPassword, true)(t, e, rec)
				if !strings.Contains(rec.Body.String(), `"password":"`+e.vars["{hash}"]+`"`) {
					t.Errorf("body %s: want the unchanged hash", rec.Body)
				}
			},
		},
		{
			name: "another hash keeps the password", setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: withPw,
			body:   `{"email":{"address":"sam@example.com"},"password":"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$c29tZWhhc2g","plan":"pro"}`,
			status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, `,"plan":"pro"`), after: wantUser("sam@example.com", samPassword, true),
		},
		{
			name: "no password keeps the password", setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: withPw,
			body: `{"email":{"address":"sam@example.com"}}`, status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, ""),
			after: wantUser("sam@example.com", samPassword, true),
		},
		{name: "the new email is taken", setup: withSamAndBob, method: "PUT", path: "/users?email=sam@example.com", header: withPw, body: strings.Replace(moved, "sam@example.org", "Bob@example.com", 1), status: http.StatusConflict, wantText: "A user with the new email address already exists. (User: sam@example.com)", after: wantUser("sam@example.com", samPassword, true)},
		{name: "unknown user", setup: withSam(nil), method: "PUT", path: "/users?email=bob@example.com", header: withPw, body: moved, status: http.StatusNotFound, wantText: "User not found in the database. (User: bob@example.com)"},
		{name: "a wrong password", setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: with(auth, "password", newPassword), body: moved, status: http.StatusUnauthorized, wantText: "Unable to validate user with provided credentials. (User: sam@example.com)", after: wantUser("sam@example.com", samPassword, true)},
		{name: "without the password header", setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: auth, body: moved, status: 400, wantText: "Credentials are required to access this resource. (User: sam@example.com)"},
		{name: "an invalid new email", setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: withPw, body: `{"email":{"address":"bad"},"password":"` + samPassword + `"}`, status: 400, wantText: "Invalid email address format. Please try again. (User: bad)"},
		{name: "an invalid email parameter", setup: withSam(nil), method: "PUT", path: "/users?email=sam", header: withPw, body: moved, status: 400, wantText: "Incorrect or missing email query parameter. (User: sam)"},
		{
			name: "an invalid new password", setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: withPw,
			body: `{"email":{"address":"sam@example.com"},"password":"short"}`, status: 400, wantText: "Cannot post a user with an invalid password: Password must be at least 8 characters long. (User: sam@example.com)",
			after: wantUser("sam@example.com", samPassword, true),
		},
		{name: "null user", setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: withPw, body: `null`, status: 400, wantText: "Cannot post a null user. (User: null)"},
		{name: "no email", setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: withPw, body: `{"plan":"x"}`, status: 400, wantText: "Cannot post a user without an email address. (User: null)"},
		{name: "invalid JSON", setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: withPw, body: `{"email":{}`, status: 400, wantText: "Unable to process JSON. (User: null)"},
		{name: "without credentials", setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: with(withPw, "Authorization", ""), body: moved, status: http.StatusUnauthorized, wantHeader: challenge, wantText: noCredentials},
	})
}

func TestDelete(t *testing.T) {
	run(t, []scenario{
		{
			name: "delete", setup: withSam(nil), method: "DELETE", path: "/users?email=sam@example.com", header: withPw,
			status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, `,"plan":"pro"`), after: wantUser("sam@example.com", "", false),
		},
		{name: "unknown user", setup: withSam(nil), method: "DELETE", path: "/users?email=bob@example.com", header: withPw, status: http.StatusNotFound, wantText: "User not found in the database. (User: bob@example.com)"},
		{name: "a wrong password", setup: withSam(nil), method: "DELETE", path: "/users?email=sam@example.com", header: with(auth, "password", newPassword), status: http.StatusUnauthorized, wantText: "Unable to validate user with provided credentials. (User: sam@example.com)", after: wantUser("sam@example.com", "", true)},
		{name: "without the password header", setup: withSam(nil), method: "DELETE", path: "/users?email=sam@example.com", header: auth, status: 400, wantText: "Credentials are required to access this resource. (User: sam@example.com)", after: wantUser("sam@example.com", "", true)},
		{name: "without the email parameter", setup: withSam(nil), method: "DELETE", path: "/users", header: withPw, status: 400, wantText: "Incorrect or missing email query parameter. (User: null)"},
		{name: "without credentials", setup: withSam(nil), method: "DELETE", path: "/users?email=sam@example.com", header: with(withPw, "Authorization", ""), status: http.StatusUnauthorized, wantHeader: challenge, wantText: noCredentials, after: wantUser("sam@example.com", "", true)},
	})
}

func TestRouting(t *testing.T) {
	jersey := map[string]string{"Content-Type": "application/json"}
	run(t, []scenario{
		{name: "unknown route", method: "GET", path: "/nope", header: auth, status: http.StatusNotFound, wantHeader: jersey, wantJSON: `{"code":404,"message":"HTTP 404 Not Found"}`},
		{name: "unknown route without credentials", method: "GET", path: "/users/sam", status: http.StatusNotFound, wantHeader: jersey, wantJSON: `{"code":404,"message":"HTTP 404 Not Found"}`},
		{
			name: "method not allowed", method: "PATCH", path: "/users", header: auth, status: http.StatusMethodNotAllowed,
			wantHeader: map[string]string{"Allow": "DELETE, GET, HEAD, POST, PUT", "Content-Type": "application/json"},
			wantJSON:   `{"code":405,"message":"HTTP 405 Method Not Allowed"}`,
		},
		{
			name: "method not allowed on an open route", method: "DELETE", path: "/verify/success", status: http.StatusMethodNotAllowed,
			wantHeader: map[string]string{"Allow": "GET, HEAD"}, wantJSON: `{"code":405,"message":"HTTP 405 Method Not Allowed"}`,
		},
	})
}

// TestRouteTable fails when a route is added, dropped or guarded otherwise
// than the scenarios of this package assume.
func TestRouteTable(t *testing.T) {
	want := []string{
		"POST /users thunder-basic", "GET /users thunder-basic", "PUT /users thunder-basic", "DELETE /users thunder-basic",
		"POST /verify thunder-basic", "POST /verify/reset thunder-basic", "GET /verify open", "GET /verify/success open",
	}
	var got []string
	for _, rt := range thunder.New((*account.Service)(nil), "", thunder.Config{}).Routes() {
		got = append(got, rt.Pattern+" "+rt.Guard.Name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
}
