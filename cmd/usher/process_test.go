package main

// Process-level tests: they build the real usher binary and run it as a
// child process, the way an operator does, to test what only a process
// shows: signals, exit codes, start-up refusals, configuration layering and
// the help text.

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
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to inspect the database file

	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/usher"
)

// procVersion is stamped into the test binary, so `usher version` can be
// checked exactly.
const procVersion = "v0.0.0-proctest"

// Bounds of the child process helpers.
const (
	procReadyTimeout = 30 * time.Second // start-up to the "ready" line
	procExitTimeout  = 30 * time.Second // a signal to the process's exit
	procRunTimeout   = 60 * time.Second // a one-shot command (version, migrate, help)
)

// procBuild holds the usher binary, built once per run of the test binary
// and removed by TestMain.
var procBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if procBuild.dir != "" {
		os.RemoveAll(procBuild.dir)
	}
	os.Exit(code)
}

// procBinary returns the path of the usher binary, building it on first use.
// It is built without the race detector: the child runs production hashing
// and should run at production speed.
func procBinary(t testing.TB) string {
	t.Helper()
	procBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "usher-proc-")
		if err != nil {
			procBuild.err = err
			return
		}
		procBuild.dir = dir
		path := filepath.Join(dir, "usher")
		cmd := exec.Command("go", "build", "-o", path, "-ldflags=-X main.version="+procVersion, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			procBuild.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		procBuild.path = path
	})
	if procBuild.err != nil {
		t.Fatalf("building usher: %v", procBuild.err)
	}
	return procBuild.path
}

// procEnv is the child's environment: this process's, without any USHER_*
// variable (so the developer's shell cannot change a test), plus extra.
func procEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "USHER_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// procServeArgs are the arguments of `usher serve` on dataDir and free
// loopback ports, followed by extra.
func procServeArgs(dataDir string, extra ...string) []string {
	return append([]string{"serve", "--data", dataDir,
		"--backend-addr", "127.0.0.1:0", "--public-addr", "127.0.0.1:0"}, extra...)
}

// procRun runs a usher command that is expected to end by itself, and
// returns its exit code and output.
func procRun(t testing.TB, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), procRunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, procBinary(t), args...)
	cmd.Env = procEnv(env...)
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("usher %s: still running after %v; stderr:\n%s", strings.Join(args, " "), procRunTimeout, errOut.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("usher %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// procOpts describe a child `usher serve`.
type procOpts struct {
	Data string   // data directory; a fresh one when empty
	Args []string // extra arguments after the standard serve flags
	Env  []string // extra environment variables (KEY=value)
}

// procServer is a running child `usher serve`.
type procServer struct {
	Cmd     *exec.Cmd
	Data    string
	Backend string // https://127.0.0.1:PORT, mutual TLS
	Public  string // http://127.0.0.1:PORT

	log    procLog
	ready  chan struct{} // closed on the "ready" line
	exited chan struct{} // closed once stderr is drained and the process reaped
}

// procLog collects the child's stderr.
type procLog struct {
	mu     sync.Mutex
	lines  []string
	events []map[string]any // the lines that are JSON objects
}

func (l *procLog) add(line string) (event map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if err := json.Unmarshal([]byte(line), &event); err == nil {
		l.events = append(l.events, event)
		return event
	}
	return nil
}

// procStart starts `usher serve` on free ports and returns once it logged
// "ready". The child is killed when the test ends, if it still runs.
func procStart(t testing.TB, o procOpts) *procServer {
	t.Helper()
	if o.Data == "" {
		o.Data = t.TempDir()
	}
	cmd := exec.Command(procBinary(t), procServeArgs(o.Data, o.Args...)...)
	cmd.Env = procEnv(o.Env...)
	cmd.Stdout = io.Discard // the start-up hint (a curl command line)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &procServer{Cmd: cmd, Data: o.Data, ready: make(chan struct{}), exited: make(chan struct{})}
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
			case <-time.After(procExitTimeout):
				t.Errorf("usher (pid %d) not reaped %v after SIGKILL", cmd.Process.Pid, procExitTimeout)
			}
		}
		if t.Failed() {
			t.Logf("usher (pid %d) stderr, last lines:\n%s", cmd.Process.Pid, p.stderrTail(40))
		}
	})

	timer := time.NewTimer(procReadyTimeout)
	defer timer.Stop()
	select {
	case <-p.ready:
	case <-p.exited:
		t.Fatalf("usher serve exited before ready (status %d); stderr:\n%s", cmd.ProcessState.ExitCode(), p.Stderr())
	case <-timer.C:
		t.Fatalf("usher serve not ready after %v; stderr:\n%s", procReadyTimeout, p.Stderr())
	}
	for _, name := range []string{"backend", "public"} {
		host, _, err := net.SplitHostPort(addrs[name])
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("listening line of the %s listener: addr %q, want 127.0.0.1:PORT", name, addrs[name])
		}
	}
	p.Backend = "https://" + addrs["backend"]
	p.Public = "http://" + addrs["public"]
	return p
}

// Stderr returns everything the child wrote to stderr so far.
func (p *procServer) Stderr() string {
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	return strings.Join(p.log.lines, "\n")
}

func (p *procServer) stderrTail(n int) string {
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	return strings.Join(p.log.lines[max(0, len(p.log.lines)-n):], "\n")
}

// Logged reports whether the child logged a line with this event name.
func (p *procServer) Logged(event string) bool {
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
func (p *procServer) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// Wait waits for the child to exit and returns its exit status (-1 when a
// signal ended it).
func (p *procServer) Wait(t testing.TB) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(procExitTimeout):
		t.Fatalf("usher (pid %d) still running %v after the signal; stderr:\n%s", p.Cmd.Process.Pid, procExitTimeout, p.stderrTail(40))
		return 0
	}
}

// Kill ends the child with SIGKILL and waits for it.
func (p *procServer) Kill(t testing.TB) {
	t.Helper()
	p.Signal(t, syscall.SIGKILL)
	if code := p.Wait(t); code != -1 {
		t.Fatalf("after SIGKILL: exit status %d, want death by signal", code)
	}
}

// procClient returns a client for the backend listener with the development
// client certificate of dataDir. With http2 false every concurrent request
// gets its own connection.
func procClient(t testing.TB, dataDir string, http2 bool) *http.Client {
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
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// procDo sends a JSON request (body nil: none) and returns the status and
// the response body.
func procDo(ctx context.Context, c *http.Client, method, url string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// procErrorCode returns the code of a native error body.
func procErrorCode(body []byte) usher.Code {
	var e struct {
		Error struct {
			Code usher.Code `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

// procPassword returns a password of n code points.
func procPassword(n int) string {
	const s = "Kx7#qL2!vR9@mZ4$wT6%yB8^"
	return s[:n]
}

func TestProcessSIGTERMDrainsInFlightRequests(t *testing.T) {
	p := procStart(t, procOpts{})
	c := procClient(t, p.Data, false)
	tr := c.Transport.(*http.Transport)
	// One connection per request, never reused: a request written on a
	// kept-alive connection the server still sees idle may be dropped by a
	// graceful shutdown (HTTP/1.1 cannot tell), which is no fault of Usher.
	tr.DisableKeepAlives = true
	// Each create is sent with "Expect: 100-continue": the server answers
	// "100 Continue" when the handler starts reading the body, so the client
	// learns that the request is in Usher's hands, not merely in a socket.
	tr.ExpectContinueTimeout = time.Minute

	// Creates are slow (production argon2id, at most one hash per CPU at
	// once), so most of these are still being served when SIGTERM arrives,
	// and draining must finish every one of them.
	const n = 8
	type result struct {
		status int
		body   []byte
		err    error
	}
	results := make([]result, n)
	var started, done sync.WaitGroup
	var answered atomic.Int32
	started.Add(n)
	done.Add(n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range n {
		go func() {
			defer done.Done()
			var once sync.Once
			inHandler := func() { once.Do(started.Done) }
			defer inHandler() // also when the request fails before the handler
			trace := &httptrace.ClientTrace{Got100Continue: inHandler}
			body, _ := json.Marshal(map[string]any{"email": fmt.Sprintf("drain-%d@example.com", i), "password": procPassword(12)})
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost,
				p.Backend+"/users", bytes.NewReader(body))
			if err != nil {
				results[i].err = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Expect", "100-continue")
			res, err := c.Do(req)
			if err != nil {
				results[i].err = err
				answered.Add(1)
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			results[i] = result{res.StatusCode, b, err}
			answered.Add(1)
		}()
	}
	started.Wait()
	inFlight := n - int(answered.Load())
	p.Signal(t, syscall.SIGTERM)
	done.Wait()

	t.Logf("%d of %d creates in flight at SIGTERM", inFlight, n)
	if inFlight == 0 {
		t.Errorf("every create was answered before SIGTERM; the test exercised no draining")
	}
	var ids []string
	for i, r := range results {
		if r.err != nil || r.status != http.StatusCreated {
			t.Errorf("create %d (%d of %d in flight at SIGTERM): status %d, error %v, body %s; want 201", i, inFlight, n, r.status, r.err, r.body)
			continue
		}
		var u struct{ ID string }
		if err := json.Unmarshal(r.body, &u); err != nil || u.ID == "" {
			t.Errorf("create %d: body %s: no id", i, r.body)
			continue
		}
		ids = append(ids, u.ID)
	}
	if code := p.Wait(t); code != 0 {
		t.Errorf("exit status after SIGTERM: got %d, want 0", code)
	}
	for _, event := range []string{"shutdown", "stopped"} {
		if !p.Logged(event) {
			t.Errorf("no %q event logged; stderr:\n%s", event, p.Stderr())
		}
	}

	// What was acknowledged during the drain was committed.
	q := procStart(t, procOpts{Data: p.Data})
	qc := procClient(t, q.Data, true)
	for _, id := range ids {
		status, body, err := procDo(ctx, qc, http.MethodGet, q.Backend+"/users/"+id, nil)
		if err != nil || status != http.StatusOK {
			t.Errorf("GET /users/%s after restart: status %d, error %v, body %s; want 200", id, status, err, body)
		}
	}
}

func TestProcessVersion(t *testing.T) {
	code, stdout, stderr := procRun(t, nil, "version")
	if code != 0 {
		t.Fatalf("usher version: exit status %d, want 0; stderr:\n%s", code, stderr)
	}
	if got := strings.TrimSpace(stdout); got != procVersion {
		t.Errorf("usher version printed %q, want %q", got, procVersion)
	}
}

func TestProcessMigrateCreatesDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	for run, wantApplied := range []bool{true, false} {
		code, _, stderr := procRun(t, nil, "migrate", "--data", dir)
		if code != 0 {
			t.Fatalf("usher migrate, run %d: exit status %d, want 0; stderr:\n%s", run+1, code, stderr)
		}
		applied, ok := procMigratedEvent(stderr)
		if !ok {
			t.Fatalf("usher migrate, run %d: no \"migrated\" event; stderr:\n%s", run+1, stderr)
		}
		if got := len(applied) > 0; got != wantApplied {
			t.Errorf("usher migrate, run %d: applied %v; want migrations applied: %v", run+1, applied, wantApplied)
		}
	}
	db := procOpenReadOnly(t, SQLitePath(dir))
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'users'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("database after migrate: %d tables named users, want 1", n)
	}
}

// procMigratedEvent returns the versions listed by the "migrated" line.
func procMigratedEvent(stderr string) (applied []int64, ok bool) {
	for line := range strings.SplitSeq(stderr, "\n") {
		var ev struct {
			Event   string  `json:"event"`
			Applied []int64 `json:"applied"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "migrated" {
			return ev.Applied, true
		}
	}
	return nil, false
}

// procOpenReadOnly opens an SQLite database file read-only.
func procOpenReadOnly(t testing.TB, path string) *sql.DB {
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

// procWriteFile writes a file in a fresh temporary directory and returns its path.
func procWriteFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProcessBadSettingStopsStartup(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
		file string // config file content, passed with --config
		want string // named in stderr
	}{
		{name: "flag below minimum", args: []string{"--password-min", "0"}, want: "password-min"},
		{name: "env below password-min", env: []string{"USHER_PASSWORD_MAX=3"}, want: "password-max"},
		{name: "file value invalid", file: "password:\n  min: 0\n", want: "password-min"},
		{name: "file unknown nested key", file: "password:\n  minimum: 3\n", want: "password-minimum"},
		{name: "file unknown dotted key", file: "hash.wrokers: 2\n", want: "hash-wrokers"},
		{name: "file unknown top-level key", file: "colour: blue\n", want: "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append(args, "--config", procWriteFile(t, "usher.yaml", tt.file))
			}
			code, _, stderr := procRun(t, tt.env, procServeArgs(t.TempDir(), args...)...)
			if code == 0 {
				t.Errorf("exit status 0, want non-zero")
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr does not name %q:\n%s", tt.want, stderr)
			}
			if strings.Contains(stderr, `"event":"ready"`) {
				t.Errorf("usher got ready despite the bad setting:\n%s", stderr)
			}
		})
	}
}

func TestProcessConfigPrecedence(t *testing.T) {
	// Layers, each overriding the one before: file, then environment, then
	// flags. The effective password minimum shows through the API.
	file := "password:\n  min: 12\n"
	tests := []struct {
		name    string
		file    bool
		env     []string
		args    []string
		wantMin int
	}{
		{name: "defaults", wantMin: 8},
		{name: "file", file: true, wantMin: 12},
		{name: "env over file", file: true, env: []string{"USHER_PASSWORD_MIN=10"}, wantMin: 10},
		{name: "flag over env and file", file: true, env: []string{"USHER_PASSWORD_MIN=10"}, args: []string{"--password-min", "9"}, wantMin: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file {
				args = append(args, "--config", procWriteFile(t, "usher.yaml", file))
			}
			p := procStart(t, procOpts{Args: args, Env: tt.env})
			c := procClient(t, p.Data, true)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The shortest accepted password: refusals are cheap, only the
			// one accepted create costs a hash.
			for n := 7; n <= 13; n++ {
				status, body, err := procDo(ctx, c, http.MethodPost, p.Backend+"/users",
					map[string]any{"email": fmt.Sprintf("len%d@example.com", n), "password": procPassword(n)})
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case n < tt.wantMin && (status != http.StatusBadRequest || procErrorCode(body) != usher.InvalidPassword):
					t.Errorf("%d-character password: status %d, body %s; want 400 %s (minimum %d)", n, status, body, usher.InvalidPassword, tt.wantMin)
				case n >= tt.wantMin && status != http.StatusCreated:
					t.Errorf("%d-character password: status %d, body %s; want 201 (minimum %d)", n, status, body, tt.wantMin)
				}
				if n >= tt.wantMin {
					return
				}
			}
		})
	}
}

func TestProcessServeHelpNamesEverySetting(t *testing.T) {
	code, stdout, stderr := procRun(t, nil, "serve", "--help")
	if code != 0 {
		t.Fatalf("usher serve --help: exit status %d, want 0; stderr:\n%s", code, stderr)
	}
	names := procFlagNames(reflect.TypeFor[config.Config](), "")
	if len(names) < 10 {
		t.Fatalf("found only %d settings in config.Config: %v", len(names), names)
	}
	for _, name := range names {
		// A flag is shown as --name=VALUE, or --[no-]name when negatable,
		// and is followed by a space or a line break.
		mention := regexp.MustCompile(`(^|\s)--(\[no-\])?` + regexp.QuoteMeta(name) + `(=|\s|$)`)
		if !mention.MatchString(stdout) {
			t.Errorf("usher serve --help does not mention --%s", name)
		}
	}
	if t.Failed() {
		t.Logf("help text:\n%s", stdout)
	}
}

// procFlagNames returns the flag names declared by the `name` tags of a
// kong-tagged struct, following embedded and prefixed sub-structs.
func procFlagNames(typ reflect.Type, prefix string) []string {
	var names []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || f.Tag.Get("kong") == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		_, embed := f.Tag.Lookup("embed")
		if ft.Kind() == reflect.Struct && (embed || f.Anonymous) && f.Tag.Get("name") == "" {
			names = append(names, procFlagNames(ft, prefix+f.Tag.Get("prefix"))...)
			continue
		}
		if name := f.Tag.Get("name"); name != "" {
			names = append(names, prefix+name)
		}
	}
	return names
}
