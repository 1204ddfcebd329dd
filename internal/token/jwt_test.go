package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/usher"
)

// testTokens is a Tokens on an in-memory keyring with a settable clock.
type testTokens struct {
	*Tokens
	ring  *Keyring
	store *fakeKeyStore
	mu    sync.Mutex
	now   time.Time
}

const (
	testIssuer = "https://auth.example.com"
	testTenant = "00000000-0000-7000-8000-000000000001"
)

func newTestTokens(t *testing.T, cacheSize int) *testTokens {
	t.Helper()
	tt := &testTokens{store: &fakeKeyStore{}, now: time.Now().UTC().Truncate(time.Second)}
	tt.ring = NewKeyring(tt.store, testBox(t), 12*time.Hour)
	if err := tt.ring.Ensure(context.Background(), tt.now); err != nil {
		t.Fatal(err)
	}
	tt.Tokens = NewTokens(tt.ring, testIssuer, cacheSize, tt.Now)
	return tt
}

func (tt *testTokens) Now() time.Time {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.now
}

func (tt *testTokens) Set(now time.Time) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.now = now
}

func (tt *testTokens) session() usher.Session {
	now := tt.Now()
	return usher.Session{
		ID: usher.NewID(now), TenantID: testTenant, UserID: usher.NewID(now),
		CreatedAt: now, ExpiresAt: now.Add(12 * time.Hour),
	}
}

func (tt *testTokens) issue(t *testing.T, s usher.Session) string {
	t.Helper()
	tok, err := tt.Issue(s)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// forge signs claims with the ring's current key, as Issue would, but with
// the given typ ("" for none).
func (tt *testTokens) forge(t *testing.T, typ string, claims any) string {
	t.Helper()
	key, err := tt.ring.currentSigner()
	if err != nil {
		t.Fatal(err)
	}
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: key.priv, KeyID: key.kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// claimsOf are the claims Issue puts in a token for s.
func claimsOf(s usher.Session, issuer string) map[string]any {
	return map[string]any{
		"iss": issuer, "sub": s.UserID, "aud": s.TenantID, "iat": s.CreatedAt.Unix(), "nbf": s.CreatedAt.Unix(),
		"exp": s.ExpiresAt.Unix(), "jti": usher.NewID(s.CreatedAt), "sid": s.ID,
	}
}

func wantInvalid(t *testing.T, what string, c Claims, err error) {
	t.Helper()
	if usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("%s: got %+v, %v; want an unauthorized error", what, c, err)
	}
}

func TestTokenIssueVerify(t *testing.T) {
	ctx := context.Background()

	t.Run("round trip", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		s := tt.session()
		got, err := tt.Verify(ctx, tt.issue(t, s), testTenant)
		if err != nil {
			t.Fatal(err)
		}
		if !usher.ValidID(got.ID) {
			t.Errorf("jti %q is not an id", got.ID)
		}
		want := Claims{UserID: s.UserID, TenantID: s.TenantID, SessionID: s.ID, ID: got.ID, Expiry: s.ExpiresAt}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
	})

	t.Run("header", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		tok, err := jwt.ParseSigned(tt.issue(t, tt.session()), []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		h := tok.Headers[0]
		signer, _ := tt.ring.currentSigner()
		if h.Algorithm != "EdDSA" || h.KeyID != signer.kid || h.ExtraHeaders[jose.HeaderType] != Type {
			t.Errorf("header: alg %s kid %s typ %v; want EdDSA %s %s", h.Algorithm, h.KeyID, h.ExtraHeaders[jose.HeaderType], signer.kid, Type)
		}
	})

	t.Run("control: a forged copy of Issue's claims verifies", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		if _, err := tt.Verify(ctx, tt.forge(t, Type, claimsOf(tt.session(), testIssuer)), testTenant); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("issuer", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		tok := tt.issue(t, tt.session())
		other := NewTokens(tt.ring, "https://other.example.com", 0, tt.Now)
		c, err := other.Verify(ctx, tok, testTenant)
		wantInvalid(t, "verify by another issuer", c, err)
		c, err = tt.Verify(ctx, tt.forge(t, Type, claimsOf(tt.session(), "https://other.example.com")), testTenant)
		wantInvalid(t, "token of another issuer", c, err)
	})

	t.Run("audience", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		c, err := tt.Verify(ctx, tt.issue(t, tt.session()), usher.NewID(time.Now()))
		wantInvalid(t, "verify for another tenant", c, err)
		claims := claimsOf(tt.session(), testIssuer)
		claims["aud"] = []string{testTenant, usher.NewID(time.Now())}
		c, err = tt.Verify(ctx, tt.forge(t, Type, claims), testTenant)
		wantInvalid(t, "token for two audiences", c, err)
	})

	t.Run("expiry", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		s := tt.session()
		tok := tt.issue(t, s)
		tt.Set(s.ExpiresAt.Add(leeway - time.Second))
		if _, err := tt.Verify(ctx, tok, testTenant); err != nil {
			t.Fatalf("within the leeway after exp: %v", err)
		}
		tt.Set(s.ExpiresAt.Add(leeway + time.Second))
		c, err := tt.Verify(ctx, tok, testTenant)
		wantInvalid(t, "past exp", c, err)
	})

	t.Run("not before", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		s := tt.session()
		tok := tt.issue(t, s)
		tt.Set(s.CreatedAt.Add(-leeway - time.Second))
		c, err := tt.Verify(ctx, tok, testTenant)
		wantInvalid(t, "before nbf", c, err)
		tt.Set(s.CreatedAt)
		if _, err := tt.Verify(ctx, tok, testTenant); err != nil {
			t.Fatalf("at nbf: %v", err)
		}
	})

	t.Run("type", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		for _, typ := range []string{"", "JWT", "at+JWT ", "id_token+jwt"} {
			c, err := tt.Verify(ctx, tt.forge(t, typ, claimsOf(tt.session(), testIssuer)), testTenant)
			wantInvalid(t, "typ "+typ, c, err)
		}
	})

	t.Run("required claims", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		for _, claim := range []string{"exp", "nbf", "sub", "sid", "aud", "iss"} {
			claims := claimsOf(tt.session(), testIssuer)
			delete(claims, claim)
			c, err := tt.Verify(ctx, tt.forge(t, Type, claims), testTenant)
			wantInvalid(t, "without "+claim, c, err)
		}
	})

	t.Run("unknown kid", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: priv, KeyID: "unknown"}},
			(&jose.SignerOptions{}).WithType(Type))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(signer).Claims(claimsOf(tt.session(), testIssuer)).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		c, err := tt.Verify(ctx, tok, testTenant)
		wantInvalid(t, "unknown kid", c, err)
	})

	t.Run("retired key", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		s := tt.session()
		s.ExpiresAt = s.CreatedAt.Add(48 * time.Hour) // outlives the key on purpose
		tok := tt.issue(t, s)
		rotated := s.CreatedAt.Add(time.Minute)
		if _, err := tt.ring.Rotate(ctx, rotated); err != nil {
			t.Fatal(err)
		}
		tt.Set(rotated.Add(12*time.Hour - time.Second))
		if _, err := tt.Verify(ctx, tok, testTenant); err != nil {
			t.Fatalf("token of a key retired less than a token lifetime ago: %v", err)
		}
		tt.Set(rotated.Add(12 * time.Hour))
		c, err := tt.Verify(ctx, tok, testTenant)
		wantInvalid(t, "token of a key retired a token lifetime ago", c, err)
	})

	t.Run("too long", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		claims := claimsOf(tt.session(), testIssuer)
		claims["pad"] = strings.Repeat("x", 4096)
		c, err := tt.Verify(ctx, tt.forge(t, Type, claims), testTenant)
		wantInvalid(t, "a token over 4 KiB", c, err)
	})

	t.Run("cache hit still checks audience and expiry", func(t *testing.T) {
		tt := newTestTokens(t, 10)
		s := tt.session()
		tok := tt.issue(t, s)
		if _, err := tt.Verify(ctx, tok, testTenant); err != nil {
			t.Fatal(err)
		}
		if got := len(tt.cache.entries); got != 1 {
			t.Fatalf("cache entries: got %d, want 1", got)
		}
		// Forget every key: from here on only the cache can say yes.
		tt.ring.mu.Lock()
		tt.ring.verifiers = map[string]verifyKey{}
		tt.ring.refreshed = time.Now().Add(time.Hour)
		tt.ring.mu.Unlock()
		if _, err := tt.Verify(ctx, tok, testTenant); err != nil {
			t.Fatalf("cache hit: %v", err)
		}
		c, err := tt.Verify(ctx, tok, usher.NewID(time.Now()))
		wantInvalid(t, "cache hit for another tenant", c, err)
		tt.Set(s.ExpiresAt.Add(leeway + time.Second))
		c, err = tt.Verify(ctx, tok, testTenant)
		wantInvalid(t, "cache hit past exp", c, err)
	})

	t.Run("no cache", func(t *testing.T) {
		tt := newTestTokens(t, 0)
		tok := tt.issue(t, tt.session())
		for range 3 {
			if _, err := tt.Verify(ctx, tok, testTenant); err != nil {
				t.Fatal(err)
			}
		}
		if got := len(tt.cache.entries); got != 0 {
			t.Fatalf("cache entries with cache size 0: got %d", got)
		}
	})

	t.Run("cache is bounded", func(t *testing.T) {
		tt := newTestTokens(t, 10)
		for range 35 {
			if _, err := tt.Verify(ctx, tt.issue(t, tt.session()), testTenant); err != nil {
				t.Fatal(err)
			}
		}
		if got := len(tt.cache.entries); got > 10 {
			t.Fatalf("cache entries: got %d, want at most 10", got)
		}
	})
}
