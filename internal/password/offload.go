package password

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Hashing in a process of lower priority.
//
// Inside one Go process a hashing goroutine holds one of the scheduler's
// slots (Ps) for a whole argon2 segment, and Go's scheduler has no
// priorities: with a hash on every CPU, a request that is ready to run waits
// for a segment to end or for the runtime to preempt it. The kernel has
// priorities, but for threads, and x/crypto/argon2 runs each segment on a
// goroutine of its own, on whichever thread is free, so lowering the
// priority of the threads that call it lowers nothing. A process of its
// own whose every thread runs at low priority gives the kernel what it
// needs: the hashes take every CPU the requests leave, and a request ready
// to run takes a CPU from a hash at once.
//
// Offload is Usher's side of that process: it starts it, sends it the
// argon2 computations over a pipe and hands each answer to its caller. The
// process (ServeOffload) holds no state but the computation in progress; if
// it dies, the calls in flight fail and the next call starts a new one.

// maxOffloadPassword bounds a password sent to the hashing process, so a
// broken frame cannot make it allocate without limit. Usher's own limit
// (password-max) is far lower.
const maxOffloadPassword = 1 << 16

// sporadicGap is how long the hashing process must have been idle for a
// hash to count as sporadic, and freeAfter how long it stays idle before
// it gives its memory back (see ServeOffload). Variables for tests.
var sporadicGap, freeAfter = 100 * time.Millisecond, time.Second

// The flags of a computation's frame (its ninth byte).
const (
	frameArgon2id = 1 << 0 // argon2id, else argon2i
	// frameWaiting: when serve sent it, another hash was waiting for one
	// of its pool's workers (a burst; see ServeOffload).
	frameWaiting = 1 << 1
)

// frameHeader is the length of a computation's frame before its password
// and salt: the number, flags, parameters and the two lengths.
const frameHeader = 30

// appendFrame appends a computation's frame: its number, flags, the
// parameters, the password and the salt (ServeOffload reads it).
func appendFrame(b []byte, n uint64, flags, threads uint8, time, memory, keyLen uint32, password, salt []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, n)
	b = append(b, flags, threads)
	b = binary.LittleEndian.AppendUint32(b, time)
	b = binary.LittleEndian.AppendUint32(b, memory)
	b = binary.LittleEndian.AppendUint32(b, keyLen)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(password)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(salt)))
	b = append(b, password...)
	return append(b, salt...)
}

// ErrOffload is returned when the hashing process could not answer.
var ErrOffload = errors.New("the password hashing process failed")

// offloadIdle is how long the child lives without a computation: an idle
// Usher keeps no second process (about 8 MiB of its own memory), and the
// first hash after a quiet spell pays the child's start (tens of ms).
var offloadIdle = time.Minute

// offloadReady is the byte the hashing process writes first, once it has
// lowered its priority: a child that cannot (a system that refuses it)
// exits instead, and Start reports that, so serve hashes in its own
// process rather than fail every hash.
const offloadReady = 0xA5

// offloadStartTimeout bounds the wait for offloadReady.
const offloadStartTimeout = 10 * time.Second

// Offload computes argon2 keys in a child process.
type Offload struct {
	argv []string
	env  []string // the child's environment (nil: this process's)

	mu       sync.Mutex
	child    *offloadChild // nil or dead: the next call starts one
	next     uint64
	inflight int         // calls between current and their answer
	idle     *time.Timer // ends the child when no call came for offloadIdle
}

type offloadChild struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	wmu  sync.Mutex // one frame at a time on in
	mu   sync.Mutex // guards wait and err
	wait map[uint64]chan []byte
	err  error // set once the child is gone
	done chan struct{}
}

// NewOffload returns an Offload that runs argv (a command that calls
// ServeOffload, such as `usher hash-worker`) with the environment env (nil:
// this process's) when it is first needed.
func NewOffload(argv, env []string) *Offload { return &Offload{argv: argv, env: env} }

// Start starts a child and ends it once it is ready, so that a command
// that cannot run (or cannot lower its priority) is found at start-up
// rather than at the first login, and a server that has not hashed yet
// keeps no second process: the first hash starts the child again, as
// after any idle minute.
func (o *Offload) Start() error {
	if _, err := o.current(); err != nil {
		return err
	}
	o.endIdle()
	return nil
}

// current returns the live child, starting one if there is none.
func (o *Offload) current() (*offloadChild, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.currentLocked()
}

func (o *Offload) currentLocked() (*offloadChild, error) {
	if c := o.child; c != nil {
		select {
		case <-c.done:
		default:
			return c, nil
		}
	}
	cmd := exec.Command(o.argv[0], o.argv[1:]...)
	cmd.Env = o.env
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the password hashing process: %w", err)
	}
	if err := awaitReady(out); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the password hashing process did not start: %w", err)
	}
	c := &offloadChild{cmd: cmd, in: in, wait: map[uint64]chan []byte{}, done: make(chan struct{})}
	go c.read(out)
	o.child = c
	o.armIdle()
	return c, nil
}

// armIdle (o.mu held) ends the child once no call has been in flight for
// offloadIdle. The decision is taken under o.mu, where calls register, so
// no call is ever sent to a child that is being ended.
func (o *Offload) armIdle() {
	if o.idle == nil {
		o.idle = time.AfterFunc(offloadIdle, o.endIdle)
		return
	}
	o.idle.Reset(offloadIdle)
}

func (o *Offload) endIdle() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.inflight > 0 || o.child == nil {
		return
	}
	_ = o.child.in.Close() // the child exits at the end of its input
	o.child = nil
}

// awaitReady reads the child's offloadReady byte, for at most
// offloadStartTimeout.
func awaitReady(out io.Reader) error {
	if f, ok := out.(*os.File); ok {
		_ = f.SetReadDeadline(time.Now().Add(offloadStartTimeout))
		defer f.SetReadDeadline(time.Time{}) //nolint:errcheck // a pipe that took the first deadline takes this one
	}
	var b [1]byte
	if _, err := io.ReadFull(out, b[:]); err != nil {
		return err
	}
	if b[0] != offloadReady {
		return fmt.Errorf("it began with %#x, not its ready byte", b[0])
	}
	return nil
}

// read hands each answer to its caller until the child's output ends; then
// it fails the calls still waiting and reaps the child.
func (c *offloadChild) read(out io.Reader) {
	r := bufio.NewReader(out)
	var err error
	for {
		var hdr [12]byte
		if _, err = io.ReadFull(r, hdr[:]); err != nil {
			break
		}
		id, n := binary.LittleEndian.Uint64(hdr[:8]), binary.LittleEndian.Uint32(hdr[8:])
		if n > maxKeyLen {
			err = errors.New("answer too long")
			break
		}
		key := make([]byte, n)
		if _, err = io.ReadFull(r, key); err != nil {
			break
		}
		c.mu.Lock()
		ch := c.wait[id]
		delete(c.wait, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- key
		}
	}
	_ = c.in.Close()
	werr := c.cmd.Wait()
	c.mu.Lock()
	c.err = errors.Join(err, werr)
	for id, ch := range c.wait {
		close(ch)
		delete(c.wait, id)
	}
	c.mu.Unlock()
	close(c.done)
}

// key computes argon2id (id) or argon2i in the child; waiting tells it that
// other hashes wait behind this one. A child found dead
// when the call is sent or answered (it was killed, or it crashed; the
// reader may not have noticed yet) is replaced and the computation sent once
// more: it is a pure function of its input, so a second try is safe.
func (o *Offload) key(id, waiting bool, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error) {
	if len(password) > maxOffloadPassword || len(salt) > maxSaltLen || keyLen > maxKeyLen {
		return nil, errors.New("argon2 input over the hashing process's limits")
	}
	o.mu.Lock()
	o.inflight++
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		if o.inflight--; o.inflight == 0 {
			o.armIdle()
		}
		o.mu.Unlock()
	}()
	var flags uint8
	if id {
		flags |= frameArgon2id
	}
	if waiting {
		flags |= frameWaiting
	}
	// The call's number is set per try.
	frame := appendFrame(make([]byte, 0, frameHeader+len(password)+len(salt)), 0, flags, threads, time, memory, keyLen, password, salt)
	defer clear(frame) // the password
	var err error
	for range 2 {
		var key []byte
		if key, err = o.try(frame); err == nil {
			return key, nil
		}
	}
	return nil, err
}

// try sends frame to the live child (starting one if needed) and waits for
// its answer. On failure it returns once that child is gone, so that the
// next try starts a new one.
func (o *Offload) try(frame []byte) ([]byte, error) {
	o.mu.Lock()
	c, err := o.currentLocked()
	if err != nil {
		o.mu.Unlock()
		return nil, errors.Join(ErrOffload, err)
	}
	o.next++
	n := o.next
	o.mu.Unlock()
	binary.LittleEndian.PutUint64(frame[:8], n)
	ch := make(chan []byte, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		<-c.done
		return nil, ErrOffload
	}
	c.wait[n] = ch
	c.mu.Unlock()
	c.wmu.Lock()
	_, err = c.in.Write(frame)
	c.wmu.Unlock()
	if err != nil {
		c.mu.Lock()
		delete(c.wait, n)
		c.mu.Unlock()
		_ = c.cmd.Process.Kill() // a half-written frame: this child is no use any more
		<-c.done
		return nil, ErrOffload
	}
	key, ok := <-ch
	if !ok {
		<-c.done // closed right after the calls in flight are failed
		return nil, ErrOffload
	}
	return key, nil
}

// Close ends the child and waits for it.
func (o *Offload) Close() error {
	o.mu.Lock()
	c := o.child
	o.child = nil
	if o.idle != nil {
		o.idle.Stop()
	}
	o.mu.Unlock()
	if c == nil {
		return nil
	}
	_ = c.in.Close() // the child exits at the end of its input
	<-c.done
	return nil
}

// ServeOffload is the hashing process: it reads computations from in,
// runs up to workers of them at once and writes each key to out, until in
// ends. A malformed frame ends it with an error (Usher then fails the calls
// in flight and starts a new process).
func ServeOffload(in io.Reader, out io.Writer, workers int) error {
	r := bufio.NewReader(in)
	w := bufio.NewWriter(out)
	var wmu sync.Mutex
	type job struct {
		id                   uint64
		argonID, waiting     bool
		threads              uint8
		time, memory, keyLen uint32
		password, salt       []byte
	}
	if err := w.WriteByte(offloadReady); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	jobs := make(chan job)
	// When no hash has run for freeAfter, the memory the last ones held
	// goes back to the system: an idle process keeps only its runtime.
	var running atomic.Int64
	start := time.Now()        // times below are since start: monotonic
	var idleSince atomic.Int64 // when running last fell to zero
	// A new process counts as idle for long: its first hash is sporadic.
	idleSince.Store(-int64(sporadicGap))
	idle := time.AfterFunc(time.Hour, debug.FreeOSMemory)
	defer idle.Stop()
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				// A hash that starts after the process sat idle for a
				// while is a sporadic one, not part of a burst.
				sporadic := running.Add(1) == 1 && time.Since(start)-time.Duration(idleSince.Load()) > sporadicGap
				idle.Stop()
				var key []byte
				if j.argonID {
					key = argon2.IDKey(j.password, j.salt, j.time, j.memory, j.threads, j.keyLen)
				} else {
					key = argon2.Key(j.password, j.salt, j.time, j.memory, j.threads, j.keyLen)
				}
				clear(j.password)
				if running.Add(-1) == 0 {
					if sporadic {
						// Return this hash's memory before answering, so
						// that the next one (which may come as soon as the
						// answer is read) does not add its own beside it
						// while a background collection frees this one:
						// the process's peak stays one hash. It costs the
						// next hash its page faults (a millisecond or
						// two), so hashes in a burst skip it.
						debug.FreeOSMemory()
					}
					idleSince.Store(int64(time.Since(start)))
					idle.Reset(freeAfter)
				}
				var hdr [12]byte
				binary.LittleEndian.PutUint64(hdr[:8], j.id)
				binary.LittleEndian.PutUint32(hdr[8:], uint32(len(key)))
				wmu.Lock()
				_, _ = w.Write(hdr[:])
				_, _ = w.Write(key)
				_ = w.Flush()
				wmu.Unlock()
				if running.Load() == 0 && !j.waiting && !sporadic {
					// Nothing is hashing, and no other hash waited in
					// serve when this one was sent (sign-ins one at a
					// time): collect the memory of the hash just answered
					// now, so that the next one reuses it instead of
					// taking its own beside it, and the peak stays one
					// hash. Done after the answer, and only with no hash
					// running, whose segments a collection would wait
					// for. Not in a burst: a collection with nothing live
					// lowers the heap's goal, so the runtime gives the
					// free hash memory back to the system and the next
					// hashes fault it in again (a millisecond of CPU a
					// hash, measured). A sporadic hash's memory went back
					// before its answer.
					runtime.GC()
				}
			}
		}()
	}
	var err error
	for {
		var hdr [frameHeader]byte
		if _, err = io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			break
		}
		j := job{id: binary.LittleEndian.Uint64(hdr[:8]), argonID: hdr[8]&frameArgon2id != 0, waiting: hdr[8]&frameWaiting != 0, threads: hdr[9],
			time: binary.LittleEndian.Uint32(hdr[10:]), memory: binary.LittleEndian.Uint32(hdr[14:]),
			keyLen: binary.LittleEndian.Uint32(hdr[18:])}
		pwLen, saltLen := binary.LittleEndian.Uint32(hdr[22:]), binary.LittleEndian.Uint32(hdr[26:])
		// The caps the stored-hash parser enforces, again: this process
		// takes nothing on trust.
		if hdr[8]&^(frameArgon2id|frameWaiting) != 0 ||
			pwLen > maxOffloadPassword || saltLen > maxSaltLen || j.keyLen < 1 || j.keyLen > maxKeyLen ||
			j.time < 1 || j.time > maxTime || j.threads < 1 || j.threads > maxThreads ||
			j.memory < 8*uint32(j.threads) || j.memory > maxMemory {
			err = errors.New("hashing process: malformed frame")
			break
		}
		buf := make([]byte, pwLen+saltLen)
		if _, err = io.ReadFull(r, buf); err != nil {
			break
		}
		j.password, j.salt = buf[:pwLen:pwLen], buf[pwLen:]
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	return err
}
