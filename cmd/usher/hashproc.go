package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/password"
)

// hashWorkerCmd is the process serve hashes passwords in when hash-priority
// is low or idle: it lowers the priority of its every thread, then computes
// the argon2 keys serve sends on stdin until stdin ends (serve closes it, or
// exits). It reads no configuration, opens nothing and logs nothing.
type hashWorkerCmd struct {
	Workers int  `name:"workers" default:"1" help:"Hashes computed at once."`
	Idle    bool `name:"idle" help:"SCHED_IDLE instead of nice 19."`
}

func (h *hashWorkerCmd) run() int {
	// The heap is the hashes' memory (19 MiB each, no pointers), so a
	// collection costs little, and collecting at half the live heap, not
	// all of it, keeps the process's peak near what the hashes in flight
	// hold, whatever GOGC serve was given. (At 100 the hashes ran about a
	// millisecond faster, as fewer went back to the system between them,
	// but a login flood's peak went past 150 MiB: BENCHMARKS.md.)
	debug.SetGCPercent(50)
	if err := password.LowerPriority(h.Idle); err != nil {
		fmt.Fprintln(os.Stderr, "usher hash-worker:", err)
		return 1
	}
	in, out, err := password.PollableStdio()
	if err != nil {
		fmt.Fprintln(os.Stderr, "usher hash-worker:", err)
		return 1
	}
	if err := password.ServeOffload(in, out, h.Workers); err != nil {
		fmt.Fprintln(os.Stderr, "usher hash-worker:", err)
		return 1
	}
	return 0
}

// startHashProcess starts the hashing process for serve: this binary,
// re-executed as `usher hash-worker`, with as many workers as the pool.
func startHashProcess(c *config.Config) (*password.Offload, error) {
	exe, err := selfExe()
	if err != nil {
		return nil, err
	}
	argv := []string{exe, "hash-worker", "--workers", strconv.Itoa(hashWorkers(c))}
	if c.HashPriority == "idle" {
		argv = append(argv, "--idle")
	}
	// The child reads no setting: it gets none, and so cannot warn again
	// about a misspelt one each time it starts.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "USHER_") {
			env = append(env, kv)
		}
	}
	off := password.NewOffload(argv, env)
	if err := off.Start(); err != nil {
		return nil, err
	}
	return off, nil
}

// selfExe is the path that runs this binary again: /proc/self/exe where
// there is one, which names the file serve was started from even once an
// upgrade in place has replaced or removed it, so that the hashing process
// (started again at the first hash after an idle minute) is always serve's
// own version; os.Executable elsewhere.
func selfExe() (string, error) {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe", nil
	}
	return os.Executable()
}
