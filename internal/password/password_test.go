package password_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/usherhq/usher/internal/password"
)

// cheap keeps argon2id fast in tests.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newHasher(t *testing.T, p password.Params) *password.Hasher {
	t.Helper()
	return password.NewHasher(p, password.NewPool(2, 8, time.Minute))
}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheap)
	for _, pw := range []string{"correct horse", "", " padded ", "ünïcødé ä", strings.Repeat("x", 200)} {
		encoded, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatalf("Hash(%q) error %v", pw, err)
		}
		ok, rehash, err := h.Verify(ctx, pw, encoded)
		if err != nil || !ok || rehash {
			t.Errorf("Verify(%q, own hash) = %v, %v, %v; want true, false, nil", pw, ok, rehash, err)
		}
		ok, _, err = h.Verify(ctx, pw+"!", encoded)
		if err != nil || ok {
			t.Errorf("Verify(wrong password) = %v, %v; want false, nil", ok, err)
		}
	}
}

func TestHashNotTrimmed(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheap)
	encoded, err := h.Hash(ctx, " secret ")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := h.Verify(ctx, "secret", encoded); ok {
		t.Errorf("Verify(trimmed password) = true; want false")
	}
}

func TestHashFormat(t *testing.T) {
	h := newHasher(t, cheap)
	encoded, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(encoded, "$")
	if got, want := len(parts), 6; got != want {
		t.Fatalf("Hash = %q: %d segments; want %d", encoded, got, want)
	}
	for i, want := range []string{"", "argon2id", "v=19", "m=64,t=1,p=1"} {
		if got := parts[i]; got != want {
			t.Errorf("Hash = %q: segment %d = %q; want %q", encoded, i, got, want)
		}
	}
	// Salt (16 bytes) and key (32 bytes) in unpadded standard base64.
	for i, want := range map[int]int{4: 16, 5: 32} {
		b, err := base64.RawStdEncoding.Strict().DecodeString(parts[i])
		if err != nil {
			t.Errorf("segment %d %q: %v", i, parts[i], err)
		}
		if got := len(b); got != want {
			t.Errorf("segment %d %q: %d bytes; want %d", i, parts[i], got, want)
		}
	}
	other, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if other == encoded {
		t.Errorf("two hashes of one password are equal (%q); want distinct salts", encoded)
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheap)
	start := h.Runs()
	encoded, err := h.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.Runs()-start, int64(1); got != want {
		t.Errorf("runs after Hash = %d; want %d", got, want)
	}
	if _, _, err := h.Verify(ctx, "pw", encoded); err != nil {
		t.Fatal(err)
	}
	if got, want := h.Runs()-start, int64(2); got != want {
		t.Errorf("runs after Verify = %d; want %d", got, want)
	}
	if err := h.DummyVerify(ctx, "pw"); err != nil {
		t.Fatalf("DummyVerify error %v", err)
	}
	if got, want := h.Runs()-start, int64(3); got != want {
		t.Errorf("runs after DummyVerify = %d; want %d", got, want)
	}
}

// phc builds an argon2 PHC string from parts, with a real key for pw.
func phc(variant string, p password.Params, pw string) string {
	salt := []byte("0123456789abcdef")[:p.SaltLen]
	var key []byte
	if variant == "argon2id" {
		key = argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	} else {
		key = argon2.Key([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	}
	return fmt.Sprintf("$%s$v=19$m=%d,t=%d,p=%d$%s$%s", variant, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestVerifyRehash(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheap)
	withMemory := cheap
	withMemory.Memory = 128
	withTime := cheap
	withTime.Time = 2
	withThreads := cheap
	withThreads.Threads = 2
	withKeyLen := cheap
	withKeyLen.KeyLen = 16
	withSaltLen := cheap
	withSaltLen.SaltLen = 8
	tests := []struct {
		name       string
		encoded    string
		wantRehash bool
	}{
		{name: "current params", encoded: phc("argon2id", cheap, "pw"), wantRehash: false},
		{name: "other memory", encoded: phc("argon2id", withMemory, "pw"), wantRehash: true},
		{name: "other time", encoded: phc("argon2id", withTime, "pw"), wantRehash: true},
		{name: "other threads", encoded: phc("argon2id", withThreads, "pw"), wantRehash: true},
		{name: "other key length", encoded: phc("argon2id", withKeyLen, "pw"), wantRehash: true},
		{name: "other salt length", encoded: phc("argon2id", withSaltLen, "pw"), wantRehash: true},
		{name: "argon2i", encoded: phc("argon2i", cheap, "pw"), wantRehash: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, "pw", tt.encoded)
			if err != nil || !ok {
				t.Fatalf("Verify(%q) = %v, %v; want true, nil", tt.encoded, ok, err)
			}
			if rehash != tt.wantRehash {
				t.Errorf("Verify(%q) rehash = %v; want %v", tt.encoded, rehash, tt.wantRehash)
			}
			if ok, _, err := h.Verify(ctx, "wrong", tt.encoded); err != nil || ok {
				t.Errorf("Verify(wrong, %q) = %v, %v; want false, nil", tt.encoded, ok, err)
			}
		})
	}
}

func TestVerifyBcrypt(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheap)
	long72 := strings.Repeat("b", 72)
	tests := []struct {
		name       string
		hashOf     string
		verify     string
		wantOK     bool
		wantRehash bool
	}{
		{name: "match", hashOf: "secret pw", verify: "secret pw", wantOK: true, wantRehash: true},
		{name: "mismatch", hashOf: "secret pw", verify: "secret pX", wantOK: false},
		{name: "72 bytes match", hashOf: long72, verify: long72, wantOK: true, wantRehash: true},
		{name: "73 bytes with a matching prefix", hashOf: long72, verify: long72 + "c", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bcrypt.GenerateFromPassword([]byte(tt.hashOf), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
				encoded := prefix + string(b)[4:]
				ok, rehash, err := h.Verify(ctx, tt.verify, encoded)
				if err != nil {
					t.Fatalf("Verify(%s…) error %v", prefix, err)
				}
				if ok != tt.wantOK || rehash != tt.wantRehash {
					t.Errorf("Verify(%s…) = %v, %v; want %v, %v", prefix, ok, rehash, tt.wantOK, tt.wantRehash)
				}
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheap)
	good := phc("argon2id", cheap, "pw")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		encoded string
	}{
		{name: "empty", encoded: ""},
		{name: "plain text", encoded: "pw"},
		{name: "unknown scheme", encoded: "$md5-crypt$ln=1,r=8,p=1$" + salt + "$" + key},
		{name: "argon2d", encoded: "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "too few segments", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{name: "too many segments", encoded: good + "$x"},
		{name: "wrong version", encoded: "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "missing version", encoded: "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "bad base64 salt", encoded: "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key},
		{name: "bad base64 key", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "*"},
		{name: "padded base64", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{name: "memory over cap", encoded: "$argon2id$v=19$m=2000000,t=1,p=1$" + salt + "$" + key},
		{name: "memory over uint32", encoded: "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key},
		{name: "memory below 8 per thread", encoded: "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key},
		{name: "time zero", encoded: "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{name: "time over cap", encoded: "$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key},
		{name: "threads zero", encoded: "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{name: "threads over cap", encoded: "$argon2id$v=19$m=64,t=1,p=255$" + salt + "$" + key},
		{name: "threads over uint8", encoded: "$argon2id$v=19$m=64,t=1,p=257$" + salt + "$" + key},
		{name: "negative", encoded: "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key},
		{name: "unknown param", encoded: "$argon2id$v=19$m=64,t=1,p=1,x=1$" + salt + "$" + key},
		{name: "missing params", encoded: "$argon2id$v=19$$" + salt + "$" + key},
		{name: "short key", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:10]},
		{name: "short salt", encoded: "$argon2id$v=19$m=64,t=1,p=1$AAAA$" + key},
		{name: "bcrypt truncated", encoded: string(bc)[:20]},
		{name: "bcrypt cost over cap", encoded: "$2a$31$" + string(bc)[7:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, "pw", tt.encoded)
			if err == nil || ok || rehash {
				t.Errorf("Verify(%q) = %v, %v, %v; want false, false, an error", tt.encoded, ok, rehash, err)
			}
		})
	}
}

func TestDummyVerify(t *testing.T) {
	h := newHasher(t, cheap)
	before := h.Runs()
	if err := h.DummyVerify(context.Background(), "anything"); err != nil {
		t.Fatalf("DummyVerify error %v", err)
	}
	if got, want := h.Runs()-before, int64(1); got != want {
		t.Errorf("DummyVerify ran %d computations; want %d", got, want)
	}
}

func TestHasherBusy(t *testing.T) {
	// A Hasher whose pool is full answers ErrBusy without hashing.
	pool := password.NewPool(1, 0, time.Minute)
	h := password.NewHasher(cheap, pool)
	hold, release := holdWorker(t, pool)
	defer release()
	<-hold
	before := h.Runs()
	if _, err := h.Hash(context.Background(), "pw"); !errors.Is(err, password.ErrBusy) {
		t.Errorf("Hash on a full pool error %v; want ErrBusy", err)
	}
	if _, _, err := h.Verify(context.Background(), "pw", phc("argon2id", cheap, "pw")); !errors.Is(err, password.ErrBusy) {
		t.Errorf("Verify on a full pool error %v; want ErrBusy", err)
	}
	if got := h.Runs() - before; got != 0 {
		t.Errorf("runs on a full pool = %d; want 0", got)
	}
}

// holdWorker occupies one worker of pool until release is called. The
// returned channel is closed once the worker is held.
func holdWorker(t *testing.T, pool *password.Pool) (held <-chan struct{}, release func()) {
	t.Helper()
	h := make(chan struct{})
	r := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- pool.Do(context.Background(), func() {
			close(h)
			<-r
		})
	}()
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(r)
			if err := <-done; err != nil {
				t.Errorf("holding Do error %v", err)
			}
		})
	}
	t.Cleanup(release)
	return h, release
}

func TestPoolBusyWithoutQueue(t *testing.T) {
	pool := password.NewPool(1, 0, time.Minute)
	held, release := holdWorker(t, pool)
	<-held
	ran := false
	if err := pool.Do(context.Background(), func() { ran = true }); !errors.Is(err, password.ErrBusy) {
		t.Errorf("second Do error %v; want ErrBusy", err)
	}
	if ran {
		t.Errorf("second Do ran its function; want not")
	}
	release()
	if err := pool.Do(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Errorf("Do after release = %v, ran %v; want nil, true", err, ran)
	}
}

func TestPoolMaxWait(t *testing.T) {
	pool := password.NewPool(1, 1, 20*time.Millisecond)
	held, _ := holdWorker(t, pool)
	<-held
	ran := false
	if err := pool.Do(context.Background(), func() { ran = true }); !errors.Is(err, password.ErrBusy) {
		t.Errorf("waiter past MaxWait error %v; want ErrBusy", err)
	}
	if ran {
		t.Errorf("waiter past MaxWait ran its function; want not")
	}
}

func TestPoolCancelledContext(t *testing.T) {
	pool := password.NewPool(1, 4, time.Minute)
	held, _ := holdWorker(t, pool)
	<-held

	t.Run("cancelled before Do", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := pool.Do(ctx, func() { t.Error("fn ran") }); !errors.Is(err, context.Canceled) {
			t.Errorf("Do error %v; want context.Canceled", err)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- pool.Do(ctx, func() { t.Error("fn ran") }) }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Do error %v; want context.Canceled", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
		defer cancel()
		if err := pool.Do(ctx, func() { t.Error("fn ran") }); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do error %v; want context.DeadlineExceeded", err)
		}
	})
}

func TestPoolConcurrencyBound(t *testing.T) {
	const workers, callers = 3, 40
	pool := password.NewPool(workers, callers, time.Minute)
	var cur, peak atomic.Int32
	entered := make(chan struct{}, callers)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pool.Do(context.Background(), func() {
				n := cur.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				entered <- struct{}{}
				<-gate
				cur.Add(-1)
			})
		}()
	}
	// All workers become busy at once; then the rest run as slots free up.
	for range workers {
		<-entered
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Do error %v; want nil", err)
		}
	}
	if got, want := peak.Load(), int32(workers); got != want {
		t.Errorf("peak concurrent fns = %d; want %d", got, want)
	}
	if got, want := len(entered), callers-workers; got != want {
		t.Errorf("fns run after the gate = %d; want %d", got, want)
	}
}

func TestNewPoolClamps(t *testing.T) {
	// Zero workers still runs one fn; a negative queue means no queue.
	pool := password.NewPool(0, -1, time.Minute)
	held, _ := holdWorker(t, pool)
	<-held
	if err := pool.Do(context.Background(), func() {}); !errors.Is(err, password.ErrBusy) {
		t.Errorf("Do on a clamped pool error %v; want ErrBusy", err)
	}
}

func TestPolicy(t *testing.T) {
	p := password.Policy{Min: 8, Max: 10}
	tests := []struct {
		name    string
		pw      string
		wantErr bool
	}{
		{name: "8 ascii", pw: "abcdefgh"},
		{name: "7 ascii", pw: "abcdefg", wantErr: true},
		{name: "8 two-byte code points", pw: strings.Repeat("ä", 8)},
		{name: "7 two-byte code points", pw: strings.Repeat("ä", 7), wantErr: true},
		{name: "7 four-byte code points", pw: strings.Repeat("😀", 7), wantErr: true},
		{name: "10 two-byte code points", pw: strings.Repeat("ä", 10)},
		{name: "11 ascii", pw: strings.Repeat("a", 11), wantErr: true},
		{name: "11 two-byte code points", pw: strings.Repeat("ä", 11), wantErr: true},
		{name: "spaces count", pw: "    abcd"},
		{name: "empty", pw: "", wantErr: true},
		{name: "far too long", pw: strings.Repeat("a", 100000), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Check(tt.pw)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("Check(%.20q) error %v; want error %v", tt.pw, err, tt.wantErr)
			}
			if err == nil {
				return
			}
			var v password.Violation
			if !errors.As(err, &v) {
				t.Errorf("Check(%.20q) error %T; want password.Violation", tt.pw, err)
			}
			if v.Error() == "" {
				t.Errorf("Check(%.20q) Violation has no message", tt.pw)
			}
		})
	}
}

func TestLooksLikeHash(t *testing.T) {
	h := newHasher(t, password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	argon, err := h.Hash(t.Context(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		s    string
		want bool
	}{
		"argon2id":             {argon, true},
		"bcrypt":               {"$2b$04$abcdefghijklmnopqrstuu5dN6VY2M7xCk0Xg0oLQ8cZ7v1Z5e8hy", true},
		"scrypt":               {"$scrypt$ln=15,r=8,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", true},
		"pbkdf2 passlib":       {"$pbkdf2-sha256$29000$N2bMWSvF$qo6ryLtYfYD4IUcVaHGfYQlYkQ8tYb1Gc9c1n9xTY0s", true},
		"sha512-crypt":         {"$6$rounds=5000$saltsalt$Gh8H3aUFbnn6vz0wN4QGkUE8I3E4QDm5cG", true},
		"plain passphrase":     {"correct horse battery staple", false},
		"dollar inside":        {"pa$$word-with-$ome-dollars-in-it-1234", false},
		"short dollar form":    {"$ab$cd$ef", false},
		"upper-case id":        {"$ARGON2ID$v=19$m=64,t=1,p=1$c2FsdA$a2V5a2V5", false},
		"starts with a dollar": {"$ I like money, 1234567890 times $", false},
	} {
		if got := password.LooksLikeHash(tc.s); got != tc.want {
			t.Errorf("%s: LooksLikeHash(%q) = %v, want %v", name, tc.s, got, tc.want)
		}
	}
	if err := (password.Policy{Min: 8, Max: 128}).Check(argon); err == nil {
		t.Error("Policy.Check accepted a hash string as a new password")
	}
}
