package token

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/usherhq/usher/internal/usher"
)

// Type is the JOSE "typ" of Usher's access tokens (RFC 9068). Tokens of any
// other type are refused, so no other JWT can pass for one.
const Type = "at+jwt"

// Claims are what a verified token says.
type Claims struct {
	UserID    string
	TenantID  string
	SessionID string
	ID        string
	Expiry    time.Time
}

type extraClaims struct {
	SessionID string `json:"sid"`
}

// Tokens issues and verifies access tokens.
type Tokens struct {
	ring   *Keyring
	issuer string
	now    func() time.Time
	cache  *cache
}

// NewTokens returns Tokens that sign with ring's current key and name
// issuer in "iss". cacheSize bounds the verified-token cache (0: no cache).
func NewTokens(ring *Keyring, issuer string, cacheSize int, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{ring: ring, issuer: issuer, now: now, cache: newCache(cacheSize)}
}

// Issue signs a token for session s.
func (t *Tokens) Issue(s usher.Session) (string, error) {
	key, err := t.ring.currentSigner()
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: key.priv, KeyID: key.kid}},
		(&jose.SignerOptions{}).WithType(Type))
	if err != nil {
		return "", err
	}
	std := jwt.Claims{
		Issuer:    t.issuer,
		Subject:   s.UserID,
		Audience:  jwt.Audience{s.TenantID},
		IssuedAt:  jwt.NewNumericDate(s.CreatedAt),
		NotBefore: jwt.NewNumericDate(s.CreatedAt),
		Expiry:    jwt.NewNumericDate(s.ExpiresAt),
		ID:        usher.NewID(s.CreatedAt),
	}
	return jwt.Signed(signer).Claims(std).Claims(extraClaims{SessionID: s.ID}).Serialize()
}

var errInvalid = usher.Errorf(usher.Unauthorized, "The token is missing, invalid or expired.")

// leeway absorbs clock differences between nodes.
const leeway = 5 * time.Second

// Verify checks raw's signature (EdDSA only, with one of our keys), type,
// issuer, audience (tenantID), and validity period. It does not check the
// session: callers must, on every request.
func (t *Tokens) Verify(ctx context.Context, raw, tenantID string) (Claims, error) {
	now := t.now()
	sum := sha256.Sum256([]byte(raw))
	if c, ok := t.cache.get(sum); ok {
		if c.TenantID != tenantID || !now.Before(c.Expiry.Add(leeway)) {
			return Claims{}, errInvalid
		}
		return c, nil
	}
	if len(raw) > 4096 {
		return Claims{}, errInvalid
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		return Claims{}, errInvalid
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != Type {
		return Claims{}, errInvalid
	}
	key, ok := t.ring.lookup(ctx, h.KeyID, now)
	if !ok {
		return Claims{}, errInvalid
	}
	var std jwt.Claims
	var extra extraClaims
	if err := tok.Claims(key.pub, &std, &extra); err != nil {
		return Claims{}, errInvalid
	}
	if std.Expiry == nil || std.NotBefore == nil || std.Subject == "" || extra.SessionID == "" || len(std.Audience) != 1 {
		return Claims{}, errInvalid
	}
	err = std.ValidateWithLeeway(jwt.Expected{Issuer: t.issuer, AnyAudience: jwt.Audience{tenantID}, Time: now}, leeway)
	if err != nil {
		return Claims{}, errInvalid
	}
	c := Claims{UserID: std.Subject, TenantID: tenantID, SessionID: extra.SessionID, ID: std.ID, Expiry: std.Expiry.Time()}
	t.cache.put(sum, c)
	return c, nil
}

// cache holds verified tokens by the SHA-256 of their text, so a repeated
// token costs a map lookup instead of an Ed25519 verification. It is
// bounded: when full, an arbitrary tenth of the entries are dropped.
type cache struct {
	mu      sync.RWMutex
	max     int
	entries map[[32]byte]Claims
}

func newCache(max int) *cache { return &cache{max: max, entries: make(map[[32]byte]Claims)} }

func (c *cache) get(k [32]byte) (Claims, bool) {
	if c.max <= 0 {
		return Claims{}, false
	}
	c.mu.RLock()
	v, ok := c.entries[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *cache) put(k [32]byte, v Claims) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		drop := c.max/10 + 1
		for key := range c.entries { // map order is random: random eviction
			delete(c.entries, key)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.entries[k] = v
}
