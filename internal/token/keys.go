package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/usherhq/usher/internal/usher"
)

// KeyStore keeps signing keys where every node sees them.
type KeyStore interface {
	SigningKeys(ctx context.Context) ([]usher.SigningKey, error)
	// AddSigningKey stores k and retires (at k.CreatedAt) every key that
	// may still sign, in one transaction.
	AddSigningKey(ctx context.Context, k usher.SigningKey) error
}

// Keyring holds the signing keys in memory: the newest active key signs,
// and every key whose tokens may still be alive verifies.
type Keyring struct {
	store    KeyStore
	box      *Box
	tokenTTL time.Duration

	mu        sync.RWMutex
	signer    *signingKey
	verifiers map[string]verifyKey
	published []usher.SigningKey
	refreshed time.Time
	refreshMu sync.Mutex
}

type signingKey struct {
	kid  string
	priv ed25519.PrivateKey
}

type verifyKey struct {
	pub       ed25519.PublicKey
	retiredAt time.Time
}

// NewKeyring returns a Keyring; tokenTTL is how long a retired key keeps
// verifying (and is published) after it stops signing.
func NewKeyring(store KeyStore, box *Box, tokenTTL time.Duration) *Keyring {
	return &Keyring{store: store, box: box, tokenTTL: tokenTTL, verifiers: map[string]verifyKey{}}
}

func sealContext(kid string) string { return "signing-key:" + kid }

// Ensure loads the keys, creating the first one if there is none.
func (k *Keyring) Ensure(ctx context.Context, now time.Time) error {
	if err := k.Refresh(ctx); err != nil {
		return err
	}
	k.mu.RLock()
	have := k.signer != nil
	k.mu.RUnlock()
	if have {
		return nil
	}
	_, err := k.Rotate(ctx, now)
	return err
}

// Rotate adds a new signing key and retires the others. Tokens signed by
// the old keys stay valid until they expire.
func (k *Keyring) Rotate(ctx context.Context, now time.Time) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(pub)
	kid := b64.EncodeToString(sum[:12])
	key := usher.SigningKey{
		KID: kid, Algorithm: string(jose.EdDSA), Public: b64.EncodeToString(pub),
		Private: k.box.Seal(priv.Seed(), sealContext(kid)), CreatedAt: now.UTC().Truncate(time.Millisecond),
	}
	if err := k.store.AddSigningKey(ctx, key); err != nil {
		return "", err
	}
	return kid, k.Refresh(ctx)
}

// Refresh reloads the keys from the store.
func (k *Keyring) Refresh(ctx context.Context) error {
	keys, err := k.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	verifiers := make(map[string]verifyKey, len(keys))
	var signer *signingKey
	var newest time.Time
	for _, sk := range keys {
		pub, err := b64.DecodeString(sk.Public)
		if err != nil || len(pub) != ed25519.PublicKeySize || sk.Algorithm != string(jose.EdDSA) {
			return fmt.Errorf("token: signing key %s is malformed", sk.KID)
		}
		verifiers[sk.KID] = verifyKey{pub: pub, retiredAt: sk.RetiredAt}
		if sk.RetiredAt.IsZero() && (signer == nil || sk.CreatedAt.After(newest)) {
			seed, err := k.box.Open(sk.Private, sealContext(sk.KID))
			if err != nil {
				return fmt.Errorf("token: signing key %s: %w; every node must share the same secret key", sk.KID, err)
			}
			signer, newest = &signingKey{kid: sk.KID, priv: ed25519.NewKeyFromSeed(seed)}, sk.CreatedAt
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].CreatedAt.After(keys[j].CreatedAt) })
	k.mu.Lock()
	k.signer, k.verifiers, k.published, k.refreshed = signer, verifiers, keys, time.Now()
	k.mu.Unlock()
	return nil
}

// Run refreshes the keys every interval until ctx ends, so a rotation on
// one node reaches all of them. A failed refresh keeps the keys it has and
// is reported to onErr.
func (k *Keyring) Run(ctx context.Context, interval time.Duration, onErr func(error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := k.Refresh(ctx); err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}

// lookup returns the verification key for kid. An unknown kid may be a key
// another node just added, so it refreshes once (at most once a second).
func (k *Keyring) lookup(ctx context.Context, kid string, now time.Time) (verifyKey, bool) {
	k.mu.RLock()
	v, ok := k.verifiers[kid]
	last := k.refreshed
	k.mu.RUnlock()
	if ok || time.Since(last) < time.Second {
		return v, ok && k.alive(v, now)
	}
	k.refreshMu.Lock()
	k.mu.RLock()
	stale := time.Since(k.refreshed) >= time.Second // another request may have just refreshed
	k.mu.RUnlock()
	if stale {
		_ = k.Refresh(ctx)
	}
	k.refreshMu.Unlock()
	k.mu.RLock()
	v, ok = k.verifiers[kid]
	k.mu.RUnlock()
	return v, ok && k.alive(v, now)
}

// alive reports whether tokens signed by v can still be valid.
func (k *Keyring) alive(v verifyKey, now time.Time) bool {
	return v.retiredAt.IsZero() || now.Before(v.retiredAt.Add(k.tokenTTL))
}

func (k *Keyring) currentSigner() (*signingKey, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.signer == nil {
		return nil, errors.New("token: no signing key")
	}
	return k.signer, nil
}

// JWKS returns the JSON Web Key Set of every key whose tokens may still be
// valid, newest first.
func (k *Keyring) JWKS(now time.Time) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, sk := range k.published {
		v := k.verifiers[sk.KID]
		if !k.alive(v, now) {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: v.pub, KeyID: sk.KID, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	return json.Marshal(set)
}
