package password

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// Caps on imported scrypt hashes (Firebase's too), so a planted hash cannot
// make one verification take minutes or gigabytes.
const (
	maxScryptLogN   = 20 // N = 2^20
	maxScryptR      = 32
	maxScryptP      = 16
	maxScryptMemory = 256 << 20 // 128 × r × N bytes
)

type scryptHash struct {
	logN, r, p int
	salt, key  []byte
}

func (s scryptHash) match(password string) bool {
	got, err := scrypt.Key([]byte(password), s.salt, 1<<s.logN, s.r, s.p, len(s.key))
	return err == nil && subtle.ConstantTimeCompare(got, s.key) == 1
}

// parseScrypt decodes "$scrypt$ln=15,r=8,p=1$<salt>$<key>" (PHC, passlib)
// and Kratos's "$scrypt$ln=32768,r=8,p=1$<salt>$<key>", where ln holds N
// itself, not its logarithm, and the base64 is padded. An ln of 64 or less
// is taken as the logarithm (PHC); a larger one as N (Kratos). Kratos hashes
// with N ≤ 64 would be read wrongly, and then fail to match; no real hash has
// so small an N.
func parseScrypt(encoded string) (stored, error) {
	const name = "scrypt"
	parts := strings.Split(encoded, "$")
	if len(parts) != 5 || parts[0] != "" {
		return nil, malformed(name, "want 4 fields separated by $")
	}
	var s scryptHash
	if err := scryptParams(name, parts[2], &s.logN, &s.r, &s.p, true); err != nil {
		return nil, err
	}
	var err error
	if s.salt, s.key, err = decodeSaltKey(name, parts[3], parts[4]); err != nil {
		return nil, err
	}
	return s, nil
}

// scryptParams reads "ln=…,r=…,p=…" into logN, r and p and checks them
// against the caps. With kratosN, an ln over 64 is N itself.
func scryptParams(name, params string, logN, r, p *int, kratosN bool) error {
	want := malformed(name, "want parameters ln, r and p once each, as numbers")
	var seen [3]bool
	for _, kv := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, ok := number(v)
		if !ok {
			return want
		}
		switch k {
		case "ln":
			if kratosN && n > 64 {
				if n&(n-1) != 0 {
					return malformed(name, "want N a power of two")
				}
				l := 0
				for 1<<l < n {
					l++
				}
				n = l
			}
			*logN = n
		case "r":
			*r = n
		case "p":
			*p = n
		default:
			return want
		}
		i := map[string]int{"ln": 0, "r": 1, "p": 2}[k]
		if seen[i] {
			return want
		}
		seen[i] = true
	}
	switch {
	case seen != [3]bool{true, true, true}:
		return want
	case *logN < 1 || *r < 1 || *p < 1:
		return malformed(name, "want ln, r and p at least 1")
	case *logN > maxScryptLogN:
		return overCap(name, "log2(N)", *logN, maxScryptLogN)
	case *r > maxScryptR:
		return overCap(name, "r", *r, maxScryptR)
	case *p > maxScryptP:
		return overCap(name, "p", *p, maxScryptP)
	case 128**r<<*logN > maxScryptMemory:
		return overCap(name, "memory (bytes, 128·r·N)", 128**r<<*logN, maxScryptMemory)
	}
	return nil
}

// decodeSaltKey decodes a salt and a key in base64: unpadded standard (PHC),
// padded standard (Kratos) or passlib's alphabet ("." for "+").
func decodeSaltKey(name, s, k string) (salt, key []byte, err error) {
	if salt, err = decodeB64(s); err != nil || len(salt) < 8 || len(salt) > maxSaltLen {
		return nil, nil, malformed(name, fmt.Sprintf("want a salt of 8 to %d bytes in base64", maxSaltLen))
	}
	if key, err = decodeB64(k); err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return nil, nil, malformed(name, fmt.Sprintf("want a key of 16 to %d bytes in base64", maxKeyLen))
	}
	return salt, key, nil
}

// decodeB64 decodes standard base64, padded or not, and passlib's variant
// of it, which writes "." for "+".
func decodeB64(v string) ([]byte, error) {
	v = strings.TrimRight(strings.ReplaceAll(v, ".", "+"), "=")
	return base64.RawStdEncoding.Strict().DecodeString(v)
}
