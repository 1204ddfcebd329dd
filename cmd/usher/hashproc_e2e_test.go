package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeHashesInALowPriorityProcess: the real binary, as shipped
// (hash-priority idle), hashes in a child `usher hash-worker` whose every
// thread runs under SCHED_IDLE and 19 nice steps below serve, and whose
// environment holds no USHER_ variable; a registration and a sign-in go
// through it; when the child is killed, serve starts a new one at the next
// hash. With hash-priority low the threads keep the normal policy.
func TestServeHashesInALowPriorityProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the usher binary")
	}
	for _, c := range []struct{ setting, policy string }{{"", "5"}, {"low", "0"}} {
		t.Run("hash-priority="+c.setting, func(t *testing.T) {
			testHashProcess(t, c.setting, c.policy)
		})
	}
}

func testHashProcess(t *testing.T, setting, policy string) {
	p := startChild(t, childOpts{Env: []string{"USHER_PASSWORD_MIN=8", "USHER_HASH_PRIORITY=" + setting}})
	pub := p.publicAPI(p.publicKey(t))
	pub.mustRegister(t, "first@example.com", "correct horse battery")

	child := hashWorkerOf(t, p.Cmd.Process.Pid)
	self := niceOf(t, fmt.Sprintf("/proc/%d/stat", p.Cmd.Process.Pid))
	want := min(19, self+19)
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", child))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		stat := fmt.Sprintf("/proc/%d/task/%s/stat", child, task.Name())
		if n := niceOf(t, stat); n != want {
			t.Errorf("hash-worker thread %s has nice %d, want %d", task.Name(), n, want)
		}
		if got := statField(t, stat, 41); got != policy {
			t.Errorf("hash-worker thread %s has scheduling policy %s, want %s", task.Name(), got, policy)
		}
	}
	// Its pipes are non-blocking, so Go's poller waits on them (a blocking
	// read held a thread and left a CPU idle at every hash).
	for _, fd := range []int{0, 1} {
		info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", child, fd))
		if err != nil {
			t.Fatal(err)
		}
		var flags string
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				flags = strings.TrimSpace(v)
			}
		}
		if f, err := strconv.ParseUint(flags, 8, 32); err != nil || f&syscall.O_NONBLOCK == 0 {
			t.Errorf("hash-worker's fd %d has flags %q; want O_NONBLOCK", fd, flags)
		}
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", child))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if bytes.HasPrefix(kv, []byte("USHER_")) {
			t.Errorf("hash-worker's environment holds %s", kv)
		}
	}

	// A dead child costs nothing but the hashes in flight: the next
	// registration starts a new one.
	proc, _ := os.FindProcess(child)
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", child)); err != nil || zombie(child) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed hash-worker is still there")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pub.mustRegister(t, "second@example.com", "correct horse battery")
	if next := hashWorkerOf(t, p.Cmd.Process.Pid); next == child {
		t.Errorf("no new hash-worker after the first was killed")
	}
}

// hashWorkerOf returns the pid of serve's `usher hash-worker` child.
func hashWorkerOf(t *testing.T, serve int) int {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", serve))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(s)
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if bytes.Contains(cmdline, []byte("hash-worker")) && !zombie(pid) {
				return pid
			}
		}
	}
	t.Fatalf("serve (pid %d) has no hash-worker child", serve)
	return 0
}

// niceOf reads the nice value (field 19) of a /proc stat file.
func niceOf(t *testing.T, path string) int {
	t.Helper()
	v := statField(t, path, 19)
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: nice %q", path, v)
	}
	return n
}

// statField reads field n (counted from 1, as proc(5) does) of a /proc
// stat file.
func statField(t *testing.T, path string, n int) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command's closing parenthesis start at field 3.
	return strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))[n-3]
}

// zombie reports whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// TestServeHashesAfterItsBinaryIsReplaced: an upgrade in place replaces
// the file serve was started from; the hashing process, started at the
// first hash, is still serve's own binary (not the new file, nor a failure
// to find the old one).
func TestServeHashesAfterItsBinaryIsReplaced(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the usher binary")
	}
	bin := filepath.Join(t.TempDir(), "usher")
	b, err := os.ReadFile(usherBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startChild(t, childOpts{Bin: bin, Env: []string{"USHER_PASSWORD_MIN=8", "USHER_HASH_PRIORITY=low"}})
	// The start-up check has ended its child: the next hash starts one.
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pub := p.publicAPI(p.publicKey(t))
	pub.mustRegister(t, "after-upgrade@example.com", "correct horse battery")
	child := hashWorkerOf(t, p.Cmd.Process.Pid)
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", child))
	if err != nil {
		t.Fatal(err)
	}
	if want := bin + " (deleted)"; exe != want {
		t.Errorf("the hashing process runs %q, want serve's own binary %q", exe, want)
	}
}
