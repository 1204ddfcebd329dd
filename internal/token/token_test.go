package token

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/usher"
)

func testBox(t *testing.T) *Box {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	b, err := NewBox(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTokenBox(t *testing.T) {
	box := testBox(t)
	secret := []byte("the signing key seed, 32 bytes..")

	t.Run("round trip", func(t *testing.T) {
		sealed := box.Seal(secret, "signing-key:abc")
		got, err := box.Open(sealed, "signing-key:abc")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, secret) {
			t.Fatalf("got %q, want %q", got, secret)
		}
		if strings.Contains(sealed, string(secret)) {
			t.Fatal("sealed value holds the plain text")
		}
	})

	t.Run("empty value", func(t *testing.T) {
		got, err := box.Open(box.Seal(nil, "c"), "c")
		if err != nil || len(got) != 0 {
			t.Fatalf("got %q, %v; want empty, nil", got, err)
		}
	})

	t.Run("fresh nonce each seal", func(t *testing.T) {
		a, b := box.Seal(secret, "c"), box.Seal(secret, "c")
		if a == b {
			t.Fatal("two seals of one value are equal")
		}
	})

	sealed := box.Seal(secret, "outbox:1")
	raw, err := b64.DecodeString(sealed)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-1] ^= 1
	for _, tc := range []struct {
		name, sealed, context string
		box                   *Box
	}{
		{"wrong context", sealed, "outbox:2", box},
		{"empty context", sealed, "", box},
		{"wrong key", sealed, "outbox:1", testBox(t)},
		{"tampered", b64.EncodeToString(flipped), "outbox:1", box},
		{"truncated", b64.EncodeToString(raw[:len(raw)-1]), "outbox:1", box},
		{"shorter than a nonce", b64.EncodeToString(raw[:5]), "outbox:1", box},
		{"not base64", "!!!" + sealed, "outbox:1", box},
		{"empty", "", "outbox:1", box},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.box.Open(tc.sealed, tc.context)
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("got %q, %v; want ErrOpen", got, err)
			}
		})
	}

	t.Run("key length", func(t *testing.T) {
		for _, n := range []int{0, 16, 31, 33, 64} {
			if _, err := NewBox(make([]byte, n)); err == nil {
				t.Errorf("NewBox with a %d-byte key: no error", n)
			}
		}
	})
}

func TestTokenNewCode(t *testing.T) {
	seen := map[string]bool{}
	symbols := map[rune]int{}
	for range 1000 {
		c := NewCode()
		if got, want := len(c), CodeLen; got != want {
			t.Fatalf("len(%q) = %d, want %d", c, got, want)
		}
		if CodeLen < 8 {
			t.Fatalf("CodeLen %d: API.md wants at least 8", CodeLen)
		}
		for _, r := range c {
			if !strings.ContainsRune(codeAlphabet, r) {
				t.Fatalf("code %q has %q, outside the alphabet", c, r)
			}
			symbols[r]++
		}
		if seen[c] {
			t.Fatalf("code %q drawn twice in 1000", c)
		}
		seen[c] = true
	}
	if got, want := codeAlphabet, "23456789ABCDEFGHJKMNPQRSTUVWXYZ"; got != want {
		t.Errorf("alphabet: got %s, want %s", got, want)
	}
	// 10,000 symbols of 31: each is expected about 323 times; missing one
	// means some symbol is never drawn.
	for _, r := range codeAlphabet {
		if symbols[r] == 0 {
			t.Errorf("symbol %q never drawn in 10,000", r)
		}
	}
}

func TestTokenNormalizeCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ABCDEFGHJK", "ABCDEFGHJK"},
		{"abcdefghjk", "ABCDEFGHJK"},
		{"abcde-fghjk", "ABCDEFGHJK"},
		{" ABCDE FGHJK ", "ABCDEFGHJK"},
		{"AB\tCD-EF GH-JK", "ABCDEFGHJK"},
		{"", ""},
		{" - ", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := NormalizeCode(tc.in); got != tc.want {
				t.Errorf("NormalizeCode(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTokenHashCode(t *testing.T) {
	const user, other = "01890a5d-ac96-7f4b-bcce-b302099a8057", "01890a5d-ac96-7f4b-bcce-b302099a8058"
	h := HashCode(string(usher.ResetCode), user, "ABCDEFGHJK")
	if got := HashCode(string(usher.ResetCode), user, "ABCDEFGHJK"); got != h {
		t.Fatalf("not deterministic: %s, %s", h, got)
	}
	if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
		t.Fatalf("hash %q is not 32 bytes of hex", h)
	}
	if strings.Contains(h, "ABCDEFGHJK") {
		t.Fatal("the hash holds the code")
	}
	for name, got := range map[string]string{
		"another purpose": HashCode(string(usher.VerifyCode), user, "ABCDEFGHJK"),
		"another user":    HashCode(string(usher.ResetCode), other, "ABCDEFGHJK"),
		"another code":    HashCode(string(usher.ResetCode), user, "ABCDEFGHJM"),
		// The separator keeps the fields apart: moving a character from
		// one to the next gives another hash.
		"shifted fields": HashCode(string(usher.ResetCode)+"0", user[1:], "ABCDEFGHJK"),
	} {
		if got == h {
			t.Errorf("%s: same hash", name)
		}
	}
}

func TestTokenNewLinkToken(t *testing.T) {
	a, b := NewLinkToken(), NewLinkToken()
	if a == b {
		t.Fatal("two link tokens are equal")
	}
	raw, err := b64.DecodeString(a)
	if err != nil || len(raw) < 16 {
		t.Fatalf("link token %q: %d bytes, %v; want at least 128 bits of URL-safe base64", a, len(raw), err)
	}
}

// fakeKeyStore is an in-memory KeyStore that counts loads.
type fakeKeyStore struct {
	mu    sync.Mutex
	keys  []usher.SigningKey
	loads int
}

func (f *fakeKeyStore) SigningKeys(context.Context) ([]usher.SigningKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	return append([]usher.SigningKey(nil), f.keys...), nil
}

func (f *fakeKeyStore) AddSigningKey(_ context.Context, k usher.SigningKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.keys {
		if f.keys[i].RetiredAt.IsZero() {
			f.keys[i].RetiredAt = k.CreatedAt
		}
	}
	f.keys = append(f.keys, k)
	return nil
}

func (f *fakeKeyStore) snapshot() ([]usher.SigningKey, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]usher.SigningKey(nil), f.keys...), f.loads
}

// jwksKIDs returns the kids a key set lists, in order.
func jwksKIDs(t *testing.T, ring *Keyring, now time.Time) []string {
	t.Helper()
	b, err := ring.JWKS(now)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("jwks %s: %v", b, err)
	}
	kids := []string{}
	for _, k := range set.Keys {
		if _, ok := k.Key.(ed25519.PublicKey); !ok || !k.IsPublic() {
			t.Fatalf("jwks key %s is %T, want a public Ed25519 key", k.KeyID, k.Key)
		}
		kids = append(kids, k.KeyID)
	}
	return kids
}

// backdate makes the ring's last refresh look older than a second.
func backdate(ring *Keyring) {
	ring.mu.Lock()
	ring.refreshed = time.Now().Add(-2 * time.Second)
	ring.mu.Unlock()
}

func TestTokenKeyring(t *testing.T) {
	ctx := context.Background()
	const ttl = 12 * time.Hour
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	t.Run("ensure creates one key", func(t *testing.T) {
		store, box := &fakeKeyStore{}, testBox(t)
		ring := NewKeyring(store, box, ttl)
		if err := ring.Ensure(ctx, t0); err != nil {
			t.Fatal(err)
		}
		if err := ring.Ensure(ctx, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// Another node on the same store.
		if err := NewKeyring(store, box, ttl).Ensure(ctx, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		keys, _ := store.snapshot()
		if len(keys) != 1 {
			t.Fatalf("keys after three Ensures: got %d, want 1", len(keys))
		}
		k := keys[0]
		if k.Algorithm != "EdDSA" || !k.RetiredAt.IsZero() || !k.CreatedAt.Equal(t0) {
			t.Errorf("key: %+v", k)
		}
		if seed, err := box.Open(k.Private, sealContext(k.KID)); err != nil || len(seed) != ed25519.SeedSize {
			t.Errorf("stored private key does not open to a seed: %d bytes, %v", len(seed), err)
		}
		signer, err := ring.currentSigner()
		if err != nil {
			t.Fatal(err)
		}
		if signer.kid != k.KID {
			t.Errorf("signer kid: got %s, want %s", signer.kid, k.KID)
		}
	})

	t.Run("rotate retires the old key", func(t *testing.T) {
		store := &fakeKeyStore{}
		ring := NewKeyring(store, testBox(t), ttl)
		if err := ring.Ensure(ctx, t0); err != nil {
			t.Fatal(err)
		}
		t1 := t0.Add(time.Hour)
		newKid, err := ring.Rotate(ctx, t1)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := store.snapshot()
		if len(keys) != 2 {
			t.Fatalf("keys: got %d, want 2", len(keys))
		}
		old, cur := keys[0], keys[1]
		if cur.KID != newKid || !cur.RetiredAt.IsZero() {
			t.Errorf("new key: %+v, want kid %s, not retired", cur, newKid)
		}
		if !old.RetiredAt.Equal(t1) {
			t.Errorf("old key retired at %v, want %v", old.RetiredAt, t1)
		}
		if signer, _ := ring.currentSigner(); signer.kid != newKid {
			t.Errorf("signer: got %s, want the new key %s", signer.kid, newKid)
		}

		for _, tc := range []struct {
			name string
			at   time.Time
			want []string
		}{
			{"at rotation", t1, []string{newKid, old.KID}},
			{"just before the old key's tokens expire", t1.Add(ttl - time.Second), []string{newKid, old.KID}},
			{"once they have expired", t1.Add(ttl), []string{newKid}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if diff := cmp.Diff(tc.want, jwksKIDs(t, ring, tc.at)); diff != "" {
					t.Errorf("jwks kids (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("unknown kid refreshes at most once a second", func(t *testing.T) {
		store, box := &fakeKeyStore{}, testBox(t)
		ring := NewKeyring(store, box, ttl)
		if err := ring.Ensure(ctx, t0); err != nil {
			t.Fatal(err)
		}
		// Another node rotates: ring has not seen the new key.
		newKid, err := NewKeyring(store, box, ttl).Rotate(ctx, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		loads := func() int { _, n := store.snapshot(); return n }
		now := t0.Add(2 * time.Minute)

		ring.mu.Lock()
		ring.refreshed = time.Now() // as if it had just refreshed
		ring.mu.Unlock()
		before := loads()
		if _, ok := ring.lookup(ctx, newKid, now); ok {
			t.Fatal("found a key the ring cannot have loaded yet")
		}
		if got := loads(); got != before {
			t.Fatalf("lookup within a second of the last refresh loaded the keys (%d loads)", got-before)
		}

		backdate(ring)
		if _, ok := ring.lookup(ctx, newKid, now); !ok {
			t.Fatal("the other node's key is not found after a refresh")
		}
		if got := loads(); got != before+1 {
			t.Fatalf("loads: got %d, want %d", got-before, 1)
		}
		for range 5 {
			if _, ok := ring.lookup(ctx, "no-such-kid", now); ok {
				t.Fatal("found an unknown kid")
			}
		}
		if got := loads(); got != before+1 {
			t.Fatalf("five lookups of an unknown kid right after a refresh loaded %d times, want 0", got-before-1)
		}
		backdate(ring)
		for range 5 {
			ring.lookup(ctx, "no-such-kid", now)
		}
		if got := loads(); got != before+2 {
			t.Fatalf("five lookups of an unknown kid a second later loaded %d times, want 1", got-before-1)
		}
	})

	t.Run("key sealed under another data key", func(t *testing.T) {
		store := &fakeKeyStore{}
		if err := NewKeyring(store, testBox(t), ttl).Ensure(ctx, t0); err != nil {
			t.Fatal(err)
		}
		if err := NewKeyring(store, testBox(t), ttl).Ensure(ctx, t0); err == nil {
			t.Fatal("a node with another data key loaded the signing key")
		}
	})
}
