package password

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// offloadChildEnv makes this test binary the hashing process (TestMain).
const offloadChildEnv = "USHER_TEST_HASH_WORKER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(offloadChildEnv); mode != "" {
		if mode == "refused" { // as a system that refuses the priority
			os.Stderr.WriteString("lowering the priority: operation not permitted\n")
			os.Exit(1)
		}
		if err := LowerPriority(mode == "idle"); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		var in io.Reader = os.Stdin
		if path, ok := strings.CutPrefix(mode, "record:"); ok { // every frame read, kept in a file
			f, err := os.Create(path)
			if err != nil {
				os.Exit(1)
			}
			in = io.TeeReader(os.Stdin, f)
		}
		if err := ServeOffload(in, os.Stdout, 2); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startTestOffload starts this test binary as the hashing process.
func startTestOffload(t *testing.T, mode string) *Offload {
	t.Helper()
	t.Setenv(offloadChildEnv, mode) // inherited by the child only: TestMain read it at start
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	off := NewOffload([]string{exe}, nil)
	if err := off.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = off.Close() })
	return off
}

// TestOffloadStartFailsWhenTheChildCannotRun: a hashing process that
// exits before it is ready (its priority refused) fails Start at once,
// so serve falls back to hashing in its own process instead of failing
// every hash.
func TestOffloadStartFailsWhenTheChildCannotRun(t *testing.T) {
	t.Setenv(offloadChildEnv, "refused")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	off := NewOffload([]string{exe}, nil)
	defer off.Close()
	if err := off.Start(); err == nil || !strings.Contains(err.Error(), "did not start") {
		t.Fatalf("Start = %v; want the child's failure", err)
	}
}

var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// TestOffloadComputesWhatArgon2Computes: keys from the hashing process are
// x/crypto's, for argon2id and argon2i, and a Hasher through it hashes and
// verifies (a right password matches, a wrong one does not).
func TestOffloadComputesWhatArgon2Computes(t *testing.T) {
	off := startTestOffload(t, "low")
	salt := []byte("0123456789abcdef")
	for _, id := range []bool{true, false} {
		got, err := off.key(id, false, []byte("correct horse"), salt, 2, 64, 2, 24)
		if err != nil {
			t.Fatal(err)
		}
		want := argon2.Key([]byte("correct horse"), salt, 2, 64, 2, 24)
		if id {
			want = argon2.IDKey([]byte("correct horse"), salt, 2, 64, 2, 24)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("id=%v: key %x, want %x", id, got, want)
		}
	}
	h := NewHasher(cheap, NewPool(2, 4, time.Second)).OffloadTo(off)
	enc, err := h.Hash(context.Background(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	// The hash verifies in this process too: the same function computed it.
	if ok, _, err := NewHasher(cheap, NewPool(1, 1, time.Second)).Verify(context.Background(), "correct horse", enc); !ok || err != nil {
		t.Errorf("in-process Verify of the offloaded hash = %v, %v", ok, err)
	}
	if ok, _, err := h.Verify(context.Background(), "correct horse", enc); !ok || err != nil {
		t.Errorf("Verify right password = %v, %v", ok, err)
	}
	if ok, _, err := h.Verify(context.Background(), "wrong horse", enc); ok || err != nil {
		t.Errorf("Verify wrong password = %v, %v", ok, err)
	}
}

// TestOffloadSurvivesItsChild: when the hashing process dies, the next
// call starts a new one, and a call in flight when it died is sent again to
// the new one: never a wrong answer, and no failure while a child can run.
func TestOffloadSurvivesItsChild(t *testing.T) {
	off := startTestOffload(t, "low")
	c, err := off.current()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	salt := []byte("0123456789abcdef")
	key, err := off.key(true, false, []byte("pw"), salt, 1, 64, 1, 32)
	if err != nil {
		t.Fatalf("the call after the child died = %v; want a new child to answer", err)
	}
	if !bytes.Equal(key, argon2.IDKey([]byte("pw"), salt, 1, 64, 1, 32)) {
		t.Error("wrong key from the new child")
	}
	c2, _ := off.current()
	if c2 == c {
		t.Fatal("no new child")
	}
	errc := make(chan error, 1)
	var inFlight []byte
	go func() {
		var err error
		inFlight, err = off.key(true, false, []byte("pw"), salt, 3, 32*1024, 1, 32) // long enough to be killed mid-way
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	_ = c2.cmd.Process.Kill()
	if err := <-errc; err != nil {
		t.Fatalf("a call in flight when the child died = %v, want it answered by a new child", err)
	}
	if !bytes.Equal(inFlight, argon2.IDKey([]byte("pw"), salt, 3, 32*1024, 1, 32)) {
		t.Error("wrong key for the call in flight when its child died")
	}
}

// TestOffloadFailsWhenNoChildCanRun: a hashing process that dies at once
// every time gives ErrOffload (the caller answers 503 unavailable), after one retry.
func TestOffloadFailsWhenNoChildCanRun(t *testing.T) {
	off := NewOffload([]string{"/bin/false"}, nil)
	t.Cleanup(func() { _ = off.Close() })
	if _, err := off.key(true, false, []byte("pw"), []byte("0123456789abcdef"), 1, 64, 1, 32); !errors.Is(err, ErrOffload) {
		t.Errorf("key with a child that cannot run = %v, want ErrOffload", err)
	}
}

// TestServeOffloadRefusesMalformedFrames: parameters past the caps, or a
// frame cut short, end the process with an error and compute nothing.
func TestServeOffloadRefusesMalformedFrames(t *testing.T) {
	frame := func(memory uint32, pwLen uint32) []byte {
		var b []byte
		b = binary.LittleEndian.AppendUint64(b, 1)
		b = append(b, 1, 1)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, memory)
		b = binary.LittleEndian.AppendUint32(b, 32)
		b = binary.LittleEndian.AppendUint32(b, pwLen)
		b = binary.LittleEndian.AppendUint32(b, 16)
		return b
	}
	for name, in := range map[string][]byte{
		"memory over the cap":   frame(maxMemory+1, 2),
		"password over the cap": frame(64, maxOffloadPassword+1),
		"cut short":             append(frame(64, 2), 'p'),
		"an unknown flag":       func() []byte { b := append(frame(64, 2), "pw0123456789abcdef"...); b[8] |= 1 << 2; return b }(),
	} {
		var out bytes.Buffer
		if err := ServeOffload(bytes.NewReader(in), &out, 1); err == nil {
			t.Errorf("%s: ServeOffload = nil, want an error", name)
		}
		if !bytes.Equal(out.Bytes(), []byte{offloadReady}) {
			t.Errorf("%s: wrote %q; want its ready byte and no answer", name, out.Bytes())
		}
	}
}

// TestLowerPriorityLowersEveryThread: every thread of the hashing process
// runs 19 steps below this process's nice, at most 19 (and under SCHED_IDLE
// with idle), read from /proc.
func TestLowerPriorityLowersEveryThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-thread priorities are Linux's")
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	own, _ := strconv.Atoi(strings.Fields(string(self[bytes.LastIndexByte(self, ')')+1:]))[19-3])
	wantNice := strconv.Itoa(min(19, own+19))
	for _, mode := range []string{"low", "idle"} {
		off := startTestOffload(t, mode)
		// A computation makes the child start its workers' threads.
		if _, err := off.key(true, false, []byte("pw"), []byte("0123456789abcdef"), 1, 1024, 4, 32); err != nil {
			t.Fatal(err)
		}
		c, _ := off.current()
		dir := filepath.Join("/proc", strconv.Itoa(c.cmd.Process.Pid), "task")
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
			if err != nil {
				continue // the thread ended
			}
			// Fields after the command's closing parenthesis: state is
			// field 3, nice field 19, policy field 41.
			f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
			nice, policy := f[19-3], f[41-3]
			if nice != wantNice {
				t.Errorf("%s: thread %s has nice %s, want %s", mode, e.Name(), nice, wantNice)
			}
			if want := map[string]string{"low": "0", "idle": "5"}[mode]; policy != want {
				t.Errorf("%s: thread %s has policy %s, want %s", mode, e.Name(), policy, want)
			}
		}
		_ = off.Close()
	}
}

// TestOffloadStartLeavesNoChild: Start proves a child can start and ends
// it, so a server that has not hashed keeps no second process; the first
// computation starts one.
func TestOffloadStartLeavesNoChild(t *testing.T) {
	off := startTestOffload(t, "low")
	off.mu.Lock()
	started := off.child
	off.mu.Unlock()
	if started != nil {
		t.Fatal("a child stays after Start")
	}
	salt := []byte("0123456789abcdef")
	key, err := off.key(true, false, []byte("pw"), salt, 1, 64, 1, 32)
	if err != nil || !bytes.Equal(key, argon2.IDKey([]byte("pw"), salt, 1, 64, 1, 32)) {
		t.Fatalf("the first computation after Start: %x, %v", key, err)
	}
	off.mu.Lock()
	defer off.mu.Unlock()
	if off.child == nil {
		t.Error("no child for the first computation")
	}
}

// TestOffloadEndsAnIdleChild: with no computation for offloadIdle the
// child exits, and the next computation starts a new one.
func TestOffloadEndsAnIdleChild(t *testing.T) {
	defer func(d time.Duration) { offloadIdle = d }(offloadIdle)
	offloadIdle = 100 * time.Millisecond
	off := startTestOffload(t, "low")
	salt := []byte("0123456789abcdef")
	if _, err := off.key(true, false, []byte("pw"), salt, 1, 64, 1, 32); err != nil {
		t.Fatal(err)
	}
	off.mu.Lock()
	first := off.child
	off.mu.Unlock()
	select {
	case <-first.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the idle child did not exit")
	}
	key, err := off.key(true, false, []byte("pw"), salt, 1, 64, 1, 32)
	if err != nil || !bytes.Equal(key, argon2.IDKey([]byte("pw"), salt, 1, 64, 1, 32)) {
		t.Fatalf("after the idle child exited: %x, %v", key, err)
	}
	off.mu.Lock()
	second := off.child
	off.mu.Unlock()
	if second == nil || second == first {
		t.Error("no new child for the call after the idle one ended")
	}
}

// TestHasherTellsTheChildOfWaitingHashes: a computation sent while another
// caller waits for one of the pool's workers carries frameWaiting; one
// sent with nobody waiting does not.
func TestHasherTellsTheChildOfWaitingHashes(t *testing.T) {
	frames := filepath.Join(t.TempDir(), "frames")
	off := startTestOffload(t, "record:"+frames)
	p := NewPool(1, 4, time.Minute)
	h := NewHasher(cheap, p).OffloadTo(off)
	ctx := context.Background()
	if _, err := h.Hash(ctx, "alone"); err != nil { // frame 1: nobody waits
		t.Fatal(err)
	}
	// The pool's one worker held while two hashes queue behind it: when
	// it is let go, the first to get it has the other waiting behind it
	// (frame 2), the second nobody (frame 3).
	hold, release := make(chan struct{}), make(chan struct{})
	held := make(chan error)
	go func() { held <- p.Do(ctx, func() { close(hold); <-release }) }()
	<-hold
	queued := make(chan error)
	for _, pw := range []string{"queued 1", "queued 2"} {
		go func() {
			_, err := h.Hash(ctx, pw)
			queued <- err
		}()
	}
	waitFor(t, "two hashes to queue", func() bool { return p.Stats().Queued == 2 })
	close(release)
	if err := errors.Join(<-held, <-queued, <-queued); err != nil {
		t.Fatal(err)
	}
	if err := off.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(frames)
	if err != nil {
		t.Fatal(err)
	}
	var flags []uint8
	for len(b) >= frameHeader {
		flags = append(flags, b[8])
		n := frameHeader + int(binary.LittleEndian.Uint32(b[22:])) + int(binary.LittleEndian.Uint32(b[26:]))
		b = b[min(n, len(b)):]
	}
	want := []uint8{frameArgon2id, frameArgon2id | frameWaiting, frameArgon2id}
	if !slices.Equal(flags, want) {
		t.Errorf("frames' flags %v; want %v", flags, want)
	}
}

// TestServeOffloadCollectsOnlyBetweenLoneHashes: a hash sent while no
// other waited in serve (sign-ins one at a time) is collected after its
// answer, so the next one reuses its memory; hashes sent while others
// waited (a burst, one worker or several) are not, as a collection with
// nothing live would make the runtime give the hash memory back to the
// system for the next hash to fault in again.
func TestServeOffloadCollectsOnlyBetweenLoneHashes(t *testing.T) {
	// Only the collections under test: no sporadic hash, no idle return.
	defer func(g, f time.Duration) { sporadicGap, freeAfter = g, f }(sporadicGap, freeAfter)
	sporadicGap, freeAfter = time.Hour, time.Hour

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := ServeOffload(inR, outW, 1)
		_ = outW.Close()
		done <- err
	}()
	defer func() {
		_ = inW.Close()
		_, _ = io.Copy(io.Discard, outR)
		if err := <-done; err != nil {
			t.Errorf("ServeOffload: %v", err)
		}
	}()
	ready := make([]byte, 1)
	if _, err := io.ReadFull(outR, ready); err != nil || ready[0] != offloadReady {
		t.Fatalf("ready byte %x, %v", ready, err)
	}
	// hash sends one computation and reads its answer. With one worker,
	// the collection that follows an answer ends before the next
	// computation starts, so it is counted by the next answer.
	hash := func(n uint64, waiting bool) {
		t.Helper()
		flags := uint8(frameArgon2id)
		if waiting {
			flags |= frameWaiting
		}
		if _, err := inW.Write(appendFrame(nil, n, flags, 1, 1, 1024, 32, []byte("pw"), []byte("0123456789abcdef"))); err != nil {
			t.Fatal(err)
		}
		var hdr [12]byte
		if _, err := io.ReadFull(outR, hdr[:]); err != nil {
			t.Fatal(err)
		}
		if got := binary.LittleEndian.Uint64(hdr[:8]); got != n {
			t.Fatalf("answer to %d; want %d", got, n)
		}
		if _, err := io.ReadFull(outR, make([]byte, binary.LittleEndian.Uint32(hdr[8:]))); err != nil {
			t.Fatal(err)
		}
	}
	forced := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}

	hash(1, false)
	hash(2, true) // the collection after the first ends before the count starts
	for _, c := range []struct {
		name    string
		waiting []bool // each computation's flag, then one more sent waiting
		want    uint64
	}{
		{"a burst", []bool{true, true, true, true}, 0},
		{"one at a time", []bool{false, false, false}, 3},
		{"the end of a burst", []bool{true, true, false}, 1},
	} {
		before := forced()
		for i, w := range c.waiting {
			hash(uint64(10+i), w)
		}
		hash(99, true)
		if got := forced() - before; got != c.want {
			t.Errorf("%s (%v): %d collections forced; want %d", c.name, c.waiting, got, c.want)
		}
	}
}
