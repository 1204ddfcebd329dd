// Package token issues and verifies Usher's signed tokens (JWT, EdDSA), keeps
// the signing keys, and makes the opaque secrets Usher sends by email.
package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// Box seals small secrets at rest (signing keys, verification tokens,
// pending email contents) with AES-256-GCM under the data key.
type Box struct{ aead cipher.AEAD }

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("token: the data key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

var b64 = base64.RawURLEncoding

// Seal encrypts plain, bound to context (a label such as "signing-key:kid"
// that must be given again to open it).
func (b *Box) Seal(plain []byte, context string) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	rand.Read(nonce)
	return b64.EncodeToString(b.aead.Seal(nonce, nonce, plain, []byte(context)))
}

// ErrOpen means a sealed value is corrupt, was sealed for another context,
// or under another data key.
var ErrOpen = errors.New("token: sealed value cannot be opened (wrong data key?)")

// Open decrypts a value made by Seal with the same context.
func (b *Box) Open(sealed, context string) ([]byte, error) {
	raw, err := b64.DecodeString(sealed)
	n := b.aead.NonceSize()
	if err != nil || len(raw) < n {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
