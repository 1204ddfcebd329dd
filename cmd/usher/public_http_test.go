package main

// The public surface's HTTP rules: tenant keys, CORS, the headers of every
// response, and rate limits.

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

func TestPubTenantKey(t *testing.T) {
	s := startServer(t)
	pub := s.PublicAPI
	const email = "key@example.com"
	tok := pub.mustRegister(t, email, sessionPassword)
	creds := mustJSON(t, map[string]string{"email": email, "password": sessionPassword})
	reset := mustJSON(t, map[string]string{"email": email, "code": "ABCDEFGHJK", "password": newPassword})
	bearer := "Bearer " + tok

	routes := []struct {
		name, method, path, body string
		header                   map[string]string
	}{
		{"register", "POST", "/register", mustJSON(t, map[string]string{"email": "key2@example.com", "password": sessionPassword}), nil},
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
				h := map[string]string{}
				for name, v := range rt.header {
					h[name] = v
				}
				if k.key != "" {
					h["SB-PUBLIC-KEY"] = k.key
				}
				pub.raw(t, rt.method, rt.path, rt.body, headers(h)).wantNativeError(t, rt.method+" "+rt.path, http.StatusUnauthorized, usher.Unauthorized)
			})
			t.Run(rt.name+" sbpk "+k.name, func(t *testing.T) {
				if k.key == "" {
					t.Skip("an empty ?sbpk= is the missing key case")
				}
				path := rt.path + "?sbpk=" + k.key
				pub.raw(t, rt.method, path, rt.body, headers(rt.header)).wantNativeError(t, rt.method+" "+path, http.StatusUnauthorized, usher.Unauthorized)
			})
		}
	}

	t.Run("sbpk query works", func(t *testing.T) {
		q := "?sbpk=" + s.Tenant.PublicKey
		login := pub.raw(t, "POST", "/login"+q, creds).wantToken(t, "login with ?sbpk=")
		if r := pub.raw(t, "GET", "/me"+q, "", headers(map[string]string{"Authorization": "Bearer " + login})); r.Status != http.StatusOK {
			t.Fatalf("GET /me with ?sbpk=: got %v, want 200", r)
		}
		pub.raw(t, "POST", "/password/send"+q, mustJSON(t, map[string]string{"email": email})).wantTrue(t, "password/send with ?sbpk=")
	})

	t.Run("key is all a keyless route needs", func(t *testing.T) {
		for _, path := range []string{"/.well-known/jwks.json", "/healthz"} {
			if r := pub.raw(t, "GET", path, ""); r.Status != http.StatusOK {
				t.Errorf("GET %s without a key: got %v, want 200", path, r)
			}
		}
	})

	t.Run("bearer without a token", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer", "Bearer ", "Basic " + tok, tok} {
			h := map[string]string{"SB-PUBLIC-KEY": s.Tenant.PublicKey}
			if auth != "" {
				h["Authorization"] = auth
			}
			pub.raw(t, "GET", "/me", "", headers(h)).wantNativeError(t, fmt.Sprintf("GET /me with Authorization %.20q", auth), http.StatusUnauthorized, usher.Unauthorized)
		}
	})
}

func TestPubCORSPreflight(t *testing.T) {
	s := startServer(t)
	pub := s.PublicAPI
	const origin = "https://app.example.com"

	for _, rt := range []struct{ method, path string }{{"POST", "/login"}, {"POST", "/register"}, {"GET", "/me"}, {"POST", "/password/reset"}} {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			r := pub.raw(t, "OPTIONS", rt.path, "", headers(map[string]string{
				"Origin":                        origin,
				"Access-Control-Request-Method": rt.method,
				// As browsers send it (Fetch: lower case, sorted).
				"Access-Control-Request-Headers": "authorization,content-type,sb-public-key",
			}))
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
		r := pub.raw(t, "POST", "/login", mustJSON(t, map[string]string{"email": "x@example.com", "password": sessionPassword}), headers(map[string]string{"Origin": origin, "SB-PUBLIC-KEY": s.Tenant.PublicKey}))
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != origin {
			t.Errorf("Access-Control-Allow-Origin = %q, want * or %s", got, origin)
		}
		if got := strings.ToLower(r.Header.Get("Access-Control-Expose-Headers")); !strings.Contains(got, "x-request-id") {
			t.Errorf("Access-Control-Expose-Headers = %q, want X-Request-ID exposed", got)
		}
	})
}

func TestPubResponseHeaders(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure)
	pub := s.PublicAPI
	const email = "headers@example.com"
	tok := pub.mustRegister(t, email, sessionPassword)
	creds := mustJSON(t, map[string]string{"email": email, "password": sessionPassword})
	key := map[string]string{"SB-PUBLIC-KEY": s.Tenant.PublicKey}

	for _, tc := range []struct {
		name   string
		do     func(*testing.T) response
		status int
	}{
		{"register", func(t *testing.T) response {
			return pub.register(t, "h2@example.com", sessionPassword)
		}, 200},
		{"register refused", func(t *testing.T) response {
			return pub.register(t, "bad", sessionPassword)
		}, 400},
		{"login", func(t *testing.T) response { return pub.do(t, "POST", "/login", creds) }, 200},
		{"login refused", func(t *testing.T) response { return pub.login(t, email, "wrong horse battery") }, 401},
		{"me", func(t *testing.T) response { return pub.me(t, tok) }, 200},
		{"me refused", func(t *testing.T) response { return pub.me(t, "nope") }, 401},
		{"password send", func(t *testing.T) response { return pub.passwordSend(t, email) }, 200},
		{"password reset refused", func(t *testing.T) response { return pub.passwordReset(t, email, "ABCDEFGHJK", newPassword) }, 400},
		{"missing key", func(t *testing.T) response { return pub.raw(t, "POST", "/login", creds) }, 401},
		{"unknown route", func(t *testing.T) response { return pub.raw(t, "GET", "/nope", "", headers(key)) }, 404},
		{"wrong method", func(t *testing.T) response { return pub.raw(t, "DELETE", "/login", "", headers(key)) }, 405},
		{"wrong content type", func(t *testing.T) response {
			return pub.raw(t, "POST", "/login", creds, headers(map[string]string{"SB-PUBLIC-KEY": s.Tenant.PublicKey, "Content-Type": "text/plain"}))
		}, 415},
		{"healthz", func(t *testing.T) response { return pub.raw(t, "GET", "/healthz", "") }, 200},
		{"logout", func(t *testing.T) response {
			return pub.do(t, "POST", "/logout", "", bearer(pub.mustLogin(t, email, sessionPassword)))
		}, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.do(t)
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
		r := pub.raw(t, "GET", "/healthz", "", headers(map[string]string{"X-Request-ID": "client-id-123"}))
		if got, want := r.Header.Get("X-Request-ID"), "client-id-123"; got != want {
			t.Errorf("X-Request-ID: got %q, want %q", got, want)
		}
		r = pub.raw(t, "GET", "/healthz", "", headers(map[string]string{"X-Request-ID": "bad id\twith spaces"}))
		if got := r.Header.Get("X-Request-ID"); got == "" || strings.ContainsAny(got, " \t") {
			t.Errorf("X-Request-ID for an insane client id: got %q, want a fresh one", got)
		}
	})

	// API.md: every response carries X-Request-ID, including the ones the
	// CORS and whole-surface rate limit layers answer themselves.
	t.Run("preflight", func(t *testing.T) {
		r := pub.raw(t, "OPTIONS", "/login", "", headers(map[string]string{
			"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "content-type,sb-public-key",
		}))
		if r.Header.Get("X-Request-ID") == "" {
			t.Errorf("preflight answer %d has no X-Request-ID", r.Status)
		}
	})

	t.Run("surface rate limit", func(t *testing.T) {
		s := startServer(t, func(m *Main) { m.Config.RatePublic = 2 })
		pub := s.PublicAPI
		// /healthz is exempt from the surface limit (load balancers call it
		// often from one address), so the limit is taken on the key set.
		var r response
		for range 3 {
			r = pub.raw(t, "GET", "/.well-known/jwks.json", "")
		}
		r.wantNativeError(t, "third request", http.StatusTooManyRequests, usher.RateLimited)
		if r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		if r.Header.Get("X-Request-ID") == "" {
			t.Error("429 of the surface rate limit has no X-Request-ID")
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("429 of the surface rate limit: Cache-Control = %q, want no-store", got)
		}
		if r := pub.raw(t, "GET", "/healthz", ""); r.Status != http.StatusOK {
			t.Errorf("GET /healthz past the surface limit: got %v, want 200 (exempt)", r)
		}
	})
}

func TestPubRateLimit(t *testing.T) {
	const known = "limited@example.com"
	limited := func(t *testing.T, edit func(*Main)) *publicClient {
		s := startServer(t, func(m *Main) { m.Config.RateAuth = 3 }, edit)
		if _, err := s.Accounts.Create(t.Context(), s.Tenant.ID, account.NewUser{Email: known, Password: sessionPassword, Enabled: true}); err != nil {
			t.Fatal(err)
		}
		return s.PublicAPI
	}
	loginFrom := func(t *testing.T, pub *publicClient, email, xff string) response {
		t.Helper()
		return pub.login(t, email, sessionPassword, header("X-Forwarded-For", xff))
	}
	wantLimited := func(t *testing.T, what string, r response) {
		t.Helper()
		r.wantNativeError(t, what, http.StatusTooManyRequests, usher.RateLimited)
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("%s: Retry-After = %q, want a positive number of seconds", what, r.Header.Get("Retry-After"))
		}
	}

	t.Run("fourth login from one address", func(t *testing.T) {
		pub := limited(t, func(*Main) {})
		for i := 1; i <= 3; i++ {
			loginFrom(t, pub, known, "").wantToken(t, fmt.Sprintf("login %d", i))
		}
		existing, unknown := loginFrom(t, pub, known, ""), loginFrom(t, pub, "unknown@example.com", "")
		wantLimited(t, "fourth login", existing)
		// The limiter's own X-RateLimit-* headers depend on the clock, so
		// status, body and Retry-After are compared.
		if unknown.Status != existing.Status || !bytes.Equal(unknown.Body, existing.Body) ||
			unknown.Header.Get("Retry-After") != existing.Header.Get("Retry-After") {
			t.Errorf("limited login: existing email got %v (Retry-After %s), unknown email got %v (Retry-After %s)",
				existing, existing.Header.Get("Retry-After"), unknown, unknown.Header.Get("Retry-After"))
		}
		wantLimited(t, "register past the limit", pub.register(t, "n@example.com", sessionPassword))
		wantLimited(t, "password/send past the limit", pub.passwordSend(t, known))
	})

	t.Run("untrusted X-Forwarded-For is ignored", func(t *testing.T) {
		pub := limited(t, func(*Main) {})
		for i := 1; i <= 3; i++ {
			loginFrom(t, pub, known, fmt.Sprintf("198.51.100.%d", i)).wantToken(t, fmt.Sprintf("login %d", i))
		}
		wantLimited(t, "login claiming a fresh address", loginFrom(t, pub, known, "203.0.113.77"))
		wantLimited(t, "login claiming a chain", loginFrom(t, pub, known, "203.0.113.78, 203.0.113.79"))
	})

	// The control: from a trusted proxy, X-Forwarded-For does pick the key,
	// so the case above shows the peer check, not a limiter that ignores
	// the header.
	t.Run("trusted X-Forwarded-For picks the key", func(t *testing.T) {
		pub := limited(t, func(m *Main) { m.Config.TrustedProxies = []string{"127.0.0.1/32"} })
		for i := 1; i <= 3; i++ {
			loginFrom(t, pub, known, "198.51.100.1").wantToken(t, fmt.Sprintf("login %d", i))
		}
		wantLimited(t, "fourth login of the client", loginFrom(t, pub, known, "198.51.100.1"))
		loginFrom(t, pub, known, "198.51.100.2").wantToken(t, "login of another client behind the proxy")
	})
}
