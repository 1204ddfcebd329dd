package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverKind names a configuration of Usher the harness runs.
type serverKind string

const (
	usherDefault       serverKind = "usher"
	usherNoHeaderCheck serverKind = "usher-no-thunder-header-check"
)

// Thunder application credentials passed to Usher.
const (
	thunderApp    = "bench"
	thunderSecret = "benchsecret"
)

// usherArgs are the flags of `usher serve` for a measurement run.
//
// Production hashing is what `usher serve` always uses (only in-process tests
// can lower it). The per-IP rate limits are off (--rate-auth 0, --rate-public
// 0) because the harness sends everything from 127.0.0.1 and measures
// throughput: the limits would answer 429 after 60 logins a minute.
// Lockout is off (--lockout-max 0) so that no account state can change what a
// password check costs or answers during a run. The per-address connection
// cap is off too (--max-conns-per-ip 0; the total cap stays): the flood's
// client adds connections to keep its rate whenever answers slow down (on
// a machine busy with other work, say), and from one address it would pass
// the cap's 128 and see connections closed rather than refused with 503.
// Usher's per-address defences are what a load test from one address must
// switch off; they have their own tests. Everything else is Usher's
// default: the hashing pool's size, and the per-request access log, which
// goes to a pipe the harness reads (-no-log-requests turns it off, for a
// comparison).
//
// The public URL is fixed (--public-url) because it is the tokens' issuer by
// default: left to Usher, it would be http://127.0.0.1:<port>, a new port
// at each restart, and the tokens the harness holds for GET /me would stop
// verifying after the switch to and from the no-header-check configuration.
func usherArgs(data string, kind serverKind) []string {
	args := []string{"serve", "--data", data,
		"--backend-addr", "127.0.0.1:0", "--public-addr", "127.0.0.1:0", "--no-admin-console", "--public-url", "http://usher-bench.test",
		"--thunder-addr", "127.0.0.1:0", "--thunder-app", thunderApp + ":" + thunderSecret,
		"--rate-auth", "0", "--rate-public", "0", "--lockout-max", "0", "--max-conns-per-ip", "0"}
	if kind == usherNoHeaderCheck {
		args = append(args, "--no-thunder-header-check")
	}
	return args
}

// proc is a server process started by the harness: Usher or the bare server.
type proc struct {
	name       string
	cmd        *exec.Cmd
	addrs      map[string]string // listener name → bound address
	publicKey  string            // Usher's tenant public key (SB-PUBLIC-KEY)
	startToRdy time.Duration     // from exec to the "ready" log line

	mu      sync.Mutex
	logged  LogDigest // WARN and ERROR lines seen
	done    chan struct{}
	waitErr error
}

// LogDigest sums up the WARN and ERROR lines a server logged: a count per
// level and event, and the first few lines of each.
type LogDigest struct {
	Counts  map[string]int `json:"counts,omitempty"` // "WARN overloaded" → lines
	Samples []string       `json:"samples,omitempty"`
}

const (
	samplesPerKey = 3
	maxSamples    = 30
)

func (d *LogDigest) add(key, line string) {
	if d.Counts == nil {
		d.Counts = map[string]int{}
	}
	d.Counts[key]++
	if d.Counts[key] <= samplesPerKey && len(d.Samples) < maxSamples {
		d.Samples = append(d.Samples, line)
	}
}

// merge adds o's counts and samples to d.
func (d *LogDigest) merge(o *LogDigest) {
	if o == nil {
		return
	}
	if d.Counts == nil {
		d.Counts = map[string]int{}
	}
	for k, n := range o.Counts {
		d.Counts[k] += n
	}
	for _, s := range o.Samples {
		if len(d.Samples) < maxSamples {
			d.Samples = append(d.Samples, s)
		}
	}
}

var (
	levelWarn  = []byte(`"level":"WARN"`)
	levelError = []byte(`"level":"ERROR"`)
)

// logLine is the part of a JSON log line the harness reads.
type logLine struct {
	Level     string `json:"level"`
	Event     string `json:"event"`
	Listener  string `json:"listener"`
	Addr      string `json:"addr"`
	PublicKey string `json:"public_key"`
}

// startProc starts bin with args, copies its stderr to logPath while reading
// the JSON log lines, and returns once the process logged "ready". Its
// stdout (start-up hints, development emails) goes to logPath+".out".
func startProc(name, bin string, args []string, env []string, logPath string) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	outFile, err := os.OpenFile(logPath+".out", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		logFile.Close()
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = outFile
	// Should the harness die, its servers follow.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		outFile.Close()
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, addrs: map[string]string{}, done: make(chan struct{})}
	ready := make(chan struct{})
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		outFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	var readDone sync.WaitGroup
	readDone.Add(1)
	go func() {
		defer readDone.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		// Usher's request log is on, as shipped: tens of thousands of
		// lines a second go through here, on the CPUs Usher is measured
		// on, so they are copied in large writes and only the lines that
		// may matter are decoded.
		bw := bufio.NewWriterSize(logFile, 256<<10)
		defer bw.Flush()
		signalled := false
		for sc.Scan() {
			line := sc.Bytes()
			bw.Write(line)
			bw.WriteByte('\n')
			if signalled && !bytes.Contains(line, levelWarn) && !bytes.Contains(line, levelError) {
				continue
			}
			var l logLine
			if json.Unmarshal(line, &l) != nil {
				continue
			}
			switch {
			case l.Event == "listening" && !signalled:
				p.addrs[l.Listener] = l.Addr
			case l.Event == "ready" && !signalled:
				p.startToRdy = time.Since(t0)
				p.publicKey = l.PublicKey
				signalled = true
				close(ready)
			case l.Level == "WARN" || l.Level == "ERROR":
				p.mu.Lock()
				p.logged.add(l.Level+" "+l.Event, string(line))
				p.mu.Unlock()
			}
		}
	}()
	go func() {
		readDone.Wait() // all of stderr is read before Wait closes the pipe
		p.waitErr = cmd.Wait()
		logFile.Close()
		outFile.Close()
		close(p.done)
	}()
	select {
	case <-ready:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before it was ready (%v); see %s", name, p.waitErr, logPath)
	case <-time.After(60 * time.Second):
		p.kill()
		return nil, fmt.Errorf("%s not ready within 60s; see %s", name, logPath)
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits for a clean exit (Usher checkpoints its
// database on the way out).
func (p *proc) stop() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s had already exited: %v", p.name, p.waitErr)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.waitErr
	case <-time.After(40 * time.Second):
		p.kill()
		return fmt.Errorf("%s did not stop within 40s after SIGTERM", p.name)
	}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// takeLog returns and clears the digest of the WARN/ERROR lines logged so
// far; nil when there were none.
func (p *proc) takeLog() *LogDigest {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.logged.Counts) == 0 {
		return nil
	}
	out := p.logged
	p.logged = LogDigest{}
	return &out
}

// cleanEnv is the harness's environment without USHER_* variables, so that
// nothing in the caller's environment changes Usher's settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "USHER_") {
			env = append(env, kv)
		}
	}
	return env
}

// buildUsher builds the Usher binary from the repository root into dir, as
// `make build` does: static (CGO_ENABLED=0), the build the README installs.
func buildUsher(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "usher")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/usher")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/usher: %w\n%s", err, out)
	}
	return bin, nil
}

// findRepoRoot returns the Usher repository root: the parent of the bench
// module's directory, found from the working directory upwards.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isUsherRoot(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no Usher repository (go.mod of github.com/usherhq/usher with bench/go.mod) above the working directory; pass -repo")
		}
		dir = parent
	}
}

func isUsherRoot(dir string) bool {
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || !strings.Contains(string(mod), "module github.com/usherhq/usher\n") {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "bench", "go.mod"))
	return err == nil
}

// tlsFiles are the development certificates Usher writes in DATA/tls.
type tlsFiles struct{ ca, serverCert, serverKey, clientCert, clientKey string }

func devTLS(data string) tlsFiles {
	d := filepath.Join(data, "tls")
	return tlsFiles{
		ca: filepath.Join(d, "ca.pem"), serverCert: filepath.Join(d, "server.pem"), serverKey: filepath.Join(d, "server-key.pem"),
		clientCert: filepath.Join(d, "client.pem"), clientKey: filepath.Join(d, "client-key.pem"),
	}
}

// clientTLS is the TLS configuration of a backend client: the development
// client certificate, trusting the development CA.
func clientTLS(f tlsFiles) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.clientCert, f.clientKey)
	if err != nil {
		return nil, err
	}
	pemBytes, err := os.ReadFile(f.ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("%s holds no certificate", f.ca)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// newTransport is an HTTP/1.1 keep-alive transport holding at most conns
// connections (0: no limit). HTTP/2 is off so that "connections" means TCP
// connections, each carrying one request at a time, on both the TLS and the
// plain listeners.
func newTransport(conns int, tlsConfig *tls.Config) *http.Transport {
	idle := conns
	if idle == 0 {
		idle = 10000
	}
	return &http.Transport{
		TLSClientConfig:     tlsConfig,
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: idle,
		MaxIdleConns:        0,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
}

// fetch sends one request with client and returns the status and body.
func fetch(client *http.Client, method, url string, header http.Header, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = strings.NewReader(string(body))
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}
