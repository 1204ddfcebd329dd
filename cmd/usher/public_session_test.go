package main

// End-to-end tests of the public surface (API.md, "Public surface"): real
// HTTP against an in-process Usher, real SMTP into the test's sink. This
// file: sessions, request validation, the key set and enumeration.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/usher"
)

func TestPubSessionFlow(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure)
	pub, be := s.PublicAPI, s.BackendAPI

	t.Run("register login me logout", func(t *testing.T) {
		const email = "ada@example.com"
		regTok := pub.mustRegister(t, email, sessionPassword)
		tok := pub.mustLogin(t, email, sessionPassword)
		if tok == regTok {
			t.Fatal("login returned the register token; want a new session")
		}

		r := pub.me(t, tok)
		if r.Status != http.StatusOK {
			t.Fatalf("GET /me: got %v, want 200", r)
		}
		var got map[string]any
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatalf("GET /me: %v: %s", err, r.Body)
		}
		want := map[string]any{
			"userId": jwtSubject(t, tok), "accountId": s.Tenant.ID, "email": email,
			"confirmed": false, "role": float64(0),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("GET /me (-want +got):\n%s", diff)
		}
		if sub := jwtSubject(t, regTok); sub != want["userId"] {
			t.Fatalf("register token sub %s, login token sub %s: want one user", sub, want["userId"])
		}

		r = pub.logout(t, tok)
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("POST /logout: got %v, want 204 without body", r)
		}
		pub.wantNoMe(t, "after logout", tok)
		pub.logout(t, tok).wantNativeError(t, "second logout", http.StatusUnauthorized, usher.Unauthorized)
		pub.wantMe(t, "the register session after the login session's logout", regTok)
	})

	t.Run("password reset by email", func(t *testing.T) {
		const email = "reset@example.com"
		tok1 := pub.mustRegister(t, email, sessionPassword)
		tok2 := pub.mustLogin(t, email, sessionPassword)
		pub.wantMe(t, "before reset", tok1) // cached now: the cache must not outlive the session

		code := sink.requestResetCode(t, pub, email, 1)
		pub.passwordReset(t, email, code, newPassword).wantTrue(t, "password/reset")

		pub.wantNoMe(t, "register token after reset", tok1)
		pub.wantNoMe(t, "login token after reset", tok2)
		pub.mustLogin(t, email, newPassword)
		pub.login(t, email, sessionPassword).wantNativeError(t, "login with the old password", http.StatusUnauthorized, usher.Unauthorized)
		sink.waitMessages(t, email, changedSubject, 1)
	})

	t.Run("backend password change ends sessions", func(t *testing.T) {
		const email = "backend-pw@example.com"
		tok := pub.mustRegister(t, email, sessionPassword)
		pub.wantMe(t, "before", tok)
		be.setPassword(t, jwtSubject(t, tok), newPassword).wantStatus(t, "backend set password", http.StatusNoContent)
		pub.wantNoMe(t, "after the backend set the password", tok)
		pub.mustLogin(t, email, newPassword)
		pub.login(t, email, sessionPassword).wantNativeError(t, "old password", http.StatusUnauthorized, usher.Unauthorized)
	})

	t.Run("disabled user", func(t *testing.T) {
		const email = "disabled@example.com"
		tok := pub.mustRegister(t, email, sessionPassword)
		id := jwtSubject(t, tok)
		pub.wantMe(t, "before", tok) // cached now
		be.disable(t, id).wantStatus(t, "backend disable", http.StatusNoContent)
		pub.wantNoMe(t, "live token of a disabled user", tok)
		pub.login(t, email, sessionPassword).wantNativeError(t, "login of a disabled user", http.StatusUnauthorized, usher.Unauthorized)

		be.enable(t, id).wantStatus(t, "backend enable", http.StatusNoContent)
		pub.wantNoMe(t, "token of a session ended by disable, after enable", tok)
		pub.mustLogin(t, email, sessionPassword)
	})

	t.Run("deleted user", func(t *testing.T) {
		const email = "deleted@example.com"
		tok := pub.mustRegister(t, email, sessionPassword)
		pub.wantMe(t, "before", tok)
		be.delete(t, jwtSubject(t, tok)).wantStatus(t, "backend delete", http.StatusNoContent)
		pub.wantNoMe(t, "token of a deleted user", tok)
		pub.login(t, email, sessionPassword).wantNativeError(t, "login of a deleted user", http.StatusUnauthorized, usher.Unauthorized)
	})
}

func TestPubRequestValidation(t *testing.T) {
	s := startServer(t)
	pub := s.PublicAPI
	const email = "valid@example.com"
	pub.mustRegister(t, email, sessionPassword)

	t.Run("login ignores accountId", func(t *testing.T) {
		for _, id := range []any{s.Tenant.ID, 42, nil, map[string]any{"x": 1}} {
			body := mustJSON(t, map[string]any{"email": email, "password": sessionPassword, "accountId": id})
			pub.do(t, "POST", "/login", body).wantToken(t, "login with accountId "+fmt.Sprint(id))
		}
	})

	for _, tc := range []struct {
		name, email, password string
		code                  usher.Code
	}{
		{"invalid email", "not-an-email", sessionPassword, usher.InvalidEmail},
		{"email with display name", "Ada <ada2@example.com>", sessionPassword, usher.InvalidEmail},
		{"empty email", "", sessionPassword, usher.InvalidEmail},
		{"short password", "short@example.com", "horse7", usher.InvalidPassword},
		{"common password", "common@example.com", "password1", usher.InvalidPassword},
		{"long password", "long@example.com", strings.Repeat("h", 129), usher.InvalidPassword},
	} {
		t.Run("register "+tc.name, func(t *testing.T) {
			r := pub.register(t, tc.email, tc.password)
			r.wantNativeError(t, "register", http.StatusBadRequest, tc.code)
			if msg := errorMessage(t, r.Body); msg == "" {
				t.Error("no reason in the message")
			}
			if strings.Contains(string(r.Body), tc.password) {
				t.Errorf("the refusal echoes the password: %s", r.Body)
			}
		})
	}

	t.Run("register duplicate", func(t *testing.T) {
		for _, dup := range []string{email, "Valid@Example.COM", " valid@example.com "} {
			r := pub.register(t, dup, "another passphrase")
			r.wantNativeError(t, "register "+dup, http.StatusConflict, usher.EmailTaken)
		}
		pub.mustLogin(t, email, sessionPassword) // the first account is untouched
	})

	t.Run("register unknown field", func(t *testing.T) {
		r := pub.do(t, "POST", "/register", mustJSON(t, map[string]any{"email": "extra@example.com", "password": sessionPassword, "role": 1}))
		r.wantNativeError(t, "register with role", http.StatusBadRequest, usher.InvalidJSON)
	})
}

func TestPubJWKS(t *testing.T) {
	s := startServer(t)
	pub := s.PublicAPI
	tok := pub.mustRegister(t, "jwks@example.com", sessionPassword)
	h, _ := jwtSegments(t, tok)

	r, keys := pub.jwks(t)
	if diff := cmp.Diff([]string{h["kid"].(string)}, kids(keys)); diff != "" {
		t.Fatalf("jwks kids, want the token's kid (-want +got):\n%s", diff)
	}
	if got, want := h["alg"], "EdDSA"; got != want {
		t.Errorf("token alg: got %v, want %s", got, want)
	}
	k := keys[0]
	for name, want := range map[string]string{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig"} {
		if got, _ := k[name].(string); got != want {
			t.Errorf("jwk %s: got %q, want %q", name, got, want)
		}
	}
	if _, ok := k["d"]; ok {
		t.Errorf("jwks publishes a private key: %s", r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); strings.Contains(cc, "no-store") || !strings.Contains(cc, "max-age") {
		t.Errorf("jwks Cache-Control = %q, want cacheable (max-age)", cc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("jwks Content-Type = %q", ct)
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Error("jwks has no X-Request-ID")
	}
}

func TestPubEnumeration(t *testing.T) {
	s := startServer(t)
	pub := s.PublicAPI
	const known, disabled = "known@example.com", "off@example.com"
	pub.mustRegister(t, known, sessionPassword)
	off := pub.mustRegister(t, disabled, sessionPassword)
	if err := s.Accounts.SetEnabled(t.Context(), s.Tenant.ID, jwtSubject(t, off), false); err != nil {
		t.Fatal(err)
	}

	t.Run("login", func(t *testing.T) {
		names := []string{"unknown email", "wrong password", "disabled user", "malformed email"}
		rs := []response{
			pub.login(t, "nobody@example.com", sessionPassword),
			pub.login(t, known, "wrong horse battery"),
			pub.login(t, disabled, sessionPassword),
			pub.login(t, "not an email", sessionPassword),
		}
		(rs[0]).wantNativeError(t, names[0], http.StatusUnauthorized, usher.Unauthorized)
		sameResponses(t, "login", names, rs)
	})

	t.Run("password send", func(t *testing.T) {
		names := []string{"known email", "unknown email", "disabled user"}
		rs := []response{pub.passwordSend(t, known), pub.passwordSend(t, "nobody@example.com"), pub.passwordSend(t, disabled)}
		(rs[0]).wantTrue(t, names[0])
		sameResponses(t, "password/send", names, rs)
	})
}

// sameResponses checks that responses are indistinguishable: status, body and
// every header but the request id and date.
func sameResponses(t testing.TB, what string, names []string, rs []response) {
	t.Helper()
	strip := func(h http.Header) http.Header {
		h = h.Clone()
		h.Del("X-Request-ID")
		h.Del("Date")
		return h
	}
	for i := 1; i < len(rs); i++ {
		if rs[i].Status != rs[0].Status || !bytes.Equal(rs[i].Body, rs[0].Body) {
			t.Errorf("%s: %s answered %v, %s answered %v", what, names[0], rs[0], names[i], rs[i])
		}
		if diff := cmp.Diff(strip(rs[0].Header), strip(rs[i].Header)); diff != "" {
			t.Errorf("%s: headers differ (-%s +%s):\n%s", what, names[0], names[i], diff)
		}
	}
}
