package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/password"
)

// Every stored hash reads back as the text it was given, and an argon2id
// hash in Usher's form is stored packed, in fewer bytes.
func TestPackHash(t *testing.T) {
	h, err := password.NewHasher(password.Default, password.NewPool(1, 1, time.Second)).Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	packed := packArgon2id(h)
	if packed == nil || len(packed) > 60 || len(h) < 90 {
		t.Fatalf("Usher's own hash %d characters, packed %d bytes (%v); want it packed in at most 60", len(h), len(packed), packed != nil)
	}
	if got := unpackHash(packed); got != h {
		t.Errorf("unpacked %q; want %q", got, h)
	}
	s := &Store{d: Dialect{BinaryHashes: true}}
	for _, text := range []string{
		h,
		"$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA",            // other parameters, short salt and key
		"$argon2id$v=19$m=19456,t=2,p=1$$",                             // empty salt and key
		"$argon2id$v=19$m=019456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",           // a leading zero: kept as text
		"$argon2id$v=19$m=19456,t=+2,p=1$c2FsdHNhbHQ$aGFzaA",           // a sign
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ=$aGFzaA",           // padding
		"$argon2id$v=19$m=19456,t=2,p=1,k=1$c2FsdHNhbHQ$aGFzaA",        // an extra parameter
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA$",           // a trailing separator
		"$argon2id$v=300$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",           // a version past a byte
		"$argon2id$v=19$m=4294967296,t=2,p=1$c2FsdHNhbHQ$aGFzaA",       // memory past 32 bits
		"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",             // another variant
		"$2a$10$abcdefghijklmnopqrstuuMDKn0WyCpyI8bpm8FKoT2b1mEiIs6UW", // bcrypt
		"pbkdf2_sha256$600000$salt$aGFzaA==",
		"",
	} {
		v := s.packHash(text)
		b, ok := v.([]byte)
		if !ok {
			t.Fatalf("packHash(%q) = %T; want bytes for a column of bytes", text, v)
		}
		if got := unpackHash(b); got != text {
			t.Errorf("packHash(%q) reads back as %q", text, got)
		}
		if want := text == h || strings.HasPrefix(text, "$argon2id$v=19$m=65536") || strings.HasSuffix(text, "$$"); (len(b) > 0 && b[0] == packedArgon2id) != want {
			t.Errorf("packHash(%q) packed: %v; want %v", text, !want, want)
		}
	}
	if v := (&Store{}).packHash(h); v != h {
		t.Errorf("without BinaryHashes packHash = %v; want the text", v)
	}
}

// A packed value that was cut or damaged reads as a text no hash format
// accepts, never a panic.
func TestUnpackHashDamaged(t *testing.T) {
	packed := packArgon2id("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA")
	for n := range len(packed) {
		got := unpackHash(packed[:n])
		if strings.HasPrefix(got, "$argon2id$") && n < len(packed)-4 {
			t.Errorf("%d of %d bytes read as %q; want a damaged value refused", n, len(packed), got)
		}
	}
	if err := password.Check(unpackHash([]byte{packedArgon2id})); err == nil {
		t.Errorf("a damaged hash parsed as a hash")
	}
}

func FuzzPackHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=0,t=0,p=0$$")
	f.Add("$2a$10$abcdefghijklmnopqrstuuMDKn0WyCpyI8bpm8FKoT2b1mEiIs6UW")
	f.Fuzz(func(t *testing.T, text string) {
		if b := packArgon2id(text); b != nil && unpackHash(b) != text {
			t.Fatalf("%q packed reads back as %q", text, unpackHash(b))
		}
		unpackHash([]byte(text)) // never panics
	})
}
