package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// codeAlphabet has no look-alikes (no 0/O, 1/I/L): codes are read from an
// email and typed by hand.
const codeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// CodeLen is the length of a reset code: 10 symbols of 31, about 49 bits.
const CodeLen = 10

// NewCode returns a random reset code.
func NewCode() string {
	b := make([]byte, CodeLen)
	buf := make([]byte, 1)
	for i := 0; i < CodeLen; {
		rand.Read(buf)
		// Rejection sampling keeps every symbol equally likely.
		if int(buf[0]) >= 256-256%len(codeAlphabet) {
			continue
		}
		b[i] = codeAlphabet[int(buf[0])%len(codeAlphabet)]
		i++
	}
	return string(b)
}

// NormalizeCode undoes what people do to a code when they type it:
// lower case, spaces and dashes.
func NormalizeCode(s string) string {
	s = strings.ToUpper(s)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

// HashCode returns the stored form of a code: a SHA-256 bound to the user
// and the purpose, so a code can only ever serve the one it was issued for.
func HashCode(kind, userID, code string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + userID + "\x00" + code))
	return hex.EncodeToString(sum[:])
}

// NewLinkToken returns a random 256-bit token for links (email
// verification), URL-safe.
func NewLinkToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return b64.EncodeToString(b)
}

// NewPublicKey returns a tenant public key (SB-PUBLIC-KEY). It is not a
// secret (browsers send it), only an unguessable name.
func NewPublicKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "pk_" + b64.EncodeToString(b)
}
