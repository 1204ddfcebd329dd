package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
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

var errFormat = errors.New("password: unrecognised hash format")

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
}

// NewHasher returns a Hasher that makes new hashes with params.
func NewHasher(params Params, pool *Pool) *Hasher {
	salt, key := make([]byte, params.SaltLen), make([]byte, params.KeyLen)
	rand.Read(salt)
	rand.Read(key)
	return &Hasher{params: params, pool: pool, dummy: phc(params, salt, key)}
}

// Runs returns how many hash computations this Hasher has run, dummies
// included. Tests use it to prove that rejected input cost no hashing.
func (h *Hasher) Runs() int64 { return h.runs.Load() }

// Stats returns the counters of the Hasher's pool.
func (h *Hasher) Stats() PoolStats { return h.pool.Stats() }

// Hash returns a PHC string for password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	var out string
	err := h.pool.Do(ctx, func() { out = h.encode(password) })
	return out, err
}

func (h *Hasher) encode(password string) string {
	h.runs.Add(1)
	p := h.params
	salt := make([]byte, p.SaltLen)
	rand.Read(salt)
	return phc(p, salt, argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen))
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
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"), strings.HasPrefix(encoded, "$argon2i$"):
		a, err := parseArgon2(encoded)
		if err != nil {
			return false, false, err
		}
		var key []byte
		if a.variant == "argon2id" {
			key = argon2.IDKey([]byte(password), a.salt, a.p.Time, a.p.Memory, a.p.Threads, uint32(len(a.key)))
		} else {
			key = argon2.Key([]byte(password), a.salt, a.p.Time, a.p.Memory, a.p.Threads, uint32(len(a.key)))
		}
		ok = subtle.ConstantTimeCompare(key, a.key) == 1
		cur := h.params
		rehash = a.variant != "argon2id" || a.p.Memory != cur.Memory || a.p.Time != cur.Time ||
			a.p.Threads != cur.Threads || uint32(len(a.key)) != cur.KeyLen || uint32(len(a.salt)) != cur.SaltLen
		return ok, rehash, nil
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		cost, err := bcrypt.Cost([]byte(encoded))
		if err != nil || cost > 14 {
			return false, false, fmt.Errorf("password: bad bcrypt hash: %w", errFormat)
		}
		// bcrypt reads at most 72 bytes; longer passwords fail rather than
		// match on a prefix.
		if len(password) > 72 {
			return false, false, nil
		}
		err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		return err == nil, err == nil, nil
	case strings.HasPrefix(encoded, "$scrypt$"):
		ok, err := verifyScrypt(password, encoded)
		return ok, ok, err
	case strings.HasPrefix(encoded, "$pbkdf2-sha256$"):
		ok, err := verifyPBKDF2(password, encoded)
		return ok, ok, err
	}
	return false, false, errFormat
}

type argon2Hash struct {
	variant   string
	p         Params
	salt, key []byte
}

// parseArgon2 decodes "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>".
func parseArgon2(s string) (argon2Hash, error) {
	var a argon2Hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[2] != "v=19" {
		return a, errFormat
	}
	a.variant = parts[1]
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, found := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !found || err != nil {
			return a, errFormat
		}
		switch k {
		case "m":
			a.p.Memory = uint32(n)
		case "t":
			a.p.Time = uint32(n)
		case "p":
			if n > maxThreads {
				return a, errFormat
			}
			a.p.Threads = uint8(n)
		default:
			return a, errFormat
		}
	}
	var err error
	if a.salt, err = b64.DecodeString(parts[4]); err != nil {
		return a, errFormat
	}
	if a.key, err = b64.DecodeString(parts[5]); err != nil {
		return a, errFormat
	}
	if a.p.Memory < 8*uint32(a.p.Threads) || a.p.Memory > maxMemory || a.p.Time < 1 || a.p.Time > maxTime ||
		a.p.Threads < 1 || len(a.key) < 16 || len(a.key) > maxKeyLen || len(a.salt) < 8 || len(a.salt) > maxSaltLen {
		return a, errFormat
	}
	return a, nil
}
