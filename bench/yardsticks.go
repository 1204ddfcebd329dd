package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Yardsticks: what the same machine does with no Usher in the way.
const (
	yardArgon2    = "argon2id"   // raw password hashes per second: the limit of login, register, checkpw
	yardBareMTLS  = "bare-mtls"  // a bare handler behind the same mutual TLS as the backend
	yardBarePlain = "bare-plain" // a bare handler on plain HTTP
)

// Usher's production argon2id parameters (internal/password.Default),
// restated here: the harness does not import Usher's packages.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// hashRate computes argon2id hashes at Usher's parameters on workers
// goroutines (as many as Usher's hashing pool) for dur, each
// with a fresh random salt as a new hash has, and returns the Run: hashes
// per second and this process's CPU per hash.
func hashRate(dur time.Duration, workers int) *Run {
	var done atomic.Uint64
	var wg sync.WaitGroup
	pw := []byte(benchPassword)
	w := beginWindow(os.Getpid())
	t0 := time.Now()
	deadline := t0.Add(dur)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			salt := make([]byte, argonSaltLen)
			for time.Now().Before(deadline) {
				rand.Read(salt)
				_ = argon2.IDKey(pw, salt, argonTime, argonMemory, argonThreads, argonKeyLen)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0)
	cpu, peak, exact := w.end()
	n := done.Load()
	r := &Run{Name: yardArgon2, Kind: "yardstick", Conns: workers, Seconds: wall.Seconds(), Requests: n, OK: n,
		ServerPeakRSS: peak, PeakRSSExact: exact}
	if n > 0 {
		r.RPS = float64(n) / wall.Seconds()
		r.ServerCPUPerReqUs = float64(cpu.Microseconds()) / float64(n)
	}
	// The harness's own heap grew by a hash's memory per worker: give it
	// back before the next phase so it does not compete with the server.
	runtime.GC()
	return r
}

// hashRateFlag is the hidden flag that makes the harness binary the argon2id
// yardstick: `-hash-rate DURATION` hashes on every CPU for that long and
// prints its Run as JSON.
const hashRateFlag = "-hash-rate"

// hashRateArg reports whether args ask for the argon2id yardstick, and for
// how long.
func hashRateArg(args []string) (time.Duration, bool) {
	if len(args) == 2 && (args[0] == hashRateFlag || args[0] == "-"+hashRateFlag) {
		d, err := time.ParseDuration(args[1])
		return d, err == nil && d > 0
	}
	return 0, false
}

// runHashRate is the yardstick process: argon2id on every CPU, its Run as
// JSON on stdout.
func runHashRate(dur time.Duration) int {
	if err := json.NewEncoder(os.Stdout).Encode(hashRate(dur, runtime.NumCPU())); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// hashRateAllCPUs is the argon2id yardstick: the raw hash rate on every CPU
// of the machine, in a process of its own (this binary re-executed), so
// that neither the harness's heap nor Usher's settings bend it. Usher's
// hashing pool uses every CPU by default, and this is what it is held to.
func hashRateAllCPUs(dur time.Duration) *Run {
	self, err := os.Executable()
	if err == nil {
		cmd := exec.Command(self, hashRateFlag, dur.String())
		cmd.Stderr = os.Stderr
		var out []byte
		if out, err = cmd.Output(); err == nil {
			var r Run
			if err = json.Unmarshal(out, &r); err == nil {
				return &r
			}
		}
	}
	return &Run{Name: yardArgon2, Kind: "yardstick", Failure: "argon2id yardstick process: " + err.Error()}
}

// runYardstick runs one yardstick at conns connections.
func (e *env) runYardstick(kind string, conns int) *Run {
	if kind == yardArgon2 {
		return hashRateAllCPUs(e.cfg.Duration)
	}
	spec := attackSpec{name: kind, conns: conns, rate: e.cfg.Rate, capped: true, dur: e.cfg.Duration, warmup: e.warmup(), target: e.bareTargeter(kind)}
	if kind == yardBareMTLS {
		spec.tls = e.clientTLS
	}
	return runFixed(spec, "yardstick", e.bare.pid(), 200)
}
