package password

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// firebasePrefix starts Usher's own encoding of a Firebase hash:
//
//	$firebase-scrypt$mem_cost=14,rounds=8$<salt>$<hash>$<salt separator>$<signer key>
//
// in unpadded standard base64, so one string carries all Firebase needs.
const firebasePrefix = "$firebase-scrypt$"

// maxFirebaseSignerKey bounds the signer key, which the hash encrypts
// (Firebase's keys are 64 bytes).
const maxFirebaseSignerKey = 256

// FirebaseParams are a Firebase project's password hash parameters, as its
// console shows them under "Password hash parameters". They are the same
// for every user of the project.
type FirebaseParams struct {
	SignerKey, SaltSeparator []byte
	Rounds, MemCost          int
}

// NewFirebaseParams returns the parameters from the console's base64
// signer key and salt separator, rounds and mem_cost, validated.
func NewFirebaseParams(signerKeyB64, saltSeparatorB64 string, rounds, memCost int) (FirebaseParams, error) {
	var p FirebaseParams
	var err error
	if p.SignerKey, err = decodeB64(strings.TrimSpace(signerKeyB64)); err != nil {
		return p, errors.New("firebase signer key is not base64")
	}
	if p.SaltSeparator, err = decodeB64(strings.TrimSpace(saltSeparatorB64)); err != nil {
		return p, errors.New("firebase salt separator is not base64")
	}
	p.Rounds, p.MemCost = rounds, memCost
	return p, p.Validate()
}

// Validate checks the parameters against Usher's scrypt caps. (Firebase
// itself uses rounds 1 to 8 and mem_cost 1 to 14.)
func (p FirebaseParams) Validate() error {
	switch {
	case len(p.SignerKey) < 1 || len(p.SignerKey) > maxFirebaseSignerKey:
		return fmt.Errorf("firebase signer key: want 1 to %d bytes", maxFirebaseSignerKey)
	case len(p.SaltSeparator) > maxSaltLen:
		return fmt.Errorf("firebase salt separator: want at most %d bytes", maxSaltLen)
	case p.Rounds < 1 || p.MemCost < 1:
		return errors.New("firebase rounds and mem_cost: want at least 1")
	case p.MemCost > maxScryptLogN:
		return overCap("firebase-scrypt", "mem_cost", p.MemCost, maxScryptLogN)
	case p.Rounds > maxScryptR:
		return overCap("firebase-scrypt", "rounds", p.Rounds, maxScryptR)
	case 128*p.Rounds<<p.MemCost > maxScryptMemory:
		return overCap("firebase-scrypt", "memory (bytes, 128·rounds·2^mem_cost)", 128*p.Rounds<<p.MemCost, maxScryptMemory)
	}
	return nil
}

// Encode returns a stored hash that Verify checks, from one user's salt and
// password hash as Firebase exports them (standard base64).
func (p FirebaseParams) Encode(saltB64, hashB64 string) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt, err := decodeB64(strings.TrimSpace(saltB64))
	if err != nil || len(salt) < 1 || len(salt) > maxSaltLen {
		return "", malformed("firebase-scrypt", fmt.Sprintf("want a salt of 1 to %d bytes in base64", maxSaltLen))
	}
	sum, err := decodeB64(strings.TrimSpace(hashB64))
	if err != nil || len(sum) != len(p.SignerKey) {
		return "", malformed("firebase-scrypt", "want a hash in base64 as long as the signer key")
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("%smem_cost=%d,rounds=%d$%s$%s$%s$%s", firebasePrefix, p.MemCost, p.Rounds,
		enc.EncodeToString(salt), enc.EncodeToString(sum), enc.EncodeToString(p.SaltSeparator), enc.EncodeToString(p.SignerKey)), nil
}

type firebaseHash struct {
	logN, r, p          int
	salt, sum, sep, key []byte
}

// parseFirebase decodes Usher's "$firebase-scrypt$mem_cost=14,rounds=8$…"
// and Kratos's "$firescrypt$ln=14,r=8,p=1$…" (padded base64); both carry
// salt, hash, salt separator and signer key in that order.
func parseFirebase(encoded string) (stored, error) {
	const name = "firebase-scrypt"
	parts := strings.Split(encoded, "$")
	if len(parts) != 7 || parts[0] != "" {
		return nil, malformed(name, "want 6 fields separated by $")
	}
	h := firebaseHash{p: 1}
	params := parts[2]
	if parts[1] != "firescrypt" {
		// Usher's own names, Firebase's: mem_cost is log2(N), rounds is r.
		var ok bool
		params, ok = strings.CutPrefix(params, "mem_cost=")
		m, r, found := strings.Cut(params, ",rounds=")
		if !ok || !found {
			return nil, malformed(name, "want parameters mem_cost and rounds")
		}
		params = "ln=" + m + ",r=" + r + ",p=1"
	}
	if err := scryptParams(name, params, &h.logN, &h.r, &h.p, false); err != nil {
		return nil, err
	}
	var err error
	if h.salt, err = decodeB64(parts[3]); err != nil || len(h.salt) < 1 || len(h.salt) > maxSaltLen {
		return nil, malformed(name, fmt.Sprintf("want a salt of 1 to %d bytes in base64", maxSaltLen))
	}
	if h.sep, err = decodeB64(parts[5]); err != nil || len(h.sep) > maxSaltLen {
		return nil, malformed(name, fmt.Sprintf("want a salt separator of at most %d bytes in base64", maxSaltLen))
	}
	if h.key, err = decodeB64(parts[6]); err != nil || len(h.key) < 1 || len(h.key) > maxFirebaseSignerKey {
		return nil, malformed(name, fmt.Sprintf("want a signer key of 1 to %d bytes in base64", maxFirebaseSignerKey))
	}
	if h.sum, err = decodeB64(parts[4]); err != nil || len(h.sum) != len(h.key) {
		return nil, malformed(name, "want a hash in base64 as long as the signer key")
	}
	return h, nil
}

// match derives a key with scrypt (N = 2^mem_cost, r = rounds) from the
// password and the salt followed by the separator, encrypts the signer key
// with it in AES-256-CTR from a zero IV, and compares the result with the
// stored hash: Firebase's scheme, as github.com/firebase/scrypt describes it.
func (h firebaseHash) match(password string) bool {
	salt := append(append([]byte{}, h.salt...), h.sep...)
	k, err := scrypt.Key([]byte(password), salt, 1<<h.logN, h.r, h.p, 32)
	if err != nil {
		return false
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return false
	}
	got := make([]byte, len(h.key))
	cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(got, h.key)
	return subtle.ConstantTimeCompare(got, h.sum) == 1
}

// CarriesSecret reports whether a stored hash holds a secret beyond its
// own user's: a Firebase hash carries its project's signer key, with which
// every user of that project can be attacked offline.
func CarriesSecret(encoded string) bool {
	return strings.HasPrefix(encoded, firebasePrefix) || strings.HasPrefix(encoded, "$firescrypt$")
}
