package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// FloodResult is the login flood: logins at ten times the hash capacity
// while a steady stream of backend GETs runs.
type FloodResult struct {
	Seconds       float64 `json:"seconds"`         // the flood's length (its answers may arrive later)
	HashRate      float64 `json:"hash_rate"`       // the argon2id yardstick the flood is sized on
	LoginRate     int     `json:"login_rate"`      // logins offered per second
	LoginAchieved float64 `json:"login_rate_sent"` // logins actually sent per second
	GetRate       int     `json:"get_rate"`        // backend GETs per second, in each of the four streams
	IdleGet       *Run    `json:"idle_get"`        // the GET stream alone, just before
	FloodGet      *Run    `json:"flood_get"`       // the GET stream during the flood
	GetP99Ratio   float64 `json:"get_p99_ratio"`   // flood p99 / idle p99
	// BusyGet is the GET stream while another process keeps one CPU busy:
	// what a busy CPU alone (no hashing, no Usher code) does to the stream's
	// latency on this machine, the flood's yardstick.
	BusyGet      *Run    `json:"busy_get"`
	BusyP99Ratio float64 `json:"busy_p99_ratio"` // busy p99 / idle p99
	FloodVsBusy  float64 `json:"flood_vs_busy"`  // flood p99 / busy p99
	// HashingGet is the GET stream while the argon2id yardstick hashes flat
	// out on every CPU in a process of its own under SCHED_IDLE (by chrt),
	// the policy of Usher's hashing process: a reference for what hashing on
	// every CPU does to the stream on this machine with no Usher code in the
	// hashing and no login sent. Nil when it could not run (HashingFailure).
	HashingGet      *Run    `json:"hashing_get,omitempty"`
	HashingFailure  string  `json:"hashing_failure,omitempty"`
	HashingP99Ratio float64 `json:"hashing_p99_ratio,omitempty"` // hashing p99 / idle p99
	FloodVsHashing  float64 `json:"flood_vs_hashing,omitempty"`  // flood p99 / hashing p99
	Logins          uint64  `json:"logins"`                      // answered or failed
	LoginsOK        uint64  `json:"logins_ok"`                   // 200
	Refused         uint64  `json:"refused"`                     // 503 or 429
	RefusedShare    float64 `json:"refused_share"`               // Refused / Logins
	RefusalP50Ms    float64 `json:"refusal_p50_ms"`              // latency of the refusals
	RefusalP99Ms    float64 `json:"refusal_p99_ms"`              //
	SlowRefusals    uint64  `json:"slow_refusals"`               // refusals that took more than 50 ms (waited in the hashing queue)
	AcceptedP99Ms   float64 `json:"accepted_p99_ms"`             // latency of the 200s
	PeakRSS         uint64  `json:"peak_rss_bytes"`              // Usher's peak RSS during the flood
	PeakRSSExact    bool    `json:"peak_rss_exact"`              //
	CPUPerLoginUs   float64 `json:"cpu_us_per_login"`            // Usher's CPU per login sent (GETs included)
	// LoginErrors counts login answers other than 200, 503 and 429.
	LoginErrors       map[string]uint64 `json:"login_errors,omitempty"`
	LoginErrorSamples []string          `json:"login_error_samples,omitempty"`
	ServerLog         *LogDigest        `json:"server_log,omitempty"`
}

// refusalTarget is how fast a refused login should be answered.
const refusalTarget = 50 * time.Millisecond

// floodGetConns is the initial number of workers of the GET stream; vegeta
// adds workers if answers slow down, so the stream keeps its rate.
const floodGetConns = 4

// runFlood measures the GET stream alone, beside a spinning CPU, beside
// the argon2id yardstick at SCHED_IDLE, then with the login flood.
func (e *env) runFlood() error {
	hash := e.lastHashRate()
	res := &FloodResult{HashRate: hash, LoginRate: max(int(math.Ceil(10*hash)), 10), GetRate: e.cfg.FloodGetRate}
	e.report.Flood = res
	pid := e.usher.pid()
	getSpec := func(name string, dur time.Duration) attackSpec {
		return attackSpec{name: name, conns: floodGetConns, rate: res.GetRate, dur: dur, tls: e.clientTLS, target: e.backendGetTargeter()}
	}
	e.report.mergeServerLog(e.usher.takeLog()) // lines logged before the flood
	// The three reference streams run as long as the flood's, so that the
	// four p99s compared come from samples of one size.
	idleDur := max(e.cfg.Flood, time.Second)
	e.logf("flood: GET stream alone at %d/s for %s", res.GetRate, idleDur)
	res.IdleGet = runFixed(getSpec("flood-idle-get", idleDur), "flood", pid, 200)
	e.logf("flood: GET stream at %d/s while another process keeps one CPU busy, for %s", res.GetRate, idleDur)
	burner, err := startBurner()
	if err != nil {
		return err
	}
	res.BusyGet = runFixed(getSpec("flood-busy-get", idleDur), "flood", pid, 200)
	burner.stop()
	e.logf("flood: GET stream at %d/s while argon2id runs on every CPU at SCHED_IDLE in another process, for %s", res.GetRate, idleDur)
	if hasher, err := startIdleHasher(idleDur + 10*time.Second); err != nil {
		res.HashingFailure = err.Error()
		e.logf("flood: %v; no GET stream beside hashing", err)
	} else {
		res.HashingGet = runFixed(getSpec("flood-hashing-get", idleDur), "flood", pid, 200)
		if hasher.exited() {
			// chrt refused the policy, or the yardstick failed: the stream
			// ran beside nothing, and is not that yardstick.
			res.HashingGet, res.HashingFailure = nil, "the argon2id process under SCHED_IDLE exited before the stream ended (its error is on the harness's standard error)"
		}
		hasher.stop()
	}

	e.logf("flood: %d logins/s (10 × %.1f hashes/s) with the GET stream, for %s", res.LoginRate, hash, e.cfg.Flood)
	login := attackSpec{name: "flood-login", conns: 16, rate: res.LoginRate, dur: e.cfg.Flood, target: e.loginTargeter(),
		classify: func(r *vegeta.Result) string { // called from one goroutine
			switch r.Code {
			case 503, 429:
				if r.Latency > refusalTarget {
					res.SlowRefusals++
				}
				return "refused"
			case 200:
				return "ok"
			}
			return ""
		}}
	w := beginWindow(pid)
	var wg sync.WaitGroup
	var getT, loginT *tally
	var getWall time.Duration
	wg.Add(2)
	go func() { defer wg.Done(); getT, getWall = attack(getSpec("flood-get", e.cfg.Flood), nil, nil) }()
	go func() { defer wg.Done(); loginT, _ = attack(login, nil, nil) }()
	wg.Wait()
	cpu, peak, exact := w.end()

	res.Seconds = e.cfg.Flood.Seconds()
	res.FloodGet = tallyRun("flood-get", "flood", floodGetConns, getT, getWall, 200, 0, peak, exact)
	if res.IdleGet.P99Ms > 0 {
		res.GetP99Ratio = res.FloodGet.P99Ms / res.IdleGet.P99Ms
		res.BusyP99Ratio = res.BusyGet.P99Ms / res.IdleGet.P99Ms
	}
	if res.BusyGet.P99Ms > 0 {
		res.FloodVsBusy = res.FloodGet.P99Ms / res.BusyGet.P99Ms
	}
	if h := res.HashingGet; h != nil && h.P99Ms > 0 {
		res.FloodVsHashing = res.FloodGet.P99Ms / h.P99Ms
		if res.IdleGet.P99Ms > 0 {
			res.HashingP99Ratio = h.P99Ms / res.IdleGet.P99Ms
		}
	}
	res.Logins, res.LoginsOK, res.Refused = loginT.requests, loginT.count(200), loginT.count(503, 429)
	if res.Logins > 0 {
		res.RefusedShare = float64(res.Refused) / float64(res.Logins)
		res.CPUPerLoginUs = float64(cpu.Microseconds()) / float64(res.Logins)
	}
	res.LoginAchieved = float64(res.Logins) / e.cfg.Flood.Seconds()
	if l := loginT.byClass["refused"]; l != nil {
		res.RefusalP50Ms, res.RefusalP99Ms = ms(l.Quantile(0.5)), ms(l.Quantile(0.99))
	}
	if l := loginT.byClass["ok"]; l != nil {
		res.AcceptedP99Ms = ms(l.Quantile(0.99))
	}
	res.LoginErrors, res.LoginErrorSamples = loginT.others(200, 503, 429), loginT.samples
	res.PeakRSS, res.PeakRSSExact = peak, exact
	res.ServerLog = e.usher.takeLog()
	e.report.mergeServerLog(res.ServerLog)
	hashingP99 := "n/a"
	if res.HashingGet != nil {
		hashingP99 = fmt.Sprintf("%.1f ms", res.HashingGet.P99Ms)
	}
	e.logf("flood: %d logins, %.0f%% refused (p99 %.1f ms), GET p99 %.1f ms vs idle %.1f ms (one CPU busy elsewhere: %.1f ms; argon2id at SCHED_IDLE on every CPU: %s), peak RSS %.1f MiB",
		res.Logins, 100*res.RefusedShare, res.RefusalP99Ms, res.FloodGet.P99Ms, res.IdleGet.P99Ms, res.BusyGet.P99Ms, hashingP99, mib(peak))
	return nil
}

// burner is a child process that keeps the CPUs busy until stopped: the
// spinning one, or the argon2id yardstick under SCHED_IDLE.
type burner struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

func startChild(cmd *exec.Cmd, what string) (*burner, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	b := &burner{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // killed by stop, or failed (exited reports it)
		close(b.done)
	}()
	return b, nil
}

func startBurner() (*burner, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startChild(exec.Command(self, burnFlag), "the CPU burner")
}

// startIdleHasher starts the argon2id yardstick (every CPU, for at most
// dur) under SCHED_IDLE, the policy Usher's hashing process runs under by
// default. chrt (util-linux) sets it before the process starts, so every
// thread the Go runtime makes inherits it; if it cannot, it exits with its
// error on the harness's standard error.
func startIdleHasher(dur time.Duration) (*burner, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	chrt, err := exec.LookPath("chrt")
	if err != nil {
		return nil, fmt.Errorf("chrt (util-linux) not found: %w", err)
	}
	cmd := exec.Command(chrt, "--idle", "0", self, hashRateFlag, dur.String())
	cmd.Stderr = os.Stderr
	return startChild(cmd, "argon2id under SCHED_IDLE")
}

// exited reports whether the process has ended on its own before stop.
func (b *burner) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

func (b *burner) stop() {
	_ = b.cmd.Process.Kill() // fails only if it has exited already
	<-b.done
}
