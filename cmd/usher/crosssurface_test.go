package main

// Cross-surface tests: Thunder, public and backend users are the same
// users (API.md "Thunder surface", last rule), and a verification started
// on one surface shows on the others.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestCrossSurfaceThunderUserElsewhere(t *testing.T) {
	s := startServer(t, withThunder)
	th, pub, be := s.ThunderAPI, s.PublicAPI, s.BackendAPI
	props := map[string]any{"nick": "tabby", "age": 41, "tags": []any{"x", true}, "prefs": map[string]any{"lang": "fr"}}
	created := th.create(t, "Cross@Example.com", userPassword, props)

	jwt := pub.mustLogin(t, "Cross@Example.com", userPassword)
	me := pub.mustMe(t, jwt)
	t.Run("public login and /me", func(t *testing.T) {
		want := meUser{UserID: me.UserID, AccountID: s.Tenant.ID, Email: "Cross@Example.com", Confirmed: false, Role: 0}
		if diff := jsonEqualDiff(t, want, me); diff != "" {
			t.Errorf("/me (-want +got):\n%s", diff)
		}
		pub.mustLogin(t, "cross@example.com", userPassword) // the address in another case
		res := pub.login(t, "Cross@Example.com", otherPassword)
		res.wantNativeError(t, "login with a wrong password", http.StatusUnauthorized, "unauthorized")
	})
	t.Run("backend shows the same user with the properties as data", func(t *testing.T) {
		u := be.get(t, me.UserID)
		if u.ID != me.UserID || u.Email != "Cross@Example.com" || u.Confirmed || !u.Enabled {
			t.Errorf("backend user: got %+v", u)
		}
		if diff := jsonEqualDiff(t, asJSON(t, props), decodeData(t, u.Data)); diff != "" {
			t.Errorf("data (-thunder properties +backend data):\n%s", diff)
		}
		if got, want := millis(t, u.CreatedAt), created.CreationTime; got != want {
			t.Errorf("created_at: got %d ms, want Thunder's creationTime %d", got, want)
		}
		res := be.do(t, "GET", "/users/"+me.UserID+"/data", "")
		if res.Status != http.StatusOK {
			t.Fatalf("GET data: got %s", res)
		}
		if diff := jsonEqualDiff(t, asJSON(t, props), decodeData(t, res.Body)); diff != "" {
			t.Errorf("GET /users/{id}/data (-want +got):\n%s", diff)
		}
		res = be.do(t, "POST", "/users/"+me.UserID+"/checkpw", mustJSON(t, map[string]string{"password": userPassword}))
		if got, want := strings.TrimSpace(string(res.Body)), `{"result":true}`; res.Status != 200 || got != want {
			t.Errorf("checkpw: got %s, want 200 %s", res, want)
		}
	})
	t.Run("Thunder property changes show on the backend", func(t *testing.T) {
		newProps := map[string]any{"nick": "tom"}
		th.update(t, "", thunderBody(t, "Cross@Example.com", created.Password, newProps), userPassword).wantThunderUser(t, "PUT", http.StatusOK)
		if diff := jsonEqualDiff(t, asJSON(t, newProps), decodeData(t, be.get(t, me.UserID).Data)); diff != "" {
			t.Errorf("backend data after Thunder PUT (-want +got):\n%s", diff)
		}
		if res := pub.me(t, jwt); res.Status != http.StatusOK {
			t.Errorf("/me after a properties-only PUT: got %s, want 200 (the session lives on)", res)
		}
	})
	// A new password or email from Thunder ends the public sessions, and
	// is what public login takes.
	t.Run("Thunder password change", func(t *testing.T) {
		th.update(t, "", thunderBody(t, "Cross@Example.com", otherPassword, map[string]any{"nick": "tom"}), userPassword).wantThunderUser(t, "PUT password", http.StatusOK)
		if res := pub.me(t, jwt); res.Status != http.StatusUnauthorized {
			t.Errorf("/me with a token from before the password change: got %s, want 401", res)
		}
		res := pub.login(t, "Cross@Example.com", userPassword)
		res.wantNativeError(t, "login with the old password", http.StatusUnauthorized, "unauthorized")
	})
	t.Run("Thunder email change", func(t *testing.T) {
		jwt := pub.mustLogin(t, "Cross@Example.com", otherPassword)
		th.update(t, "Cross@Example.com", thunderBody(t, "moved@example.com", "", nil), otherPassword).wantThunderUser(t, "PUT email", http.StatusOK)
		if res := pub.me(t, jwt); res.Status != http.StatusUnauthorized {
			t.Errorf("/me with a token from before the email change: got %s, want 401", res)
		}
		if got := be.get(t, me.UserID).Email; got != "moved@example.com" {
			t.Errorf("backend email: got %q, want moved@example.com", got)
		}
		res := pub.login(t, "Cross@Example.com", otherPassword)
		res.wantNativeError(t, "login with the old email", http.StatusUnauthorized, "unauthorized")
	})
	t.Run("Thunder delete", func(t *testing.T) {
		jwt := pub.mustLogin(t, "moved@example.com", otherPassword)
		th.delete(t, "moved@example.com", otherPassword).wantThunderUser(t, "DELETE", http.StatusOK)
		be.do(t, "GET", "/users/"+me.UserID, "").wantNativeError(t, "backend GET after Thunder DELETE", http.StatusNotFound, "not_found")
		if res := pub.me(t, jwt); res.Status != http.StatusUnauthorized {
			t.Errorf("/me of a deleted user: got %s, want 401", res)
		}
	})
}

func TestCrossSurfaceBackendUserOnThunder(t *testing.T) {
	s := startServer(t, withThunder)
	th, be := s.ThunderAPI, s.BackendAPI
	data := map[string]any{"plan": "pro", "seats": 3, "ratio": 0.5, "flags": map[string]any{"beta": true}, "list": []any{1, "two"}}
	tests := []struct {
		name         string
		body         map[string]any
		wantVerified bool
		wantProps    map[string]any
	}{
		{"with data", map[string]any{"email": "be1@example.com", "password": userPassword, "data": data}, false, data},
		{"without data", map[string]any{"email": "be2@example.com", "password": userPassword}, false, nil},
		{"confirmed", map[string]any{"email": "be3@example.com", "password": userPassword, "confirmed": true, "data": map[string]any{"a": "b"}}, true, map[string]any{"a": "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := tt.body["email"].(string)
			res := be.do(t, "POST", "/users", mustJSON(t, tt.body))
			bu := res.wantUser(t, "backend POST /users", http.StatusCreated)
			if got := res.Header.Get("X-Object-ID"); got != bu.ID {
				t.Errorf("X-Object-ID: got %q, want %q", got, bu.ID)
			}
			u := th.get(t, email, userPassword)
			if u.Address != email || u.Verified != tt.wantVerified || u.VerificationToken != nil {
				t.Errorf("Thunder user: got {%q %v %v}, want {%q %v null}", u.Address, u.Verified, u.VerificationToken, email, tt.wantVerified)
			}
			if diff := jsonEqualDiff(t, asJSON(t, tt.wantProps), u.Props); diff != "" {
				t.Errorf("Thunder properties (-backend data +got):\n%s", diff)
			}
			if !strings.HasPrefix(u.Password, "$argon2id$") {
				t.Errorf("password: got %q, want the stored $argon2id$ hash", u.Password)
			}
			if got, want := u.CreationTime, millis(t, bu.CreatedAt); got != want {
				t.Errorf("creationTime: got %d, want the backend's created_at %d", got, want)
			}
			if got, want := u.LastUpdateTime, millis(t, bu.UpdatedAt); got != want {
				t.Errorf("lastUpdateTime: got %d, want the backend's updated_at %d", got, want)
			}

			// Backend changes show on Thunder.
			newData := map[string]any{"plan": "free"}
			if res := be.do(t, "PUT", "/users/"+bu.ID+"/data", mustJSON(t, newData)); res.Status != http.StatusNoContent {
				t.Fatalf("PUT data: got %s, want 204", res)
			}
			if diff := jsonEqualDiff(t, asJSON(t, newData), th.get(t, email, userPassword).Props); diff != "" {
				t.Errorf("Thunder properties after backend PUT data (-want +got):\n%s", diff)
			}
			moved := "moved-" + email
			if res := be.do(t, "PUT", "/users/"+bu.ID+"/email", mustJSON(t, map[string]string{"email": moved})); res.Status != http.StatusNoContent {
				t.Fatalf("PUT email: got %s, want 204", res)
			}
			th.do(t, "GET", "/users"+emailQuery(email), "", withPassword(userPassword)).wantThunderError(t, "Thunder GET the old email", 404, msgNotFound, email)
			if got := th.get(t, moved, userPassword); got.Address != moved || got.Verified {
				t.Errorf("Thunder GET after backend email change: got %+v, want %s unverified", got, moved)
			}
		})
	}
}

func TestCrossSurfaceVerification(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, withThunder, sink.Configure)
	th, pub, be := s.ThunderAPI, s.PublicAPI, s.BackendAPI
	tests := []struct {
		name   string
		verify func(t *testing.T, email, tok string, link *url.URL)
	}{
		{"Thunder GET /verify json", func(t *testing.T, email, tok string, _ *url.URL) {
			th.verifyLink(t, email, tok, "json").wantThunderUser(t, "GET /verify", http.StatusOK)
		}},
		{"Thunder GET /verify html", func(t *testing.T, email, tok string, _ *url.URL) {
			if res := th.verifyLink(t, email, tok, "html"); res.Status != http.StatusSeeOther {
				t.Fatalf("got %s, want 303", res)
			}
		}},
		{"the emailed link on the public listener", func(t *testing.T, email, tok string, link *url.URL) {
			res := doRequest(t, pub.http, "GET", link.String(), "")
			if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/verify/success" {
				t.Fatalf("got %s Location %q, want 303 to /verify/success", res, res.Header.Get("Location"))
			}
			pub.raw(t, "GET", "/verify/success", "").wantSuccessPage(t)
		}},
		{"public GET /verify json", func(t *testing.T, email, tok string, _ *url.URL) {
			q := url.Values{"email": {email}, "token": {tok}, "response_type": {"json"}}
			res := pub.raw(t, "GET", "/verify?"+q.Encode(), "")
			u := res.wantUser(t, "public GET /verify", http.StatusOK)
			if u.Email != email || !u.Confirmed {
				t.Errorf("public /verify: got %+v, want %s confirmed", u, email)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := "xv" + string(rune('a'+i)) + "@example.com"
			th.create(t, email, userPassword, map[string]any{"n": i})
			jwt := pub.mustLogin(t, email, userPassword)
			id := pub.mustMe(t, jwt).UserID
			if be.get(t, id).Confirmed || pub.mustMe(t, jwt).Confirmed {
				t.Fatal("confirmed before verification")
			}
			tok := th.sendVerification(t, email, userPassword).token()
			link := sink.verifyLink(t, s.Public, email, 1)
			if got := link.Query().Get("token"); got != tok {
				t.Fatalf("emailed token %q, Thunder's %q", got, tok)
			}

			tt.verify(t, email, tok, link)

			if !be.get(t, id).Confirmed {
				t.Errorf("backend: confirmed false, want true")
			}
			if !pub.mustMe(t, jwt).Confirmed {
				t.Errorf("/me: confirmed false, want true")
			}
			if u := th.get(t, email, userPassword); !u.Verified || u.token() != tok {
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
			s := startServer(t, withThunder, sink.Configure, tt.edit)
			th, pub, be := s.ThunderAPI, s.PublicAPI, s.BackendAPI
			const email = "reg@example.com"
			res := pub.register(t, email, userPassword)
			jwt := res.wantToken(t, "POST /register")
			me := pub.mustMe(t, jwt)
			if me.Confirmed {
				t.Fatal("confirmed right after registering")
			}

			if !tt.wantMail {
				if u := th.get(t, email, userPassword); u.VerificationToken != nil {
					t.Errorf("a verification token was issued: %q", u.token())
				}
				// The only verification email is the one asked for now.
				if res := be.do(t, "POST", "/users/"+me.UserID+"/verify", ""); res.Status != http.StatusNoContent {
					t.Fatalf("backend verify: got %s, want 204", res)
				}
				sink.verifyLink(t, s.Public, email, 1)
				if got := sink.Count(email, "Account Verification"); got != 1 {
					t.Errorf("verification emails: got %d, want 1 (none from /register)", got)
				}
				return
			}

			link := sink.verifyLink(t, s.Public, email, 1)
			if got := th.get(t, email, userPassword).token(); got != link.Query().Get("token") {
				t.Errorf("emailed token %q, live token %q", link.Query().Get("token"), got)
			}
			res = doRequest(t, pub.http, "GET", link.String(), "")
			if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/verify/success" {
				t.Fatalf("opening the link: got %s Location %q, want 303 to /verify/success", res, res.Header.Get("Location"))
			}
			pub.raw(t, "GET", "/verify/success", "").wantSuccessPage(t)
			if !pub.mustMe(t, jwt).Confirmed {
				t.Errorf("/me after the link: confirmed false, want true")
			}
			if !be.get(t, me.UserID).Confirmed {
				t.Errorf("backend after the link: confirmed false, want true")
			}
		})
	}
}

func TestCrossSurfaceBackendSendsVerification(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, withThunder, sink.Configure)
	th, pub, be := s.ThunderAPI, s.PublicAPI, s.BackendAPI
	bu := be.do(t, "POST", "/users", mustJSON(t, map[string]any{"email": "bev@example.com", "password": userPassword})).wantUser(t, "backend POST /users", http.StatusCreated)

	res := be.do(t, "POST", "/users/"+bu.ID+"/verify", "")
	if res.Status != http.StatusNoContent || len(res.Body) != 0 {
		t.Fatalf("POST /users/{id}/verify: got %s, want 204 without a body", res)
	}
	link := sink.verifyLink(t, s.Public, "bev@example.com", 1)
	if got := th.get(t, "bev@example.com", userPassword).token(); got != link.Query().Get("token") {
		t.Errorf("Thunder shows token %q, the email %q", got, link.Query().Get("token"))
	}
	q := link.Query()
	q.Set("response_type", "json")
	res = pub.raw(t, "GET", "/verify?"+q.Encode(), "")
	if u := res.wantUser(t, "public GET /verify", http.StatusOK); !u.Confirmed || u.ID != bu.ID {
		t.Errorf("public /verify: got %+v, want %s confirmed", u, bu.ID)
	}
	if !be.get(t, bu.ID).Confirmed {
		t.Errorf("backend: confirmed false after the link")
	}

	for _, tt := range []struct{ name, id string }{
		{"unknown id", "01890000-0000-7000-8000-000000000000"},
		{"malformed id", "not-an-id"},
		{"id in upper case", strings.ToUpper(bu.ID)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := be.do(t, "POST", "/users/"+tt.id+"/verify", "")
			res.wantNativeError(t, "POST /users/"+tt.id+"/verify", http.StatusNotFound, "not_found")
		})
	}
}
