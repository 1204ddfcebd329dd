package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// Default is OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
var Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Caps on cost parameters read from stored (possibly imported) hashes, so a
// planted hash cannot make one verify take minutes or gigabytes.
const (
	maxMemory  = 256 * 1024
	maxTime    = 16
	maxThreads = 16
	maxKeyLen  = 128
	maxSaltLen = 128
)

// Hasher hashes and verifies passwords through a bounded Pool.
type Hasher struct {
	params Params
	pool   *Pool
	// dummy is verified for unknown users: a PHC string at the current
	// parameters with a random salt and a random key. Verifying it costs
	// what verifying a real hash costs, and it matches no password; it
	// needs no hashing to make, so start-up holds no hashing memory.
	dummy string
	runs  atomic.Int64
	// off, when set, computes argon2 keys in a process of lower priority
	// (offload.go); nil: in this process.
	off *Offload
}

// NewHasher returns a Hasher that makes new hashes with params.
func NewHasher(params Params, pool *Pool) *Hasher {
	salt, key := make([]byte, params.SaltLen), make([]byte, params.KeyLen)
	rand.Read(salt)
	rand.Read(key)
	return &Hasher{params: params, pool: pool, dummy: phc(params, salt, key)}
}

// OffloadTo makes h compute its argon2 keys through off, in a process of
// lower priority. Call it before h is used.
func (h *Hasher) OffloadTo(off *Offload) *Hasher {
	h.off = off
	return h
}

// Runs returns how many hash computations this Hasher has run, dummies
// included. Tests use it to prove that rejected input cost no hashing.
func (h *Hasher) Runs() int64 { return h.runs.Load() }

// Stats returns the counters of the Hasher's pool.
func (h *Hasher) Stats() PoolStats { return h.pool.Stats() }

// Hash returns a PHC string for password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	var out string
	var herr error
	err := h.pool.Do(ctx, func() { out, herr = h.encode(password) })
	if err != nil {
		return "", err
	}
	return out, herr
}

func (h *Hasher) encode(password string) (string, error) {
	h.runs.Add(1)
	p := h.params
	salt := make([]byte, p.SaltLen)
	rand.Read(salt)
	key, err := h.argon2Key(true, password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if err != nil {
		return "", err
	}
	return phc(p, salt, key), nil
}

// argon2Key computes argon2id (id) or argon2i, in the hashing process when
// there is one.
func (h *Hasher) argon2Key(id bool, password string, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error) {
	if h.off != nil {
		return h.off.key(id, h.pool.waiting(), []byte(password), salt, time, memory, threads, keyLen)
	}
	if id {
		return argon2.IDKey([]byte(password), salt, time, memory, threads, keyLen), nil
	}
	return argon2.Key([]byte(password), salt, time, memory, threads, keyLen), nil
}

func phc(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

var b64 = base64.RawStdEncoding

// Verify reports whether password matches encoded, and whether encoded should
// be replaced by a fresh hash at the current parameters. A malformed stored
// hash is an error, never a match.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	var verr error
	err = h.pool.Do(ctx, func() { ok, rehash, verr = h.verify(password, encoded) })
	if err != nil {
		return false, false, err
	}
	return ok, rehash, verr
}

// DummyVerify spends the same work as verifying a real hash, so callers can
// answer unknown users in the same time as known ones.
func (h *Hasher) DummyVerify(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

func (h *Hasher) verify(password, encoded string) (ok, rehash bool, err error) {
	h.runs.Add(1)
	s, err := parse(encoded)
	if err != nil {
		return false, false, err
	}
	if a, own := s.(argon2Hash); own {
		key, err := h.argon2Key(a.variant == "argon2id", password, a.salt, a.p.Time, a.p.Memory, a.p.Threads, uint32(len(a.key)))
		if err != nil {
			return false, false, err
		}
		if subtle.ConstantTimeCompare(key, a.key) != 1 {
			return false, false, nil
		}
		return true, a.outdated(h.params), nil
	}
	if !s.match(password) {
		return false, false, nil
	}
	// Every other format is imported: replace it with argon2id.
	return true, true, nil
}

type argon2Hash struct {
	variant   string
	p         Params
	salt, key []byte
}

func (a argon2Hash) match(password string) bool {
	var key []byte
	if a.variant == "argon2id" {
		key = argon2.IDKey([]byte(password), a.salt, a.p.Time, a.p.Memory, a.p.Threads, uint32(len(a.key)))
	} else {
		key = argon2.Key([]byte(password), a.salt, a.p.Time, a.p.Memory, a.p.Threads, uint32(len(a.key)))
	}
	return subtle.ConstantTimeCompare(key, a.key) == 1
}

// outdated reports whether a differs from the parameters new hashes get.
func (a argon2Hash) outdated(cur Params) bool {
	return a.variant != "argon2id" || a.p.Memory != cur.Memory || a.p.Time != cur.Time ||
		a.p.Threads != cur.Threads || uint32(len(a.key)) != cur.KeyLen || uint32(len(a.salt)) != cur.SaltLen
}

func parseArgon2Stored(s string) (stored, error) { return parseArgon2(s) }

// parseArgon2 decodes "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>".
func parseArgon2(s string) (argon2Hash, error) {
	var a argon2Hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return a, malformed("argon2", "want 5 fields separated by $")
	}
	a.variant = parts[1]
	if parts[2] != "v=19" {
		return a, malformed(a.variant, "want version v=19")
	}
	var seen [3]bool
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		i := strings.Index("mtp", k)
		if len(k) != 1 || i < 0 || seen[i] {
			return a, malformed(a.variant, "want parameters m, t and p once each")
		}
		seen[i] = true
		n, ok := number(v)
		if !ok {
			return a, malformed(a.variant, "parameter "+k+" is not a number")
		}
		switch k {
		case "m":
			if n > maxMemory {
				return a, overCap(a.variant, "memory (KiB)", n, maxMemory)
			}
			a.p.Memory = uint32(n)
		case "t":
			if n > maxTime {
				return a, overCap(a.variant, "time", n, maxTime)
			}
			a.p.Time = uint32(n)
		case "p":
			if n > maxThreads {
				return a, overCap(a.variant, "threads", n, maxThreads)
			}
			a.p.Threads = uint8(n)
		}
	}
	if seen != [3]bool{true, true, true} {
		return a, malformed(a.variant, "want parameters m, t and p once each")
	}
	if a.p.Time < 1 || a.p.Threads < 1 || a.p.Memory < 8*uint32(a.p.Threads) {
		return a, malformed(a.variant, "want t and p at least 1 and m at least 8 per thread")
	}
	var err error
	if a.salt, err = b64.DecodeString(parts[4]); err != nil || len(a.salt) < 8 || len(a.salt) > maxSaltLen {
		return a, malformed(a.variant, fmt.Sprintf("want a salt of 8 to %d bytes in unpadded base64", maxSaltLen))
	}
	if a.key, err = b64.DecodeString(parts[5]); err != nil || len(a.key) < 16 || len(a.key) > maxKeyLen {
		return a, malformed(a.variant, fmt.Sprintf("want a key of 16 to %d bytes in unpadded base64", maxKeyLen))
	}
	return a, nil
}

// maxBcryptCost caps bcrypt's cost: 2^14 rounds take about a second.
const maxBcryptCost = 14

type bcryptHash string

func (b bcryptHash) match(password string) bool {
	// bcrypt reads at most 72 bytes; longer passwords fail rather than
	// match on a prefix.
	if len(password) > 72 {
		return false
	}
	// CompareHashAndPassword compares in constant time.
	return bcrypt.CompareHashAndPassword([]byte(b), []byte(password)) == nil
}

// parseBcrypt checks "$2b$10$<22 chars of salt><31 chars of hash>".
func parseBcrypt(s string) (stored, error) {
	if len(s) != 60 || s[3] != '$' || s[6] != '$' || strings.IndexFunc(s[7:], notCrypt64) >= 0 {
		return nil, malformed("bcrypt", "want $2b$, a two-digit cost, $ and 53 characters of bcrypt's base64")
	}
	cost, ok := number(strings.TrimPrefix(s[4:6], "0"))
	if !ok || cost < bcrypt.MinCost {
		return nil, malformed("bcrypt", "want a cost of 04 to 31")
	}
	if cost > maxBcryptCost {
		return nil, overCap("bcrypt", "cost", cost, maxBcryptCost)
	}
	if _, err := bcrypt.Cost([]byte(s)); err != nil {
		return nil, malformed("bcrypt", "not a bcrypt hash")
	}
	return bcryptHash(s), nil
}
