package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"strings"

	"github.com/usherhq/usher/internal/usher"
)

// secretPrefix marks a serialized symmetric secret, as the specification
// asks, so that a secret is recognised for what it is wherever it is pasted.
const secretPrefix = "whsec_"

// The specification's bounds on a symmetric secret: at least 192 bits, at
// most 512.
const (
	minSecret = 24
	maxSecret = 64
)

// NewSecret returns a new endpoint secret: "whsec_" and the standard,
// padded base64 of 32 random bytes.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (Go 1.24 and later crash the process rather)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// ParseSecret returns the key bytes of a secret serialized as NewSecret
// does. The prefix is required; the key must be 24 to 64 bytes long. Its
// errors never quote the secret.
func ParseSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return nil, usher.Errorf(usher.Invalid, "A webhook secret starts with %q.", secretPrefix)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(rest)
	if err != nil {
		// base64's error names a byte offset, never the data.
		return nil, usher.Wrap(usher.Invalid, "A webhook secret is "+secretPrefix+" followed by standard, padded base64.", err)
	}
	if len(key) < minSecret || len(key) > maxSecret {
		return nil, usher.Errorf(usher.Invalid, "A webhook secret holds %d to %d bytes, not %d.", minSecret, maxSecret, len(key))
	}
	return key, nil
}
