package password

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// Caps on imported scrypt and PBKDF2 hashes, so a planted hash cannot make
// one verification take minutes or gigabytes.
const (
	maxScryptLogN   = 20 // N = 2^20
	maxScryptR      = 32
	maxScryptP      = 16
	maxScryptMemory = 256 << 20 // 128 × r × N bytes
	maxPBKDF2Iter   = 2_000_000
)

// verifyScrypt checks "$scrypt$ln=15,r=8,p=1$<salt>$<key>" (PHC).
func verifyScrypt(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 5 || parts[0] != "" || parts[1] != "scrypt" {
		return false, errFormat
	}
	var ln, r, p int
	for _, kv := range strings.Split(parts[2], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return false, errFormat
		}
		switch k {
		case "ln":
			ln = n
		case "r":
			r = n
		case "p":
			p = n
		default:
			return false, errFormat
		}
	}
	if ln < 1 || ln > maxScryptLogN || r < 1 || r > maxScryptR || p < 1 || p > maxScryptP || 128*r<<ln > maxScryptMemory {
		return false, errFormat
	}
	salt, key, err := decodeSaltKey(parts[3], parts[4])
	if err != nil {
		return false, err
	}
	got, err := scrypt.Key([]byte(password), salt, 1<<ln, r, p, len(key))
	if err != nil {
		return false, errFormat
	}
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// verifyPBKDF2 checks "$pbkdf2-sha256$i=600000$<salt>$<key>" (PHC) and
// passlib's "$pbkdf2-sha256$600000$<salt>$<key>" (its base64 uses . for +).
func verifyPBKDF2(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 5 || parts[0] != "" || parts[1] != "pbkdf2-sha256" {
		return false, errFormat
	}
	iter, err := strconv.Atoi(strings.TrimPrefix(parts[2], "i="))
	if err != nil || iter < 1 || iter > maxPBKDF2Iter {
		return false, errFormat
	}
	salt, key, err := decodeSaltKey(parts[3], parts[4])
	if err != nil {
		return false, err
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(key))
	if err != nil {
		return false, errFormat
	}
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// decodeSaltKey decodes PHC base64 (unpadded standard), also accepting
// passlib's adapted alphabet (. for +) and padding.
func decodeSaltKey(s, k string) (salt, key []byte, err error) {
	dec := func(v string) ([]byte, error) {
		v = strings.TrimRight(strings.ReplaceAll(v, ".", "+"), "=")
		return base64.RawStdEncoding.DecodeString(v)
	}
	if salt, err = dec(s); err != nil || len(salt) < 8 || len(salt) > maxSaltLen {
		return nil, nil, errFormat
	}
	if key, err = dec(k); err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return nil, nil, errFormat
	}
	return salt, key, nil
}
