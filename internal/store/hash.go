package store

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
)

// A password hash is stored as the text the password package writes (a
// PHC string for argon2id, the imported formats as they came), except on
// an engine with BinaryHashes, where an argon2id string in Usher's own
// form is stored as its parts: 56 bytes instead of 97 characters, the
// largest part of a user's row. The text comes back byte for byte; a
// string that would not (another form, padding, a leading zero) is
// stored as text.
//
// The packed form: packedArgon2id, the version, the memory, time and
// threads as unsigned varints, the salt's length, the salt, the key.
// packedArgon2id is never the first byte of a stored text: Usher's own
// hashes begin with '$', and an imported one passes password.Check, which
// refuses control characters (formats begin with '$', '{' or a letter).
const packedArgon2id = 0x01

const argon2idPrefix = "$argon2id$v="

var phcBase64 = base64.RawStdEncoding.Strict()

// packHash returns the value to store for a hash: its packed form when
// it has one, else the text.
func (s *Store) packHash(h string) any {
	if !s.d.BinaryHashes {
		return h
	}
	return PackedHash(h)
}

// PackedHash is a hash as an engine with BinaryHashes stores it: packed
// when it has a packed form, else its text's bytes. (SQLite's upgrade to
// version 11 packs the hashes already stored with it.)
func PackedHash(h string) []byte {
	if b := packArgon2id(h); b != nil {
		return b
	}
	return []byte(h)
}

// packArgon2id returns the packed form of an argon2id PHC string, or nil
// when it has none.
func packArgon2id(h string) []byte {
	rest, ok := strings.CutPrefix(h, argon2idPrefix)
	if !ok {
		return nil
	}
	parts := strings.Split(rest, "$") // version, parameters, salt, key
	if len(parts) != 4 {
		return nil
	}
	params := strings.Split(parts[1], ",")
	if len(params) != 3 {
		return nil
	}
	version, vok := cutUint(parts[0], "")
	m, mok := cutUint(params[0], "m=")
	t, tok := cutUint(params[1], "t=")
	p, pok := cutUint(params[2], "p=")
	salt, err1 := phcBase64.DecodeString(parts[2])
	key, err2 := phcBase64.DecodeString(parts[3])
	if !vok || !mok || !tok || !pok || version > 255 || err1 != nil || err2 != nil || len(salt) > 255 {
		return nil
	}
	b := make([]byte, 0, 2+3*binary.MaxVarintLen32+1+len(salt)+len(key))
	b = append(b, packedArgon2id, byte(version))
	b = binary.AppendUvarint(b, m)
	b = binary.AppendUvarint(b, t)
	b = binary.AppendUvarint(b, p)
	b = append(b, byte(len(salt)))
	b = append(b, salt...)
	b = append(b, key...)
	if unpackHash(b) != h {
		return nil // not Usher's form of it: keep the text as written
	}
	return b
}

// cutUint parses a 32-bit decimal after prefix. (A form it reads too
// leniently, "+1" or "01", fails packArgon2id's round trip.)
func cutUint(s, prefix string) (uint64, bool) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	return n, err == nil
}

// unpackHash returns the text of a stored hash.
func unpackHash(b []byte) string {
	if len(b) == 0 || b[0] != packedArgon2id {
		return string(b)
	}
	corrupt := "!corrupt" // verifies nothing: the password package refuses an unknown form
	if len(b) < 2 {
		return corrupt
	}
	version, rest := b[1], b[2:]
	var nums [3]uint64
	for i := range nums {
		n, w := binary.Uvarint(rest)
		if w <= 0 {
			return corrupt
		}
		nums[i], rest = n, rest[w:]
	}
	if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
		return corrupt
	}
	salt, key := rest[1:1+int(rest[0])], rest[1+int(rest[0]):]
	var s strings.Builder
	s.Grow(len(argon2idPrefix) + 40 + phcBase64.EncodedLen(len(salt)) + phcBase64.EncodedLen(len(key)))
	s.WriteString(argon2idPrefix)
	s.WriteString(strconv.Itoa(int(version)))
	s.WriteString("$m=")
	s.WriteString(strconv.FormatUint(nums[0], 10))
	s.WriteString(",t=")
	s.WriteString(strconv.FormatUint(nums[1], 10))
	s.WriteString(",p=")
	s.WriteString(strconv.FormatUint(nums[2], 10))
	s.WriteByte('$')
	s.WriteString(phcBase64.EncodeToString(salt))
	s.WriteByte('$')
	s.WriteString(phcBase64.EncodeToString(key))
	return s.String()
}
