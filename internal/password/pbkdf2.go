package password

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strings"
)

// maxPBKDF2Work caps PBKDF2's cost: iterations times the blocks of digest
// output the key needs (a key longer than the digest costs one full run per
// block).
const maxPBKDF2Work = 2_000_000

type pbkdf2Hash struct {
	digest func() hash.Hash
	iter   int
	salt   []byte
	key    []byte
}

func (h pbkdf2Hash) match(password string) bool {
	got, err := pbkdf2.Key(h.digest, password, h.salt, h.iter, len(h.key))
	return err == nil && subtle.ConstantTimeCompare(got, h.key) == 1
}

// pbkdf2Digests maps the digest names the formats use to the digests.
var pbkdf2Digests = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}

// checkWork checks the iteration count against the cap.
func (h pbkdf2Hash) checkWork(name string) error {
	if h.iter < 1 {
		return malformed(name, "want at least 1 iteration")
	}
	size := h.digest().Size()
	blocks := (len(h.key) + size - 1) / size
	if h.iter > maxPBKDF2Work/blocks {
		return overCap(name, "iterations", h.iter, maxPBKDF2Work/blocks)
	}
	return nil
}

// parsePBKDF2PHC decodes PHC's "$pbkdf2-sha256$i=600000[,l=32]$<salt>$<key>"
// (as Kratos writes it) and passlib's "$pbkdf2-sha256$29000$<salt>$<key>",
// with "$pbkdf2$" for SHA-1 and "." for "+" in base64. Both decode the salt
// from base64.
func parsePBKDF2PHC(encoded string) (stored, error) {
	parts := strings.Split(encoded, "$")
	id := "pbkdf2"
	if len(parts) > 1 {
		id = parts[1]
	}
	if len(parts) != 5 || parts[0] != "" {
		return nil, malformed(id, "want 4 fields separated by $")
	}
	alg := strings.TrimPrefix(id, "pbkdf2-")
	if id == "pbkdf2" {
		alg = "sha1"
	}
	h := pbkdf2Hash{digest: pbkdf2Digests[alg]}
	if h.digest == nil {
		return nil, malformed(id, "unknown digest")
	}
	keyLen := -1
	if params := parts[2]; strings.HasPrefix(params, "i=") {
		for _, kv := range strings.Split(params, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, ok := number(v)
			switch {
			case !ok:
				return nil, malformed(id, "want parameters i and l as numbers")
			case k == "i" && h.iter == 0:
				h.iter = n
			case k == "l" && keyLen < 0:
				keyLen = n
			default:
				return nil, malformed(id, "want parameter i, and l at most once")
			}
		}
	} else {
		var ok bool
		if h.iter, ok = number(params); !ok {
			return nil, malformed(id, "want the iteration count as a number")
		}
	}
	var err error
	if h.salt, h.key, err = decodeSaltKey(id, parts[3], parts[4]); err != nil {
		return nil, err
	}
	if keyLen >= 0 && keyLen != len(h.key) {
		return nil, malformed(id, "parameter l is not the key's length")
	}
	if err := h.checkWork(id); err != nil {
		return nil, err
	}
	return h, nil
}

// parseDjango decodes Django's "pbkdf2_sha256$870000$<salt>$<key>": the salt
// is used as text, the key is padded standard base64.
func parseDjango(encoded string) (stored, error) {
	parts := strings.Split(encoded, "$")
	id := parts[0]
	if len(parts) != 4 {
		return nil, malformed(id, "want 4 fields separated by $")
	}
	h := pbkdf2Hash{digest: pbkdf2Digests[strings.TrimPrefix(id, "pbkdf2_")]}
	var ok bool
	if h.iter, ok = number(parts[1]); !ok {
		return nil, malformed(id, "want the iteration count as a number")
	}
	if h.salt = []byte(parts[2]); len(h.salt) < 1 || len(h.salt) > maxSaltLen {
		return nil, malformed(id, "want a salt of 1 to 128 characters")
	}
	var err error
	if h.key, err = base64.StdEncoding.Strict().DecodeString(parts[3]); err != nil || len(h.key) < 16 || len(h.key) > maxKeyLen {
		return nil, malformed(id, "want a key of 16 to 128 bytes in padded base64")
	}
	if err := h.checkWork(id); err != nil {
		return nil, err
	}
	return h, nil
}

// parseWerkzeug decodes Werkzeug's "pbkdf2:sha256:600000$<salt>$<hex key>":
// the salt is used as text.
func parseWerkzeug(encoded string) (stored, error) {
	const name = "werkzeug pbkdf2"
	parts := strings.Split(encoded, "$")
	if len(parts) != 3 {
		return nil, malformed(name, "want 3 fields separated by $")
	}
	method := strings.Split(parts[0], ":")
	if len(method) != 3 {
		// Werkzeug has always written the iteration count; without one the
		// count was a default of whichever version wrote it.
		return nil, malformed(name, "want pbkdf2:<digest>:<iterations>")
	}
	h := pbkdf2Hash{digest: pbkdf2Digests[method[1]]}
	if h.digest == nil {
		return nil, malformed(name, "want digest sha1, sha256 or sha512")
	}
	var ok bool
	if h.iter, ok = number(method[2]); !ok {
		return nil, malformed(name, "want the iteration count as a number")
	}
	if h.salt = []byte(parts[1]); len(h.salt) < 1 || len(h.salt) > maxSaltLen {
		return nil, malformed(name, "want a salt of 1 to 128 characters")
	}
	var err error
	if h.key, err = hex.DecodeString(parts[2]); err != nil || len(h.key) < 16 || len(h.key) > maxKeyLen {
		return nil, malformed(name, "want a key of 16 to 128 bytes in hex")
	}
	if err := h.checkWork(name); err != nil {
		return nil, err
	}
	return h, nil
}
