package password

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"
	"strings"
)

// sha-crypt's rounds: the spec's default and floor, and Usher's cap.
// passlib's defaults (535,000 for SHA-256, 656,000 for SHA-512) fit under
// the cap. A million SHA-512 rounds take about 0.3 s for a short password
// and 1.4 s for a 256-byte one (measured on the development machine), about
// what the PBKDF2 cap allows. The spec raises a count under 1,000 to 1,000,
// as glibc did; libxcrypt refuses such hashes instead.
const (
	shaCryptDefaultRounds = 5000
	shaCryptMinRounds     = 1000 // the spec raises smaller counts to this
	maxSHACryptRounds     = 1_000_000
	// maxSHACryptPassword bounds the bytes each sha-crypt round hashes
	// (twice the password, plus salt and digest): longer passwords never
	// match, as bcrypt's over 72 bytes do not.
	maxSHACryptPassword = 256
)

// crypt64 is the alphabet of crypt's base64 (bcrypt's too).
const crypt64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func notCrypt64(r rune) bool { return r > 0x7f || strings.IndexByte(crypt64, byte(r)) < 0 }

// cryptEncode writes sum in crypt's base64: the bytes taken three at a
// time in the order of groups (the last group may be short, its missing
// bytes counted from the front as zero), each group emitted as 24 bits,
// low six bits first.
func cryptEncode(sum []byte, groups [][3]int, tail int) []byte {
	out := make([]byte, 0, (len(sum)*8+5)/6)
	for i, g := range groups {
		w := 0
		for _, j := range g {
			w <<= 8
			if j >= 0 {
				w |= int(sum[j])
			}
		}
		n := 4
		if i == len(groups)-1 {
			n = tail
		}
		for range n {
			out = append(out, crypt64[w&0x3f])
			w >>= 6
		}
	}
	return out
}

// The byte orders of the three crypt hashes' outputs (from their specs).
var (
	sha256Groups = [][3]int{{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
		{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29}, {-1, 31, 30}}
	sha512Groups = [][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4},
		{47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10},
		{53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35}, {15, 36, 57}, {37, 58, 16},
		{59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}, {-1, -1, 63}}
	md5Groups = [][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}, {-1, -1, 11}}
)

type shaCrypt struct {
	name   string
	digest func() hash.Hash
	rounds int
	salt   []byte
	sum    []byte // the stored hash, in crypt's base64
}

// parseSHACrypt decodes "$6$[rounds=N$]<salt>$<hash>" (and "$5$"), and
// Kratos's spellings "$sha512-crypt$…" and "$sha256-crypt$…".
func parseSHACrypt(encoded string) (stored, error) {
	id, rest, _ := strings.Cut(encoded[1:], "$")
	c := shaCrypt{name: "sha512-crypt", digest: sha512.New, rounds: shaCryptDefaultRounds}
	sumLen := 86
	if id == "5" || id == "sha256-crypt" {
		c.name, c.digest, sumLen = "sha256-crypt", sha256.New, 43
	}
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		v, after, found := strings.Cut(r, "$")
		n, isNum := number(v)
		if !found || !isNum {
			return nil, malformed(c.name, "want rounds=<number>$")
		}
		if n > maxSHACryptRounds {
			return nil, overCap(c.name, "rounds", n, maxSHACryptRounds)
		}
		c.rounds, rest = max(n, shaCryptMinRounds), after
	}
	salt, sum, found := strings.Cut(rest, "$")
	switch {
	case !found || len(salt) > 16 || strings.ContainsAny(salt, "\x00\n:"):
		return nil, malformed(c.name, "want a salt of at most 16 characters, then $ and the hash")
	case len(sum) != sumLen || strings.IndexFunc(sum, notCrypt64) >= 0:
		return nil, malformed(c.name, "want a hash of crypt's base64 after the salt")
	case salt == "":
		return nil, refused(c.name+" without a salt", "equal passwords have equal hashes")
	}
	c.salt, c.sum = []byte(salt), []byte(sum)
	return c, nil
}

func (c shaCrypt) match(password string) bool {
	if len(password) > maxSHACryptPassword {
		return false
	}
	got := c.compute([]byte(password))
	return subtle.ConstantTimeCompare(got, c.sum) == 1
}

// compute follows Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512"
// (version 0.6, 2016), steps numbered as there.
func (c shaCrypt) compute(pw []byte) []byte {
	p, s := pw, c.salt
	h := c.digest()
	size := h.Size()
	sum := func() []byte { b := h.Sum(nil); h.Reset(); return b }

	// Digest B: password, salt, password (steps 4–8).
	h.Write(p)
	h.Write(s)
	h.Write(p)
	b := sum()

	// Digest A (steps 1–3, 9–12).
	h.Write(p)
	h.Write(s)
	n := len(p)
	for ; n > size; n -= size {
		h.Write(b)
	}
	h.Write(b[:n])
	for n = len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(p)
		}
	}
	a := sum()

	// Sequence P: digest DP of the password repeated once per byte of it,
	// stretched or cut to the password's length (steps 13–16).
	for range len(p) {
		h.Write(p)
	}
	dp := sum()
	pseq := make([]byte, 0, len(p))
	for len(pseq) < len(p) {
		pseq = append(pseq, dp[:min(size, len(p)-len(pseq))]...)
	}

	// Sequence S: digest DS of the salt repeated 16 + A[0] times, cut to
	// the salt's length (steps 17–20).
	for range 16 + int(a[0]) {
		h.Write(s)
	}
	sseq := sum()[:len(s)]

	// The rounds (step 21).
	cur := a
	for i := range c.rounds {
		if i&1 != 0 {
			h.Write(pseq)
		} else {
			h.Write(cur)
		}
		if i%3 != 0 {
			h.Write(sseq)
		}
		if i%7 != 0 {
			h.Write(pseq)
		}
		if i&1 != 0 {
			h.Write(cur)
		} else {
			h.Write(pseq)
		}
		cur = h.Sum(cur[:0])
		h.Reset()
	}
	if size == sha256.Size {
		return cryptEncode(cur, sha256Groups, 3)
	}
	return cryptEncode(cur, sha512Groups, 2)
}

type md5Crypt struct {
	salt []byte
	sum  []byte // the stored hash, in crypt's base64
}

// parseMD5Crypt decodes "$1$<salt>$<hash>" and Kratos's "$md5-crypt$…".
func parseMD5Crypt(encoded string) (stored, error) {
	const name = "md5-crypt"
	_, rest, _ := strings.Cut(encoded[1:], "$")
	salt, sum, found := strings.Cut(rest, "$")
	switch {
	case !found || len(salt) > 8 || strings.ContainsAny(salt, "\x00\n:"):
		return nil, malformed(name, "want a salt of at most 8 characters, then $ and the hash")
	case len(sum) != 22 || strings.IndexFunc(sum, notCrypt64) >= 0:
		return nil, malformed(name, "want a hash of 22 characters of crypt's base64 after the salt")
	case salt == "":
		return nil, refused(name+" without a salt", "equal passwords have equal hashes")
	}
	return md5Crypt{salt: []byte(salt), sum: []byte(sum)}, nil
}

func (c md5Crypt) match(password string) bool {
	return subtle.ConstantTimeCompare(c.compute([]byte(password)), c.sum) == 1
}

// compute follows Poul-Henning Kamp's md5crypt (FreeBSD, 1994). Its cost
// is fixed: 1,000 rounds, each hashing the password at most twice.
func (c md5Crypt) compute(p []byte) []byte {
	h := md5.New()
	h.Write(p)
	h.Write(c.salt)
	h.Write(p)
	alt := h.Sum(nil)

	h.Reset()
	h.Write(p)
	h.Write([]byte("$1$"))
	h.Write(c.salt)
	for n := len(p); n > 0; n -= md5.Size {
		h.Write(alt[:min(n, md5.Size)])
	}
	for n := len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write([]byte{0})
		} else {
			h.Write(p[:1])
		}
	}
	sum := h.Sum(nil)

	for i := range 1000 {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(sum)
		}
		if i%3 != 0 {
			h.Write(c.salt)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(sum)
		} else {
			h.Write(p)
		}
		sum = h.Sum(sum[:0])
	}
	return cryptEncode(sum, md5Groups, 2)
}
