package main

// Cross-surface tests: Thunder, public and backend users are the same
// users (API.md "Thunder surface", last rule), and a verification started
// on one surface shows on the others.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// public calls the public listener with the tenant key and, when given, a
// bearer token.
func (a *thAPI) public(t testing.TB, method, path, body, bearer string) thResponse {
	t.Helper()
	opts := []thOpt{thHeader("SB-PUBLIC-KEY", a.s.Tenant.PublicKey)}
	if bearer != "" {
		opts = append(opts, thHeader("Authorization", "Bearer "+bearer))
	}
	return thDo(t, a.client, method, a.s.Public+path, body, opts...)
}

// backend calls the backend listener over mutual TLS.
func (a *thAPI) backend(t testing.TB, method, path, body string) thResponse {
	t.Helper()
	return thDo(t, a.s.Client, method, a.s.Backend+path, body)
}

// login is the public POST /login; it returns the JWT.
func (a *thAPI) login(t testing.TB, email, pw string) string {
	t.Helper()
	res := a.public(t, "POST", "/login", mustJSON(t, map[string]string{"email": email, "password": pw}), "")
	return thWantJWT(t, "POST /login "+email, res)
}

// thWantJWT checks a 200 whose body is the JWT as a JSON string.
func thWantJWT(t testing.TB, what string, res thResponse) string {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("%s: got %s, want 200 with a token", what, res)
	}
	var jwt string
	if err := json.Unmarshal(res.Body, &jwt); err != nil || strings.Count(jwt, ".") != 2 {
		t.Fatalf("%s: body %s is not a JWT as a JSON string", what, res.Body)
	}
	return jwt
}

// thMe is the public GET /me.
type thMe struct {
	UserID    string `json:"userId"`
	AccountID string `json:"accountId"`
	Email     string `json:"email"`
	Confirmed bool   `json:"confirmed"`
	Role      int    `json:"role"`
}

func (a *thAPI) me(t testing.TB, jwt string) thMe {
	t.Helper()
	res := a.public(t, "GET", "/me", "", jwt)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /me: got %s, want 200", res)
	}
	var me thMe
	if err := json.Unmarshal(res.Body, &me); err != nil {
		t.Fatalf("GET /me: %v: %s", err, res.Body)
	}
	return me
}

// thBackendUser is the backend's user.
type thBackendUser struct {
	ID        string          `json:"id"`
	Email     string          `json:"email"`
	Confirmed bool            `json:"confirmed"`
	Enabled   bool            `json:"enabled"`
	Data      json.RawMessage `json:"data"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

// thDecodeBackendUser decodes a native user answer.
func thDecodeBackendUser(t testing.TB, what string, res thResponse, status int) thBackendUser {
	t.Helper()
	if res.Status != status {
		t.Fatalf("%s: got %s, want %d", what, res, status)
	}
	var u thBackendUser
	if err := json.Unmarshal(res.Body, &u); err != nil {
		t.Fatalf("%s: %v: %s", what, err, res.Body)
	}
	return u
}

// backendUser is the backend's GET /users/{id}.
func (a *thAPI) backendUser(t testing.TB, id string) thBackendUser {
	t.Helper()
	return thDecodeBackendUser(t, "backend GET /users/"+id, a.backend(t, "GET", "/users/"+id, ""), http.StatusOK)
}

// thData decodes custom data for comparison with thProps.
func thData(t testing.TB, raw json.RawMessage) map[string]any {
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

// thNativeError checks the native error body of the public and backend
// surfaces and its code.
func thNativeError(t testing.TB, what string, res thResponse, status int, code string) {
	t.Helper()
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil || res.Status != status || body.Error.Code != code || body.Error.Message == "" {
		t.Errorf("%s: got %s, want %d with error code %q", what, res, status, code)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type: got %q, want application/json", what, ct)
	}
}

// thMillis parses the backend's time into epoch milliseconds.
func thMillis(t testing.TB, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return tm.UnixMilli()
}

func TestCrossSurfaceThunderUserElsewhere(t *testing.T) {
	a := thStart(t)
	props := map[string]any{"nick": "tabby", "age": 41, "tags": []any{"x", true}, "prefs": map[string]any{"lang": "fr"}}
	created := a.create(t, "Cross@Example.com", thPassword, props)

	jwt := a.login(t, "Cross@Example.com", thPassword)
	me := a.me(t, jwt)
	t.Run("public login and /me", func(t *testing.T) {
		want := thMe{UserID: me.UserID, AccountID: a.s.Tenant.ID, Email: "Cross@Example.com", Confirmed: false, Role: 0}
		if diff := thDiff(t, want, me); diff != "" {
			t.Errorf("/me (-want +got):\n%s", diff)
		}
		a.login(t, "cross@example.com", thPassword) // the address in another case
		res := a.public(t, "POST", "/login", mustJSON(t, map[string]string{"email": "Cross@Example.com", "password": thOtherPW}), "")
		thNativeError(t, "login with a wrong password", res, http.StatusUnauthorized, "unauthorized")
	})
	t.Run("backend shows the same user with the properties as data", func(t *testing.T) {
		u := a.backendUser(t, me.UserID)
		if u.ID != me.UserID || u.Email != "Cross@Example.com" || u.Confirmed || !u.Enabled {
			t.Errorf("backend user: got %+v", u)
		}
		if diff := thDiff(t, thProps(t, props), thData(t, u.Data)); diff != "" {
			t.Errorf("data (-thunder properties +backend data):\n%s", diff)
		}
		if got, want := thMillis(t, u.CreatedAt), created.CreationTime; got != want {
			t.Errorf("created_at: got %d ms, want Thunder's creationTime %d", got, want)
		}
		res := a.backend(t, "GET", "/users/"+me.UserID+"/data", "")
		if res.Status != http.StatusOK {
			t.Fatalf("GET data: got %s", res)
		}
		if diff := thDiff(t, thProps(t, props), thData(t, res.Body)); diff != "" {
			t.Errorf("GET /users/{id}/data (-want +got):\n%s", diff)
		}
		res = a.backend(t, "POST", "/users/"+me.UserID+"/checkpw", mustJSON(t, map[string]string{"password": thPassword}))
		if got, want := strings.TrimSpace(string(res.Body)), `{"result":true}`; res.Status != 200 || got != want {
			t.Errorf("checkpw: got %s, want 200 %s", res, want)
		}
	})
	t.Run("Thunder property changes show on the backend", func(t *testing.T) {
		newProps := map[string]any{"nick": "tom"}
		thWantUser(t, "PUT", a.do(t, "PUT", "/users", thUserBody(t, "Cross@Example.com", created.Password, newProps), thPW(thPassword)), http.StatusOK)
		if diff := thDiff(t, thProps(t, newProps), thData(t, a.backendUser(t, me.UserID).Data)); diff != "" {
			t.Errorf("backend data after Thunder PUT (-want +got):\n%s", diff)
		}
		if res := a.public(t, "GET", "/me", "", jwt); res.Status != http.StatusOK {
			t.Errorf("/me after a properties-only PUT: got %s, want 200 (the session lives on)", res)
		}
	})
	// A new password or email from Thunder ends the public sessions, and
	// is what public login takes.
	t.Run("Thunder password change", func(t *testing.T) {
		thWantUser(t, "PUT password", a.do(t, "PUT", "/users", thUserBody(t, "Cross@Example.com", thOtherPW, map[string]any{"nick": "tom"}), thPW(thPassword)), http.StatusOK)
		if res := a.public(t, "GET", "/me", "", jwt); res.Status != http.StatusUnauthorized {
			t.Errorf("/me with a token from before the password change: got %s, want 401", res)
		}
		res := a.public(t, "POST", "/login", mustJSON(t, map[string]string{"email": "Cross@Example.com", "password": thPassword}), "")
		thNativeError(t, "login with the old password", res, http.StatusUnauthorized, "unauthorized")
	})
	t.Run("Thunder email change", func(t *testing.T) {
		jwt := a.login(t, "Cross@Example.com", thOtherPW)
		thWantUser(t, "PUT email", a.do(t, "PUT", "/users"+thQ("Cross@Example.com"), thUserBody(t, "moved@example.com", "", nil), thPW(thOtherPW)), http.StatusOK)
		if res := a.public(t, "GET", "/me", "", jwt); res.Status != http.StatusUnauthorized {
			t.Errorf("/me with a token from before the email change: got %s, want 401", res)
		}
		if got := a.backendUser(t, me.UserID).Email; got != "moved@example.com" {
			t.Errorf("backend email: got %q, want moved@example.com", got)
		}
		res := a.public(t, "POST", "/login", mustJSON(t, map[string]string{"email": "Cross@Example.com", "password": thOtherPW}), "")
		thNativeError(t, "login with the old email", res, http.StatusUnauthorized, "unauthorized")
	})
	t.Run("Thunder delete", func(t *testing.T) {
		jwt := a.login(t, "moved@example.com", thOtherPW)
		thWantUser(t, "DELETE", a.do(t, "DELETE", "/users"+thQ("moved@example.com"), "", thPW(thOtherPW)), http.StatusOK)
		thNativeError(t, "backend GET after Thunder DELETE", a.backend(t, "GET", "/users/"+me.UserID, ""), http.StatusNotFound, "not_found")
		if res := a.public(t, "GET", "/me", "", jwt); res.Status != http.StatusUnauthorized {
			t.Errorf("/me of a deleted user: got %s, want 401", res)
		}
	})
}

func TestCrossSurfaceBackendUserOnThunder(t *testing.T) {
	a := thStart(t)
	data := map[string]any{"plan": "pro", "seats": 3, "ratio": 0.5, "flags": map[string]any{"beta": true}, "list": []any{1, "two"}}
	tests := []struct {
		name         string
		body         map[string]any
		wantVerified bool
		wantProps    map[string]any
	}{
		{"with data", map[string]any{"email": "be1@example.com", "password": thPassword, "data": data}, false, data},
		{"without data", map[string]any{"email": "be2@example.com", "password": thPassword}, false, nil},
		{"confirmed", map[string]any{"email": "be3@example.com", "password": thPassword, "confirmed": true, "data": map[string]any{"a": "b"}}, true, map[string]any{"a": "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := tt.body["email"].(string)
			res := a.backend(t, "POST", "/users", mustJSON(t, tt.body))
			bu := thDecodeBackendUser(t, "backend POST /users", res, http.StatusCreated)
			if got := res.Header.Get("X-Object-ID"); got != bu.ID {
				t.Errorf("X-Object-ID: got %q, want %q", got, bu.ID)
			}
			u := a.get(t, email, thPassword)
			if u.Address != email || u.Verified != tt.wantVerified || u.VerificationToken != nil {
				t.Errorf("Thunder user: got {%q %v %v}, want {%q %v null}", u.Address, u.Verified, u.VerificationToken, email, tt.wantVerified)
			}
			if diff := thDiff(t, thProps(t, tt.wantProps), u.Props); diff != "" {
				t.Errorf("Thunder properties (-backend data +got):\n%s", diff)
			}
			if !strings.HasPrefix(u.Password, "$argon2id$") {
				t.Errorf("password: got %q, want the stored $argon2id$ hash", u.Password)
			}
			if got, want := u.CreationTime, thMillis(t, bu.CreatedAt); got != want {
				t.Errorf("creationTime: got %d, want the backend's created_at %d", got, want)
			}
			if got, want := u.LastUpdateTime, thMillis(t, bu.UpdatedAt); got != want {
				t.Errorf("lastUpdateTime: got %d, want the backend's updated_at %d", got, want)
			}

			// Backend changes show on Thunder.
			newData := map[string]any{"plan": "free"}
			if res := a.backend(t, "PUT", "/users/"+bu.ID+"/data", mustJSON(t, newData)); res.Status != http.StatusNoContent {
				t.Fatalf("PUT data: got %s, want 204", res)
			}
			if diff := thDiff(t, thProps(t, newData), a.get(t, email, thPassword).Props); diff != "" {
				t.Errorf("Thunder properties after backend PUT data (-want +got):\n%s", diff)
			}
			moved := "moved-" + email
			if res := a.backend(t, "PUT", "/users/"+bu.ID+"/email", mustJSON(t, map[string]string{"email": moved})); res.Status != http.StatusNoContent {
				t.Fatalf("PUT email: got %s, want 204", res)
			}
			thWantError(t, "Thunder GET the old email", a.do(t, "GET", "/users"+thQ(email), "", thPW(thPassword)), 404, thMsgNotFound, email)
			if got := a.get(t, moved, thPassword); got.Address != moved || got.Verified {
				t.Errorf("Thunder GET after backend email change: got %+v, want %s unverified", got, moved)
			}
		})
	}
}

func TestCrossSurfaceVerification(t *testing.T) {
	sink := startSMTPSink(t)
	a := thStart(t, sink.Configure)
	tests := []struct {
		name   string
		verify func(t *testing.T, email, tok string, link *url.URL)
	}{
		{"Thunder GET /verify json", func(t *testing.T, email, tok string, _ *url.URL) {
			thWantUser(t, "GET /verify", a.verifyLink(t, email, tok, "json"), http.StatusOK)
		}},
		{"Thunder GET /verify html", func(t *testing.T, email, tok string, _ *url.URL) {
			if res := a.verifyLink(t, email, tok, "html"); res.Status != http.StatusSeeOther {
				t.Fatalf("got %s, want 303", res)
			}
		}},
		{"the emailed link on the public listener", func(t *testing.T, email, tok string, link *url.URL) {
			res := thDo(t, a.client, "GET", link.String(), "")
			if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/verify/success" {
				t.Fatalf("got %s Location %q, want 303 to /verify/success", res, res.Header.Get("Location"))
			}
			thWantSuccessPage(t, thDo(t, a.client, "GET", a.s.Public+"/verify/success", ""))
		}},
		{"public GET /verify json", func(t *testing.T, email, tok string, _ *url.URL) {
			q := url.Values{"email": {email}, "token": {tok}, "response_type": {"json"}}
			res := thDo(t, a.client, "GET", a.s.Public+"/verify?"+q.Encode(), "")
			u := thDecodeBackendUser(t, "public GET /verify", res, http.StatusOK)
			if u.Email != email || !u.Confirmed {
				t.Errorf("public /verify: got %+v, want %s confirmed", u, email)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := "xv" + string(rune('a'+i)) + "@example.com"
			a.create(t, email, thPassword, map[string]any{"n": i})
			jwt := a.login(t, email, thPassword)
			id := a.me(t, jwt).UserID
			if a.backendUser(t, id).Confirmed || a.me(t, jwt).Confirmed {
				t.Fatal("confirmed before verification")
			}
			tok := a.sendVerification(t, email, thPassword).token()
			link := thVerifyLink(t, a.s, sink, email)
			if got := link.Query().Get("token"); got != tok {
				t.Fatalf("emailed token %q, Thunder's %q", got, tok)
			}

			tt.verify(t, email, tok, link)

			if !a.backendUser(t, id).Confirmed {
				t.Errorf("backend: confirmed false, want true")
			}
			if !a.me(t, jwt).Confirmed {
				t.Errorf("/me: confirmed false, want true")
			}
			if u := a.get(t, email, thPassword); !u.Verified || u.token() != tok {
				t.Errorf("Thunder: verified %v token %q, want true %q", u.Verified, u.token(), tok)
			}
		})
	}
}

func TestCrossSurfaceRegisterSendsVerification(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*Main)
		wantMail bool
	}{
		{"on by default", func(*Main) {}, true},
		{"off with verify-on-register false", func(m *Main) { m.Config.VerifyOnRegister = false }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := startSMTPSink(t)
			a := thStart(t, sink.Configure, tt.edit)
			const email = "reg@example.com"
			res := a.public(t, "POST", "/register", mustJSON(t, map[string]string{"email": email, "password": thPassword}), "")
			jwt := thWantJWT(t, "POST /register", res)
			me := a.me(t, jwt)
			if me.Confirmed {
				t.Fatal("confirmed right after registering")
			}

			if !tt.wantMail {
				if u := a.get(t, email, thPassword); u.VerificationToken != nil {
					t.Errorf("a verification token was issued: %q", u.token())
				}
				// The only verification email is the one asked for now.
				if res := a.backend(t, "POST", "/users/"+me.UserID+"/verify", ""); res.Status != http.StatusNoContent {
					t.Fatalf("backend verify: got %s, want 204", res)
				}
				thVerifyLink(t, a.s, sink, email)
				if got := sink.Count(email, "Account Verification"); got != 1 {
					t.Errorf("verification emails: got %d, want 1 (none from /register)", got)
				}
				return
			}

			link := thVerifyLink(t, a.s, sink, email)
			if got := a.get(t, email, thPassword).token(); got != link.Query().Get("token") {
				t.Errorf("emailed token %q, live token %q", link.Query().Get("token"), got)
			}
			res = thDo(t, a.client, "GET", link.String(), "")
			if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/verify/success" {
				t.Fatalf("opening the link: got %s Location %q, want 303 to /verify/success", res, res.Header.Get("Location"))
			}
			thWantSuccessPage(t, thDo(t, a.client, "GET", a.s.Public+"/verify/success", ""))
			if !a.me(t, jwt).Confirmed {
				t.Errorf("/me after the link: confirmed false, want true")
			}
			if !a.backendUser(t, me.UserID).Confirmed {
				t.Errorf("backend after the link: confirmed false, want true")
			}
		})
	}
}

func TestCrossSurfaceBackendSendsVerification(t *testing.T) {
	sink := startSMTPSink(t)
	a := thStart(t, sink.Configure)
	bu := thDecodeBackendUser(t, "backend POST /users",
		a.backend(t, "POST", "/users", mustJSON(t, map[string]any{"email": "bev@example.com", "password": thPassword})), http.StatusCreated)

	res := a.backend(t, "POST", "/users/"+bu.ID+"/verify", "")
	if res.Status != http.StatusNoContent || len(res.Body) != 0 {
		t.Fatalf("POST /users/{id}/verify: got %s, want 204 without a body", res)
	}
	link := thVerifyLink(t, a.s, sink, "bev@example.com")
	if got := a.get(t, "bev@example.com", thPassword).token(); got != link.Query().Get("token") {
		t.Errorf("Thunder shows token %q, the email %q", got, link.Query().Get("token"))
	}
	q := link.Query()
	q.Set("response_type", "json")
	res = thDo(t, a.client, "GET", a.s.Public+"/verify?"+q.Encode(), "")
	if u := thDecodeBackendUser(t, "public GET /verify", res, http.StatusOK); !u.Confirmed || u.ID != bu.ID {
		t.Errorf("public /verify: got %+v, want %s confirmed", u, bu.ID)
	}
	if !a.backendUser(t, bu.ID).Confirmed {
		t.Errorf("backend: confirmed false after the link")
	}

	for _, tt := range []struct{ name, id string }{
		{"unknown id", "01890000-0000-7000-8000-000000000000"},
		{"malformed id", "not-an-id"},
		{"id in upper case", strings.ToUpper(bu.ID)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := a.backend(t, "POST", "/users/"+tt.id+"/verify", "")
			thNativeError(t, "POST /users/"+tt.id+"/verify", res, http.StatusNotFound, "not_found")
		})
	}
}
