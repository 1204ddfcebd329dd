package main

// End-to-end tests of POST /token (refresh tokens) on real servers: the
// flow over HTTP on either engine, and two in-process nodes on one
// PostgreSQL database, where a session ended on one node must refuse its
// refresh token on the other. StaticBackend's /login and /me stay as they
// were.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store/postgres/pgtest"
	"github.com/usherhq/usher/internal/usher"
)

// tokenPair is POST /token's answer.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// passwordGrant is POST /token?grant_type=password.
func (p *publicClient) passwordGrant(t testing.TB, email, pw string) response {
	t.Helper()
	return p.do(t, "POST", "/token?grant_type=password", mustJSON(t, map[string]string{"email": email, "password": pw}))
}

// refreshGrant is POST /token?grant_type=refresh_token.
func (p *publicClient) refreshGrant(t testing.TB, rt string) response {
	t.Helper()
	return p.do(t, "POST", "/token?grant_type=refresh_token", mustJSON(t, map[string]string{"refresh_token": rt}))
}

// wantPair returns the pair of a 200 answer of POST /token, after checking
// its shape: exactly the four fields, Bearer, no-store, an access token
// whose exp is expires_in after its iat.
func (r response) wantPair(t testing.TB, what string, ttl time.Duration) tokenPair {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: got %v, want 200 with a pair", what, r)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, got)
	}
	var fields map[string]json.RawMessage
	r.decode(t, what, &fields)
	if got := strings.Join(keys(fields), ","); got != "access_token,expires_in,refresh_token,token_type" {
		t.Errorf("%s: body fields %s, want access_token, expires_in, refresh_token, token_type", what, got)
	}
	var p tokenPair
	r.decode(t, what, &p)
	if p.TokenType != "Bearer" || !strings.HasPrefix(p.RefreshToken, "rt_") {
		t.Errorf("%s: token_type %q, refresh_token %q: want Bearer and rt_…", what, p.TokenType, p.RefreshToken)
	}
	if p.ExpiresIn != int(ttl.Seconds()) {
		t.Errorf("%s: expires_in %d, want %d", what, p.ExpiresIn, int(ttl.Seconds()))
	}
	_, c := jwtSegments(t, p.AccessToken)
	if exp, iat := c["exp"].(int64), c["iat"].(int64); exp-iat != int64(p.ExpiresIn) {
		t.Errorf("%s: access token lasts %d s (iat %d, exp %d), want expires_in %d", what, exp-iat, iat, exp, p.ExpiresIn)
	}
	return p
}

// wantNoGrant checks POST /token's refusal of a refresh token.
func (r response) wantNoGrant(t testing.TB, what string) {
	t.Helper()
	r.wantNativeError(t, what, http.StatusUnauthorized, usher.Unauthorized)
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, got)
	}
}

// wantLoginUnchanged checks StaticBackend's /login and /me as they were
// before POST /token: a JWT as a JSON string for the session TTL, and
// /me's five fields.
func wantLoginUnchanged(t *testing.T, pub *publicClient, email, pw string, ttl time.Duration) {
	t.Helper()
	tok := pub.mustLogin(t, email, pw)
	_, c := jwtSegments(t, tok)
	if exp, iat := c["exp"].(int64), c["iat"].(int64); exp-iat != int64(ttl.Seconds()) {
		t.Errorf("/login's token lasts %d s, want the token TTL %v", exp-iat, ttl)
	}
	r := pub.me(t, tok).wantStatus(t, "GET /me with /login's token", http.StatusOK)
	var me map[string]any
	r.decode(t, "GET /me", &me)
	if got := strings.Join(keys(me), ","); got != "accountId,confirmed,email,role,userId" {
		t.Errorf("GET /me fields: got %s, want accountId, confirmed, email, role, userId", got)
	}
	if me["email"] != email || me["userId"] != jwtSubject(t, tok) {
		t.Errorf("GET /me: got %v, want %s", me, email)
	}
	pub.logout(t, tok).wantStatus(t, "POST /logout with /login's token", http.StatusNoContent)
	pub.wantNoMe(t, "/login's token after logout", tok)
}

func TestRefreshE2E(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock.Use)
	pub, be := s.PublicAPI, s.BackendAPI
	ttl := s.Config.AccessTokenTTL
	const email = "refresh@example.com"
	id := be.newUser(t, email, sessionPassword)

	first := pub.passwordGrant(t, email, sessionPassword).wantPair(t, "password grant", ttl)
	if me := pub.mustMe(t, first.AccessToken); me.UserID != id || me.Email != email {
		t.Fatalf("GET /me with the grant's access token: got %+v, want %s", me, id)
	}
	clock.Advance(5 * time.Minute)
	second := pub.refreshGrant(t, first.RefreshToken).wantPair(t, "refresh", ttl)
	if second.RefreshToken == first.RefreshToken || jwtSubject(t, second.AccessToken) != id {
		t.Fatalf("refresh: want a new refresh token and an access token of %s", id)
	}
	pub.wantMe(t, "the refreshed access token", second.AccessToken)

	retry := pub.refreshGrant(t, first.RefreshToken).wantPair(t, "a retry within the grace", ttl)
	if retry.RefreshToken != second.RefreshToken {
		t.Errorf("a retry within the grace: got another refresh token, want the first refresh's")
	}

	clock.Advance(account.RefreshGrace + time.Second)
	pub.refreshGrant(t, first.RefreshToken).wantNoGrant(t, "the rotated refresh token after the grace")
	pub.refreshGrant(t, second.RefreshToken).wantNoGrant(t, "the newest refresh token after reuse")
	pub.wantNoMe(t, "the newest access token after reuse", second.AccessToken)
	_, raw := auditEvents(t, be, account.AuditSessionEnded)
	reused := 0
	for _, ev := range raw {
		if strings.Contains(string(ev), `"refresh_token_reused"`) {
			reused++
		}
		if strings.Contains(string(ev), strings.TrimPrefix(first.RefreshToken, "rt_")) {
			t.Errorf("an audit event holds a refresh token: %s", ev)
		}
	}
	if reused != 1 {
		t.Errorf("session.ended events with reason refresh_token_reused: got %d, want 1", reused)
	}

	// Wrong passwords: /token answers as /login does.
	bad := mustJSON(t, map[string]string{"email": email, "password": newPassword})
	login, grant := pub.do(t, "POST", "/login", bad), pub.do(t, "POST", "/token?grant_type=password", bad)
	if login.Status != http.StatusUnauthorized || grant.Status != login.Status || string(grant.Body) != string(login.Body) {
		t.Errorf("a wrong password: /login %v, /token %v; want one 401 answer", login, grant)
	}

	// Over HTTP, the backend's changes end refresh tokens as they end
	// sessions.
	for _, tt := range []struct {
		name string
		end  func(t *testing.T, p tokenPair) response
	}{
		{"logout", func(t *testing.T, p tokenPair) response { return pub.logout(t, p.AccessToken) }},
		{"backend password", func(t *testing.T, _ tokenPair) response { return be.setPassword(t, id, sessionPassword) }},
		{"backend disable", func(t *testing.T, _ tokenPair) response { return be.disable(t, id) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			be.enable(t, id).wantStatus(t, "enable", http.StatusNoContent)
			p := pub.passwordGrant(t, email, sessionPassword).wantPair(t, "password grant", ttl)
			tt.end(t, p).wantStatus(t, tt.name, http.StatusNoContent)
			pub.refreshGrant(t, p.RefreshToken).wantNoGrant(t, "refresh after "+tt.name)
			pub.wantNoMe(t, "access token after "+tt.name, p.AccessToken)
		})
	}
	be.enable(t, id).wantStatus(t, "enable", http.StatusNoContent)
	wantLoginUnchanged(t, pub, email, sessionPassword, s.Config.TokenTTL)
}

// TestRefreshTwoNodes runs two in-process nodes on one PostgreSQL
// database, always (it skips without one): every refresh-token rule is
// the database's, so a session ended on one node ends on the other at
// once.
func TestRefreshTwoNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	key := newSecretKey()
	clock := newTestClock()
	node := func(m *Main) {
		m.Config.DB, m.Config.SecretKey = dsn, key
		m.Config.PublicURL = nodePublicURL
		clock.Use(m)
	}
	a, b := startServer(t, node), startServer(t, node)
	if a.Tenant.PublicKey != b.Tenant.PublicKey {
		t.Fatalf("tenant keys: A %q, B %q; want one tenant", a.Tenant.PublicKey, b.Tenant.PublicKey)
	}
	pubA, pubB := a.PublicAPI, b.PublicAPI
	ttl := a.Config.AccessTokenTTL
	const email = "nodes@example.com"
	id := a.BackendAPI.newUser(t, email, sessionPassword)

	t.Run("a pair from A refreshes on B", func(t *testing.T) {
		p := pubA.passwordGrant(t, email, sessionPassword).wantPair(t, "grant on A", ttl)
		pubB.wantMe(t, "A's access token on B", p.AccessToken)
		q := pubB.refreshGrant(t, p.RefreshToken).wantPair(t, "refresh on B", ttl)
		pubA.wantMe(t, "B's access token on A", q.AccessToken)
		pubA.refreshGrant(t, q.RefreshToken).wantPair(t, "refresh on A", ttl)
	})

	t.Run("logout on A, refresh refused on B", func(t *testing.T) {
		p := pubB.passwordGrant(t, email, sessionPassword).wantPair(t, "grant on B", ttl)
		q := pubB.refreshGrant(t, p.RefreshToken).wantPair(t, "refresh on B", ttl)
		pubB.wantMe(t, "before logout (cached on B now)", q.AccessToken)
		pubA.logout(t, q.AccessToken).wantStatus(t, "logout on A", http.StatusNoContent)
		pubB.refreshGrant(t, q.RefreshToken).wantNoGrant(t, "refresh on B after logout on A")
		pubB.refreshGrant(t, p.RefreshToken).wantNoGrant(t, "the rotated token on B after logout on A, within the grace")
		pubB.wantNoMe(t, "access token on B after logout on A", q.AccessToken)
	})

	t.Run("password change on A, refresh refused on B", func(t *testing.T) {
		p := pubA.passwordGrant(t, email, sessionPassword).wantPair(t, "grant on A", ttl)
		other := pubB.passwordGrant(t, email, sessionPassword).wantPair(t, "another grant, on B", ttl)
		pubB.wantMe(t, "before the change (cached on B now)", p.AccessToken)
		a.BackendAPI.setPassword(t, id, newPassword).wantStatus(t, "password change on A", http.StatusNoContent)
		pubB.refreshGrant(t, p.RefreshToken).wantNoGrant(t, "refresh on B after a password change on A")
		pubB.refreshGrant(t, other.RefreshToken).wantNoGrant(t, "B's own session after a password change on A")
		pubB.wantNoMe(t, "access token on B after a password change on A", p.AccessToken)
		pubB.passwordGrant(t, email, sessionPassword).wantNativeError(t, "the old password on B", http.StatusUnauthorized, usher.Unauthorized)
		b.BackendAPI.setPassword(t, id, sessionPassword).wantStatus(t, "password back, on B", http.StatusNoContent)
	})

	t.Run("reuse on B ends the session refreshed on A", func(t *testing.T) {
		p := pubA.passwordGrant(t, email, sessionPassword).wantPair(t, "grant on A", ttl)
		q := pubA.refreshGrant(t, p.RefreshToken).wantPair(t, "refresh on A", ttl)
		retry := pubB.refreshGrant(t, p.RefreshToken).wantPair(t, "a retry on B within the grace", ttl)
		if retry.RefreshToken != q.RefreshToken {
			t.Errorf("a retry on B within the grace: another refresh token than A's refresh gave")
		}
		clock.Advance(account.RefreshGrace + time.Second)
		pubB.refreshGrant(t, p.RefreshToken).wantNoGrant(t, "reuse on B")
		pubA.refreshGrant(t, q.RefreshToken).wantNoGrant(t, "the newest token on A after reuse on B")
		pubA.wantNoMe(t, "the newest access token on A after reuse on B", q.AccessToken)
	})

	t.Run("concurrent refreshes on both nodes", func(t *testing.T) {
		p := pubA.passwordGrant(t, email, sessionPassword).wantPair(t, "grant on A", ttl)
		const n = 10
		got := make([]response, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			node := pubA
			if i%2 == 1 {
				node = pubB
			}
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				req, err := http.NewRequestWithContext(ctx, "POST", node.base+"/token?grant_type=refresh_token",
					strings.NewReader(`{"refresh_token":"`+p.RefreshToken+`"}`))
				if err != nil {
					errs[i] = err
					return
				}
				req.Header.Set("SB-PUBLIC-KEY", node.key)
				req.Header.Set("Content-Type", "application/json")
				got[i], errs[i] = send(node.http, req)
			})
		}
		wg.Wait()
		newest := map[string]bool{}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("refresh %d: %v", i, errs[i])
			}
			switch got[i].Status {
			case http.StatusOK:
				var q tokenPair
				got[i].decode(t, "a concurrent refresh", &q)
				newest[q.RefreshToken] = true
			case http.StatusUnauthorized:
			default:
				t.Errorf("a concurrent refresh: got %v, want 200 or 401", got[i])
			}
		}
		if len(newest) != 1 {
			t.Fatalf("concurrent refreshes on two nodes gave %d different new refresh tokens, want exactly 1", len(newest))
		}
		for rt := range newest {
			clock.Advance(time.Minute)
			pubB.refreshGrant(t, rt).wantPair(t, "the one new token", ttl)
		}
	})

	t.Run("StaticBackend's /login and /me unchanged on both nodes", func(t *testing.T) {
		wantLoginUnchanged(t, pubA, email, sessionPassword, a.Config.TokenTTL)
		wantLoginUnchanged(t, pubB, email, sessionPassword, b.Config.TokenTTL)
	})
}
