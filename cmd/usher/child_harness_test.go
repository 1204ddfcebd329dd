package main

// The child-process harness: the real usher binary, built once per test
// run, started as `usher serve` (or run as a one-shot command) the way an
// operator does, with its log read for events and its listeners' addresses.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to inspect the database file

	"github.com/usherhq/usher/internal/store/postgres/pgtest"
)

// testVersion is stamped into the test binary, so `usher version` can be
// checked exactly.
const testVersion = "v0.0.0-proctest"

// Bounds of the child process helpers.
const (
	childReadyTimeout = 30 * time.Second // start-up to the "ready" line
	childExitTimeout  = 30 * time.Second // a signal to the process's exit
	childRunTimeout   = 60 * time.Second // a one-shot command (version, migrate, help)
)

// usherBuild holds the usher binary, built once per run of the test binary
// and removed by TestMain.
var usherBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	// Benchmarks run serve in this process with production hashing, which
	// starts the hashing process by re-executing this binary.
	if len(os.Args) > 1 && os.Args[1] == "hash-worker" {
		os.Exit(run(os.Args[1:]))
	}
	code := pgtest.Main(m)
	if usherBuild.dir != "" {
		os.RemoveAll(usherBuild.dir)
	}
	os.Exit(code)
}

// usherBinary returns the path of the usher binary, building it on first use.
// It is built without the race detector: the child runs production hashing
// and should run at production speed.
func usherBinary(t testing.TB) string {
	t.Helper()
	usherBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "usher-proc-")
		if err != nil {
			usherBuild.err = err
			return
		}
		usherBuild.dir = dir
		path := filepath.Join(dir, "usher")
		cmd := exec.Command("go", "build", "-o", path, "-ldflags=-X main.version="+testVersion, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as `make build` ships it
		if out, err := cmd.CombinedOutput(); err != nil {
			usherBuild.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		usherBuild.path = path
	})
	if usherBuild.err != nil {
		t.Fatalf("building usher: %v", usherBuild.err)
	}
	return usherBuild.path
}

// childEnv is the child's environment: this process's, without any USHER_*
// variable (so the developer's shell cannot change a test), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "USHER_") {
			env = append(env, kv)
		}
	}
	// Hashes run in serve's own process, as the harness's smoke runs do:
	// beside the other test packages a lowest-priority hashing process can
	// get no CPU for seconds, and serve would rightly answer 503. The
	// hashing process has its own end-to-end test, which asks for it (a
	// later value wins).
	// "USHER_HASH_PRIORITY=" (empty) in extra asks for the shipped
	// default instead.
	const shipped = "USHER_HASH_PRIORITY="
	if slices.Contains(extra, shipped) {
		extra = slices.DeleteFunc(slices.Clone(extra), func(kv string) bool { return kv == shipped })
	} else {
		env = append(env, "USHER_HASH_PRIORITY=normal")
	}
	return append(env, extra...)
}

// serveArgs are the arguments of `usher serve` on dataDir and free
// loopback ports, followed by extra.
func serveArgs(dataDir string, extra ...string) []string {
	return append([]string{"serve", "--data", dataDir,
		"--backend-addr", "127.0.0.1:0", "--public-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, extra...)
}

// runUsher runs a usher command that is expected to end by itself, and
// returns its exit code and output.
func runUsher(t testing.TB, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), childRunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, usherBinary(t), args...)
	cmd.Env = childEnv(env...)
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("usher %s: still running after %v; stderr:\n%s", strings.Join(args, " "), childRunTimeout, errOut.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("usher %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// childOpts describe a child `usher serve`.
type childOpts struct {
	Data string   // data directory; a fresh one when empty
	Args []string // extra arguments after the standard serve flags
	Env  []string // extra environment variables (KEY=value)
	// Stdout receives the start-up hints (the console's install link);
	// nil discards them.
	Stdout io.Writer
	// Bin is the binary to run (default: usherBinary's).
	Bin string
}

// childServer is a running child `usher serve`.
type childServer struct {
	Cmd     *exec.Cmd
	Data    string
	Backend string            // https://127.0.0.1:PORT, mutual TLS
	Public  string            // http://127.0.0.1:PORT
	Admin   string            // http://127.0.0.1:PORT of the console; "" when off
	Addrs   map[string]string // every listener's bound address, by name

	log    childLog
	ready  chan struct{} // closed on the "ready" line
	exited chan struct{} // closed once stderr is drained and the process reaped
}

// childLog collects the child's stderr.
type childLog struct {
	mu     sync.Mutex
	lines  []string
	events []map[string]any // the lines that are JSON objects
}

func (l *childLog) add(line string) (event map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if err := json.Unmarshal([]byte(line), &event); err == nil {
		l.events = append(l.events, event)
		return event
	}
	return nil
}

// startChild starts `usher serve` on free ports and returns once it logged
// "ready". The child is killed when the test ends, if it still runs.
func startChild(t testing.TB, o childOpts) *childServer {
	t.Helper()
	if o.Data == "" {
		o.Data = t.TempDir()
	}
	if o.Bin == "" {
		o.Bin = usherBinary(t)
	}
	cmd := exec.Command(o.Bin, serveArgs(o.Data, o.Args...)...)
	cmd.Env = childEnv(o.Env...)
	cmd.Stdout = io.Discard // the start-up hint (a curl command line)
	if o.Stdout != nil {
		cmd.Stdout = o.Stdout
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &childServer{Cmd: cmd, Data: o.Data, ready: make(chan struct{}), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := map[string]string{} // listener name -> address; written before ready is closed
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		readySeen := false
		for sc.Scan() {
			ev := p.log.add(sc.Text())
			switch {
			case ev == nil || readySeen:
			case ev["event"] == "listening":
				name, _ := ev["listener"].(string)
				addr, _ := ev["addr"].(string)
				addrs[name] = addr
			case ev["event"] == "ready":
				readySeen = true
				close(p.ready)
			}
		}
		_, _ = io.Copy(io.Discard, stderr) // a line too long for the scanner
		_ = cmd.Wait()                     // after the last read, as StderrPipe requires
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			select {
			case <-p.exited:
			case <-time.After(childExitTimeout):
				t.Errorf("usher (pid %d) not reaped %v after SIGKILL", cmd.Process.Pid, childExitTimeout)
			}
		}
		if t.Failed() {
			t.Logf("usher (pid %d) stderr, last lines:\n%s", cmd.Process.Pid, p.stderrTail(40))
		}
	})

	timer := time.NewTimer(childReadyTimeout)
	defer timer.Stop()
	select {
	case <-p.ready:
	case <-p.exited:
		t.Fatalf("usher serve exited before ready (status %d); stderr:\n%s", cmd.ProcessState.ExitCode(), p.Stderr())
	case <-timer.C:
		t.Fatalf("usher serve not ready after %v; stderr:\n%s", childReadyTimeout, p.Stderr())
	}
	for _, name := range []string{"backend", "public"} {
		host, _, err := net.SplitHostPort(addrs[name])
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("listening line of the %s listener: addr %q, want 127.0.0.1:PORT", name, addrs[name])
		}
	}
	p.Addrs = addrs
	p.Backend = "https://" + addrs["backend"]
	p.Public = "http://" + addrs["public"]
	if a := addrs["admin"]; a != "" {
		p.Admin = "http://" + a
	}
	return p
}

// Stderr returns everything the child wrote to stderr so far.
func (p *childServer) Stderr() string {
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	return strings.Join(p.log.lines, "\n")
}

func (p *childServer) stderrTail(n int) string {
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	return strings.Join(p.log.lines[max(0, len(p.log.lines)-n):], "\n")
}

// Logged reports whether the child logged a line with this event name.
func (p *childServer) Logged(event string) bool {
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	for _, ev := range p.log.events {
		if ev["event"] == event {
			return true
		}
	}
	return false
}

// Signal sends sig to the child.
func (p *childServer) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// Wait waits for the child to exit and returns its exit status (-1 when a
// signal ended it).
func (p *childServer) Wait(t testing.TB) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(childExitTimeout):
		t.Fatalf("usher (pid %d) still running %v after the signal; stderr:\n%s", p.Cmd.Process.Pid, childExitTimeout, p.stderrTail(40))
		return 0
	}
}

// Kill ends the child with SIGKILL and waits for it.
func (p *childServer) Kill(t testing.TB) {
	t.Helper()
	p.Signal(t, syscall.SIGKILL)
	if code := p.Wait(t); code != -1 {
		t.Fatalf("after SIGKILL: exit status %d, want death by signal", code)
	}
}

// childClient returns a client for the backend listener with the development
// client certificate of dataDir. With http2 false every concurrent request
// gets its own connection.
func childClient(t testing.TB, dataDir string, http2 bool) *http.Client {
	t.Helper()
	dir := filepath.Join(dataDir, "tls")
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no certificate in", filepath.Join(dir, "ca.pem"))
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
		ForceAttemptHTTP2:   http2,
		MaxIdleConnsPerHost: 16,
	}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	validating(t, "backend", true, c) // children serve the documents (the default)
	return c
}

// passwordOfLength returns a password of n code points.
func passwordOfLength(n int) string {
	const s = "Kx7#qL2!vR9@mZ4$wT6%yB8^"
	return s[:n]
}

// openReadOnly opens an SQLite database file read-only.
func openReadOnly(t testing.TB, path string) *sql.DB {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// writeTempFile writes a file in a fresh temporary directory and returns its path.
func writeTempFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// backendAt returns a client of the backend listener at base.
func backendAt(base string, c *http.Client) *backendClient {
	return &backendClient{base: base, http: c}
}

// backendAPI returns a client of the child's backend listener with the
// development client certificate of its data directory.
func (p *childServer) backendAPI(t testing.TB, http2 bool) *backendClient {
	t.Helper()
	return backendAt(p.Backend, childClient(t, p.Data, http2))
}

// publicAPI returns a client of the child's public listener that sends key.
func (p *childServer) publicAPI(key string) *publicClient {
	return &publicClient{base: p.Public, key: key, http: &http.Client{Timeout: 30 * time.Second}}
}
