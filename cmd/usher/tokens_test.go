package main

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// Token attacks against GET /me. Forgeries that need Usher's private key
// are made with the real key, read the way an operator could (the data
// key in the data directory opens the sealed key in the database), so each
// forged token differs from a valid one only in the claim under test; a
// re-signed copy of a real token is the control that the forger is right.

// signer is a signing key of the test server, private part included.
type signer struct {
	kid  string
	priv ed25519.PrivateKey
}

// signingKeys opens the server's signing keys by kid.
func signingKeys(t testing.TB, s *testServer) map[string]signer {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(s.Config.Data, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	box, err := token.NewBox(k)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.Store.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]signer{}
	for _, sk := range keys {
		// The seal context is the keyring's ("signing-key:" + kid).
		seed, err := box.Open(sk.Private, "signing-key:"+sk.KID)
		if err != nil {
			t.Fatalf("open signing key %s: %v", sk.KID, err)
		}
		out[sk.KID] = signer{kid: sk.KID, priv: ed25519.NewKeyFromSeed(seed)}
	}
	return out
}

// signJWT signs claims as a compact JWS with EdDSA; typ "" leaves the
// header without typ, kid "" without kid.
func signJWT(t testing.TB, priv ed25519.PrivateKey, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: priv, KeyID: kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// compactJWS builds a compact JWS by hand, with whatever header and
// signature an attacker likes.
func compactJWS(t testing.TB, header, claims map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(input)))
}

// withClaims returns a copy of claims with changes applied (nil deletes).
func withClaims(claims map[string]any, changes map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range claims {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// replacePayload swaps a token's payload and keeps its signature.
func replacePayload(t testing.TB, tok string, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

func TestTokenAttacks(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock.Use)
	pub := s.PublicAPI
	victim := pub.mustRegister(t, "victim@example.com", sessionPassword)
	other := pub.mustRegister(t, "other@example.com", sessionPassword)
	header, claims := jwtSegments(t, victim)
	kid := header["kid"].(string)
	keys := signingKeys(t, s)
	cur, ok := keys[kid]
	if !ok {
		t.Fatalf("the token's kid %s is not among the stored keys", kid)
	}
	now := clock.Now().Unix()

	t.Run("control: a re-signed copy is accepted", func(t *testing.T) {
		tok := signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"jti": usher.NewID(clock.Now())}))
		pub.wantMe(t, "re-signed copy", tok)
	})

	_, jwksKeys := pub.jwks(t)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(must(json.Marshal(map[string]any{"keys": jwksKeys})), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("jwks has %d keys, want 1", len(set.Keys))
	}
	pubKey, ok := set.Keys[0].Key.(ed25519.PublicKey)
	if !ok {
		t.Fatalf("jwks key is %T, want ed25519.PublicKey", set.Keys[0].Key)
	}
	x, _ := jwksKeys[0]["x"].(string)
	jwkJSON := must(json.Marshal(jwksKeys[0]))

	hmacWith := func(secret []byte) func([]byte) []byte {
		return func(in []byte) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write(in)
			return m.Sum(nil)
		}
	}
	_, ownKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edWith := func(k ed25519.PrivateKey) func([]byte) []byte {
		return func(in []byte) []byte { return ed25519.Sign(k, in) }
	}
	hdr := func(alg string) map[string]any { return map[string]any{"alg": alg, "kid": kid, "typ": token.Type} }
	otherSub := jwtSubject(t, other)

	sigFlipped := func() string {
		parts := strings.Split(victim, ".")
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		sig[10] ^= 0x01
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}

	attacks := []struct {
		name string
		tok  string
	}{
		{"alg none", compactJWS(t, hdr("none"), claims, func([]byte) []byte { return nil })},
		{"alg none with the real signature", strings.Join([]string{
			base64.RawURLEncoding.EncodeToString(must(json.Marshal(hdr("none")))),
			strings.Split(victim, ".")[1], strings.Split(victim, ".")[2]}, ".")},
		{"HS256 keyed with the raw public key", compactJWS(t, hdr("HS256"), claims, hmacWith(pubKey))},
		{"HS256 keyed with the jwk x", compactJWS(t, hdr("HS256"), claims, hmacWith([]byte(x)))},
		{"HS256 keyed with the jwk", compactJWS(t, hdr("HS256"), claims, hmacWith(jwkJSON))},
		{"tampered payload: another sub", replacePayload(t, victim, withClaims(claims, map[string]any{"sub": otherSub}))},
		{"tampered payload: later exp", replacePayload(t, victim, withClaims(claims, map[string]any{"exp": now + 86400*365}))},
		{"tampered signature", sigFlipped()},
		{"no signature", strings.Join(strings.Split(victim, ".")[:2], ".") + "."},
		{"unknown kid", compactJWS(t, map[string]any{"alg": "EdDSA", "kid": "unknown-kid", "typ": token.Type}, claims, edWith(ownKey))},
		// Without Usher's key an attacker can only name a known kid and
		// sign with their own key: the signature must then fail.
		{"known kid, own key", compactJWS(t, hdr("EdDSA"), claims, edWith(ownKey))},
		{"no kid", signJWT(t, cur.priv, "", token.Type, claims)},
		{"typ JWT", signJWT(t, cur.priv, kid, "JWT", claims)},
		{"no typ", signJWT(t, cur.priv, kid, "", claims)},
		{"wrong iss", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"iss": "https://evil.example.com"}))},
		{"no iss", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"iss": nil}))},
		{"wrong aud", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"aud": usher.NewID(clock.Now())}))},
		{"two audiences", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"aud": []string{s.Tenant.ID, usher.NewID(clock.Now())}}))},
		{"expired", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"iat": now - 7200, "nbf": now - 7200, "exp": now - 60}))},
		{"no exp", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"exp": nil}))},
		{"nbf in the future", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"nbf": now + 3600}))},
		{"no nbf", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"nbf": nil}))},
		{"sub of another user", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"sub": otherSub}))},
		{"no sid", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"sid": nil}))},
		{"unknown sid", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"sid": usher.NewID(clock.Now())}))},
		{"garbage", "not.a.token"},
		{"huge", signJWT(t, cur.priv, kid, token.Type, withClaims(claims, map[string]any{"pad": strings.Repeat("x", 5000)}))},
	}
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			pub.wantNoMe(t, at.name, at.tok)
		})
	}

	t.Run("victim token still valid", func(t *testing.T) {
		pub.wantMe(t, "the original token", victim)
	})
}

func TestTokenExpiry(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock.Use)
	pub := s.PublicAPI
	tok := pub.mustRegister(t, "expiry@example.com", sessionPassword)

	pub.wantMe(t, "fresh", tok) // in the verified-token cache from here on
	clock.Advance(11*time.Hour + 59*time.Minute)
	pub.wantMe(t, "after 11h59m", tok)
	clock.Advance(time.Minute + 10*time.Second) // past exp and its leeway
	pub.wantNoMe(t, "after 12h", tok)
}

func TestTokenNotBefore(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock.Use)
	pub := s.PublicAPI
	start := clock.Now()

	clock.Set(start.Add(time.Hour))
	tok := pub.mustRegister(t, "nbf@example.com", sessionPassword) // nbf = start+1h
	clock.Set(start)
	pub.wantNoMe(t, "an hour before nbf", tok)
	clock.Set(start.Add(time.Hour + time.Minute))
	pub.wantMe(t, "after nbf", tok)
}

func TestTokenOtherTenant(t *testing.T) {
	s := startServer(t)
	pub := s.PublicAPI
	t2, err := s.Store.EnsureTenant(t.Context(), usher.Tenant{
		ID: usher.NewID(time.Now()), Name: "second", PublicKey: "pk_second_tenant_for_tokens_test", CreatedAt: time.Now().UTC(),
	})
	if err != nil {
		t.Fatal(err)
	}
	pub2 := pub.withKey(t2.PublicKey)
	const email = "two-tenants@example.com"
	tok2 := pub2.mustRegister(t, email, sessionPassword)
	tok1 := pub.mustRegister(t, email, sessionPassword) // the same address is another account here

	if _, c := jwtSegments(t, tok2); c["aud"] != t2.ID && cmp.Diff([]any{t2.ID}, c["aud"]) != "" {
		t.Fatalf("aud of the second tenant's token: got %v, want %s", c["aud"], t2.ID)
	}
	pub2.wantMe(t, "tenant 2 token with tenant 2 key", tok2)
	pub.wantNoMe(t, "tenant 2 token with tenant 1 key", tok2)
	pub2.wantNoMe(t, "tenant 1 token with tenant 2 key", tok1)
	pub.wantMe(t, "tenant 1 token with tenant 1 key", tok1)
}

func TestTokenKeyRotation(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock.Use)
	pub := s.PublicAPI
	const email = "rotate@example.com"
	old := pub.mustRegister(t, email, sessionPassword) // not verified before the rotation, so not cached
	oh, _ := jwtSegments(t, old)
	oldKid := oh["kid"].(string)

	clock.Advance(time.Hour)
	newKid, err := s.Keys.Rotate(t.Context(), clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if newKid == oldKid {
		t.Fatal("rotation kept the kid")
	}
	pub.wantMe(t, "token of the retired key", old)
	fresh := pub.mustLogin(t, email, sessionPassword)
	if fh, _ := jwtSegments(t, fresh); fh["kid"] != newKid {
		t.Fatalf("token after rotation signed by %v, want the new key %s", fh["kid"], newKid)
	}
	pub.wantMe(t, "token of the new key", fresh)
	_, keys := pub.jwks(t)
	if diff := cmp.Diff([]string{newKid, oldKid}, kids(keys)); diff != "" {
		t.Fatalf("jwks kids after rotation, newest first (-want +got):\n%s", diff)
	}

	t.Run("retired key stops verifying after the token lifetime", func(t *testing.T) {
		clock.Advance(s.Config.TokenTTL + time.Minute)
		tok := pub.mustLogin(t, email, sessionPassword) // a live session at the new time
		_, claims := jwtSegments(t, tok)
		keys := signingKeys(t, s)
		pub.wantMe(t, "control: signed by the current key", signJWT(t, keys[newKid].priv, newKid, token.Type, withClaims(claims, map[string]any{"jti": "control"})))
		pub.wantNoMe(t, "signed by the key retired a token lifetime ago", signJWT(t, keys[oldKid].priv, oldKid, token.Type, claims))
	})
}

// must returns v, panicking on err (for values that cannot fail).
func must(v []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return v
}
