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

// pubSigner is a signing key of the test server, private part included.
type pubSigner struct {
	kid  string
	priv ed25519.PrivateKey
}

// pubSigningKeys opens the server's signing keys by kid.
func pubSigningKeys(t testing.TB, s *testServer) map[string]pubSigner {
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
	out := map[string]pubSigner{}
	for _, sk := range keys {
		// The seal context is the keyring's ("signing-key:" + kid).
		seed, err := box.Open(sk.Private, "signing-key:"+sk.KID)
		if err != nil {
			t.Fatalf("open signing key %s: %v", sk.KID, err)
		}
		out[sk.KID] = pubSigner{kid: sk.KID, priv: ed25519.NewKeyFromSeed(seed)}
	}
	return out
}

// pubSign signs claims as a compact JWS with EdDSA; typ "" leaves the
// header without typ, kid "" without kid.
func pubSign(t testing.TB, priv ed25519.PrivateKey, kid, typ string, claims map[string]any) string {
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

// pubCompact builds a compact JWS by hand, with whatever header and
// signature an attacker likes.
func pubCompact(t testing.TB, header, claims map[string]any, sign func(input []byte) []byte) string {
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

// pubWith returns a copy of claims with changes applied (nil deletes).
func pubWith(claims map[string]any, changes map[string]any) map[string]any {
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

// pubReplacePayload swaps a token's payload and keeps its signature.
func pubReplacePayload(t testing.TB, tok string, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

func TestTokenAttacks(t *testing.T) {
	clock := newPubClock()
	s := startServer(t, clock.Use)
	a := pubClient(t, s)
	victim := a.register("victim@example.com", pubPassword)
	other := a.register("other@example.com", pubPassword)
	header, claims := pubSegments(t, victim)
	kid := header["kid"].(string)
	keys := pubSigningKeys(t, s)
	cur, ok := keys[kid]
	if !ok {
		t.Fatalf("the token's kid %s is not among the stored keys", kid)
	}
	now := clock.Now().Unix()

	t.Run("control: a re-signed copy is accepted", func(t *testing.T) {
		a := a.on(t)
		tok := pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"jti": usher.NewID(clock.Now())}))
		a.wantMe("re-signed copy", tok)
	})

	_, jwksKeys := pubJWKS(t, a)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(pubMust(json.Marshal(map[string]any{"keys": jwksKeys})), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("jwks has %d keys, want 1", len(set.Keys))
	}
	pub, ok := set.Keys[0].Key.(ed25519.PublicKey)
	if !ok {
		t.Fatalf("jwks key is %T, want ed25519.PublicKey", set.Keys[0].Key)
	}
	x, _ := jwksKeys[0]["x"].(string)
	jwkJSON := pubMust(json.Marshal(jwksKeys[0]))

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
	otherSub := pubSubject(t, other)

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
		{"alg none", pubCompact(t, hdr("none"), claims, func([]byte) []byte { return nil })},
		{"alg none with the real signature", strings.Join([]string{
			base64.RawURLEncoding.EncodeToString(pubMust(json.Marshal(hdr("none")))),
			strings.Split(victim, ".")[1], strings.Split(victim, ".")[2]}, ".")},
		{"HS256 keyed with the raw public key", pubCompact(t, hdr("HS256"), claims, hmacWith(pub))},
		{"HS256 keyed with the jwk x", pubCompact(t, hdr("HS256"), claims, hmacWith([]byte(x)))},
		{"HS256 keyed with the jwk", pubCompact(t, hdr("HS256"), claims, hmacWith(jwkJSON))},
		{"tampered payload: another sub", pubReplacePayload(t, victim, pubWith(claims, map[string]any{"sub": otherSub}))},
		{"tampered payload: later exp", pubReplacePayload(t, victim, pubWith(claims, map[string]any{"exp": now + 86400*365}))},
		{"tampered signature", sigFlipped()},
		{"no signature", strings.Join(strings.Split(victim, ".")[:2], ".") + "."},
		{"unknown kid", pubCompact(t, map[string]any{"alg": "EdDSA", "kid": "unknown-kid", "typ": token.Type}, claims, edWith(ownKey))},
		// Without Usher's key an attacker can only name a known kid and
		// sign with their own key: the signature must then fail.
		{"known kid, own key", pubCompact(t, hdr("EdDSA"), claims, edWith(ownKey))},
		{"no kid", pubSign(t, cur.priv, "", token.Type, claims)},
		{"typ JWT", pubSign(t, cur.priv, kid, "JWT", claims)},
		{"no typ", pubSign(t, cur.priv, kid, "", claims)},
		{"wrong iss", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"iss": "https://evil.example.com"}))},
		{"no iss", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"iss": nil}))},
		{"wrong aud", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"aud": usher.NewID(clock.Now())}))},
		{"two audiences", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"aud": []string{s.Tenant.ID, usher.NewID(clock.Now())}}))},
		{"expired", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"iat": now - 7200, "nbf": now - 7200, "exp": now - 60}))},
		{"no exp", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"exp": nil}))},
		{"nbf in the future", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"nbf": now + 3600}))},
		{"no nbf", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"nbf": nil}))},
		{"sub of another user", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"sub": otherSub}))},
		{"no sid", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"sid": nil}))},
		{"unknown sid", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"sid": usher.NewID(clock.Now())}))},
		{"garbage", "not.a.token"},
		{"huge", pubSign(t, cur.priv, kid, token.Type, pubWith(claims, map[string]any{"pad": strings.Repeat("x", 5000)}))},
	}
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			a := a.on(t)
			a.wantNoMe(at.name, at.tok)
		})
	}

	t.Run("victim token still valid", func(t *testing.T) {
		a := a.on(t)
		a.wantMe("the original token", victim)
	})
}

func TestTokenExpiry(t *testing.T) {
	clock := newPubClock()
	s := startServer(t, clock.Use)
	a := pubClient(t, s)
	tok := a.register("expiry@example.com", pubPassword)

	a.wantMe("fresh", tok) // in the verified-token cache from here on
	clock.Advance(11*time.Hour + 59*time.Minute)
	a.wantMe("after 11h59m", tok)
	clock.Advance(time.Minute + 10*time.Second) // past exp and its leeway
	a.wantNoMe("after 12h", tok)
}

func TestTokenNotBefore(t *testing.T) {
	clock := newPubClock()
	s := startServer(t, clock.Use)
	a := pubClient(t, s)
	start := clock.Now()

	clock.Set(start.Add(time.Hour))
	tok := a.register("nbf@example.com", pubPassword) // nbf = start+1h
	clock.Set(start)
	a.wantNoMe("an hour before nbf", tok)
	clock.Set(start.Add(time.Hour + time.Minute))
	a.wantMe("after nbf", tok)
}

func TestTokenOtherTenant(t *testing.T) {
	s := startServer(t)
	a := pubClient(t, s)
	t2, err := s.Store.EnsureTenant(t.Context(), usher.Tenant{
		ID: usher.NewID(time.Now()), Name: "second", PublicKey: "pk_second_tenant_for_tokens_test", CreatedAt: time.Now().UTC(),
	})
	if err != nil {
		t.Fatal(err)
	}
	a2 := a.withKey(t2.PublicKey)
	const email = "two-tenants@example.com"
	tok2 := a2.register(email, pubPassword)
	tok1 := a.register(email, pubPassword) // the same address is another account here

	if _, c := pubSegments(t, tok2); c["aud"] != t2.ID && cmp.Diff([]any{t2.ID}, c["aud"]) != "" {
		t.Fatalf("aud of the second tenant's token: got %v, want %s", c["aud"], t2.ID)
	}
	a2.wantMe("tenant 2 token with tenant 2 key", tok2)
	a.wantNoMe("tenant 2 token with tenant 1 key", tok2)
	a2.wantNoMe("tenant 1 token with tenant 2 key", tok1)
	a.wantMe("tenant 1 token with tenant 1 key", tok1)
}

func TestTokenKeyRotation(t *testing.T) {
	clock := newPubClock()
	s := startServer(t, clock.Use)
	a := pubClient(t, s)
	const email = "rotate@example.com"
	old := a.register(email, pubPassword) // not verified before the rotation, so not cached
	oh, _ := pubSegments(t, old)
	oldKid := oh["kid"].(string)

	clock.Advance(time.Hour)
	newKid, err := s.Keys.Rotate(t.Context(), clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if newKid == oldKid {
		t.Fatal("rotation kept the kid")
	}
	a.wantMe("token of the retired key", old)
	fresh := a.mustLogin(email, pubPassword)
	if fh, _ := pubSegments(t, fresh); fh["kid"] != newKid {
		t.Fatalf("token after rotation signed by %v, want the new key %s", fh["kid"], newKid)
	}
	a.wantMe("token of the new key", fresh)
	_, keys := pubJWKS(t, a)
	if diff := cmp.Diff([]string{newKid, oldKid}, pubKIDs(keys)); diff != "" {
		t.Fatalf("jwks kids after rotation, newest first (-want +got):\n%s", diff)
	}

	t.Run("retired key stops verifying after the token lifetime", func(t *testing.T) {
		a := a.on(t)
		clock.Advance(s.Config.TokenTTL + time.Minute)
		tok := a.mustLogin(email, pubPassword) // a live session at the new time
		_, claims := pubSegments(t, tok)
		keys := pubSigningKeys(t, s)
		a.wantMe("control: signed by the current key", pubSign(t, keys[newKid].priv, newKid, token.Type, pubWith(claims, map[string]any{"jti": "control"})))
		a.wantNoMe("signed by the key retired a token lifetime ago", pubSign(t, keys[oldKid].priv, oldKid, token.Type, claims))
	})
}

// pubMust returns v, panicking on err (for values that cannot fail).
func pubMust(v []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return v
}
