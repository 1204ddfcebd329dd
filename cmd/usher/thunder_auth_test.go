package main

// The Thunder surface's credentials: the application's Basic auth and the
// user's password header, on every call that needs them.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestThunderAuth covers the application's Basic credentials and the
// user's password header on every call that needs them.
func TestThunderAuth(t *testing.T) {
	calls := []struct {
		name, method, path string
		body               func(t testing.TB, email string) string
		wantStatus         int // with the right credentials
	}{
		{"create", "POST", "/users", func(t testing.TB, e string) string { return thunderBody(t, "new-"+e, userPassword, nil) }, 201},
		{"get", "GET", "/users?email=%s", nil, 200},
		{"update", "PUT", "/users", func(t testing.TB, e string) string { return thunderBody(t, e, "", map[string]any{"x": 1}) }, 200},
		{"delete", "DELETE", "/users?email=%s", nil, 200},
		{"send verification", "POST", "/verify?email=%s", nil, 200},
		{"reset verification", "POST", "/verify/reset?email=%s", nil, 200},
	}
	pathFor := func(p, email string) string { return strings.ReplaceAll(p, "%s", url.QueryEscape(email)) }
	bodyFor := func(t testing.TB, f func(testing.TB, string) string, email string) string {
		if f == nil {
			return ""
		}
		return f(t, email)
	}

	t.Run("basic auth", func(t *testing.T) {
		s := startServer(t, withThunder)
		th := s.ThunderAPI
		th.create(t, "basic@example.com", userPassword, nil)
		creds := []struct {
			name string
			opt  reqOpt
		}{
			{"missing", noBasicAuth},
			{"wrong secret", basicAuth(thunderApp, "Secret")},
			{"wrong application", basicAuth("App", thunderSecret)},
			{"empty", basicAuth("", "")},
			{"bearer instead", header("Authorization", "Bearer "+thunderSecret)},
			{"not base64", header("Authorization", "Basic !!!")},
		}
		for _, c := range calls {
			for _, cr := range creds {
				t.Run(c.name+"/"+cr.name, func(t *testing.T) {
					res := th.do(t, c.method, pathFor(c.path, "basic@example.com"), bodyFor(t, c.body, "basic@example.com"), withPassword(userPassword), cr.opt)
					if res.Status != http.StatusUnauthorized {
						t.Fatalf("got %s, want 401", res)
					}
					if got := res.Header.Get("WWW-Authenticate"); got != thunderRealm {
						t.Errorf("WWW-Authenticate: got %q, want %q", got, thunderRealm)
					}
					if got, want := string(res.Body), msgNoCredentials; got != want {
						t.Errorf("body: got %q, want %q (Dropwizard's)", got, want)
					}
				})
			}
		}
		t.Run("nothing changed", func(t *testing.T) {
			u := th.get(t, "basic@example.com", userPassword)
			if len(u.Props) != 0 || u.VerificationToken != nil {
				t.Errorf("refused calls changed the user: %+v", u)
			}
			res := th.do(t, "GET", "/users"+emailQuery("new-basic@example.com"), "", withPassword(userPassword))
			res.wantThunderError(t, "GET the user a refused POST would have made", 404, msgNotFound, "new-basic@example.com")
		})
		t.Run("verification link needs none", func(t *testing.T) {
			for _, p := range []string{"/verify/success", "/verify" + emailQuery("basic@example.com", "token", "x")} {
				res := th.do(t, "GET", p, "", noBasicAuth)
				if res.Status == http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") != "" {
					t.Errorf("GET %s without Basic auth: got %s, want no auth challenge", p, res)
				}
			}
		})
	})

	t.Run("password header", func(t *testing.T) {
		s := startServer(t, withThunder)
		th := s.ThunderAPI
		for _, c := range calls {
			if c.method == "POST" && c.path == "/users" {
				continue // a new user has no password to check yet
			}
			t.Run(c.name, func(t *testing.T) {
				email := c.name[:3] + "-pw@example.com"
				th.create(t, email, userPassword, nil)
				path, body := pathFor(c.path, email), bodyFor(t, c.body, email)
				th.do(t, c.method, path, body).wantThunderError(t, "no header", 400, msgNoCredentials, email)
				th.do(t, c.method, path, body, withPassword("")).wantThunderError(t, "empty header", 400, msgNoCredentials, email)
				th.do(t, c.method, path, body, withPassword(otherPassword)).wantThunderError(t, "wrong password", 401, msgBadCredentials, email)
				th.do(t, c.method, path, body, withPassword(strings.ToUpper(userPassword))).wantThunderError(t, "password in another case", 401, msgBadCredentials, email)
				th.do(t, c.method, path, body, withPassword(th.get(t, email, userPassword).Password)).wantThunderError(t, "the stored hash", 401, msgBadCredentials, email)
				th.do(t, c.method, path, body, withPassword(userPassword+"x")).wantThunderError(t, "the password with one more character", 401, msgBadCredentials, email)
				// The refused calls changed nothing.
				u := th.get(t, email, userPassword)
				if len(u.Props) != 0 || u.VerificationToken != nil {
					t.Errorf("refused calls changed the user: %+v", u)
				}
				if res := th.do(t, c.method, path, body, withPassword(userPassword)); res.Status != c.wantStatus {
					t.Errorf("right password: got %s, want %d", res, c.wantStatus)
				}
			})
		}
	})

	t.Run("header check off", func(t *testing.T) {
		th := startServer(t, withThunder, func(m *Main) { m.Config.ThunderHeaderCheck = false }).ThunderAPI
		for _, c := range calls {
			for _, h := range []struct {
				name string
				opts []reqOpt
			}{{"no header", nil}, {"wrong header", []reqOpt{withPassword(otherPassword)}}} {
				t.Run(c.name+"/"+h.name, func(t *testing.T) {
					email := c.name[:3] + strings.ReplaceAll(h.name, " ", "") + "@example.com"
					th.create(t, email, userPassword, nil)
					res := th.do(t, c.method, pathFor(c.path, email), bodyFor(t, c.body, email), h.opts...)
					if res.Status != c.wantStatus {
						t.Errorf("got %s, want %d", res, c.wantStatus)
					}
				})
			}
		}
		t.Run("basic auth still required", func(t *testing.T) {
			th.create(t, "still@example.com", userPassword, nil)
			res := th.do(t, "GET", "/users"+emailQuery("still@example.com"), "", noBasicAuth)
			if res.Status != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") != thunderRealm {
				t.Errorf("got %s %v, want 401 with the realm", res, res.Header)
			}
		})
	})
}
