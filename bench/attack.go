package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Run is one measured phase: a scenario or a yardstick at one concurrency.
type Run struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"` // "scenario" or "yardstick"
	Conns    int     `json:"conns"`
	Seconds  float64 `json:"seconds"`
	Requests uint64  `json:"requests"`
	OK       uint64  `json:"ok"`  // answered with the success status
	RPS      float64 `json:"rps"` // OK per second of wall time
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	// Errors counts answers other than the success status, by status ("0"
	// is a transport error or a timeout).
	Errors       map[string]uint64 `json:"errors,omitempty"`
	ErrorSamples []string          `json:"error_samples,omitempty"`
	// ServerCPUPerReqUs is the measured process's CPU time (user+system)
	// per request, in microseconds; ServerPeakRSS its peak RSS in bytes.
	ServerCPUPerReqUs float64 `json:"server_cpu_us_per_req"`
	// ClientCPUPerReqUs is the harness's own CPU per request (the load
	// generator, and the reading of Usher's request log), on the same
	// CPUs as the server.
	ClientCPUPerReqUs float64 `json:"client_cpu_us_per_req,omitempty"`
	ServerPeakRSS     uint64  `json:"server_peak_rss_bytes"`
	PeakRSSExact      bool    `json:"peak_rss_exact"` // false: VmHWM could not be reset; the larger of RSS at start and end
	Ratios            []Ratio `json:"ratios,omitempty"`
	// Hashing is what Usher's hashing pool did during a hash-bound
	// scenario; HashingFailure says why it could not be read.
	Hashing        *HashingUse `json:"hashing,omitempty"`
	HashingFailure string      `json:"hashing_failure,omitempty"`
	ServerLog      *LogDigest  `json:"server_log,omitempty"` // WARN/ERROR lines the server logged meanwhile
	Failure        string      `json:"failure,omitempty"`    // why the run could not be done
	// Load1 is the machine's 1-minute load average as the run began
	// (/proc/loadavg): the other work beside it, for a figure's context.
	Load1 float64 `json:"load1"`
}

// Ratio compares a scenario's rate with a yardstick's, measured just before
// and just after it.
type Ratio struct {
	Yardstick string  `json:"yardstick"`
	RPS       float64 `json:"yardstick_rps"`
	Ratio     float64 `json:"ratio"`
	Target    float64 `json:"target,omitempty"` // minimum ratio; 0: none set
	// Drift is how far the yardstick's runs before and after the scenario
	// differ, as a share of their mean: a rough measure of the machine's
	// noise during the scenario. Bracketed is false when there was a
	// yardstick run on one side only (a level cut short), and Drift is then
	// unknown.
	Drift     float64 `json:"yardstick_drift"`
	Bracketed bool    `json:"bracketed"`
	// CPUPerReqUs is the yardstick's CPU per request (per hash for
	// argon2id), the mean of the same runs as RPS.
	CPUPerReqUs float64 `json:"yardstick_cpu_us_per_req,omitempty"`
}

// tally accumulates the results of an attack.
type tally struct {
	requests uint64
	codes    map[uint16]uint64
	lat      vegeta.LatencyMetrics             // every request
	byClass  map[string]*vegeta.LatencyMetrics // per class, for callers that classify
	samples  []string
}

func newTally() *tally {
	return &tally{codes: map[uint16]uint64{}, byClass: map[string]*vegeta.LatencyMetrics{}}
}

func (t *tally) add(r *vegeta.Result, class string) {
	t.requests++
	t.codes[r.Code]++
	t.lat.Add(r.Latency)
	if class != "" {
		l := t.byClass[class]
		if l == nil {
			l = &vegeta.LatencyMetrics{}
			t.byClass[class] = l
		}
		l.Add(r.Latency)
	}
	if r.Code == 0 && len(t.samples) < 5 && r.Error != "" {
		t.samples = append(t.samples, r.Error)
	}
}

func (t *tally) count(codes ...int) uint64 {
	var n uint64
	for _, c := range codes {
		n += t.codes[uint16(c)]
	}
	return n
}

// others counts the answers whose status is not in allowed, by status.
func (t *tally) others(allowed ...int) map[string]uint64 {
	out := map[string]uint64{}
	for code, n := range t.codes {
		ok := false
		for _, a := range allowed {
			ok = ok || int(code) == a
		}
		if !ok {
			out[strconv.Itoa(int(code))] += n
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// attackSpec describes one load phase.
type attackSpec struct {
	name  string
	conns int // max-rate mode: the fixed concurrency; constant-rate mode: initial workers
	rate  int // requests per second (constant-rate mode); 0: max-rate mode
	// capped limits a constant-rate attack to conns connections (and
	// workers): the rate falls when the server cannot keep up. Uncapped, vegeta
	// adds workers and connections to keep the rate (the flood).
	capped bool
	dur    time.Duration
	warmup time.Duration // load run first and not measured
	tls    *tls.Config
	target vegeta.Targeter
	// classify names a result's class for per-class latencies ("" for none).
	classify func(*vegeta.Result) string
	// before and after, when set, run right before and right after the
	// measured part, outside the window of the process statistics.
	before, after func()
}

// limit is the most connections and workers of an attack (0: no limit).
func (s attackSpec) limit() int {
	if s.rate == 0 || s.capped {
		return s.conns
	}
	return 0
}

// newAttacker returns a vegeta attacker on client. In max-rate mode it has
// exactly conns workers over at most conns connections, each sending its
// next request when the previous one is answered: a fixed concurrency.
func newAttacker(client *http.Client, s attackSpec) *vegeta.Attacker {
	workers := uint64(5000)
	if n := s.limit(); n > 0 {
		workers = uint64(n)
	}
	return vegeta.NewAttacker(vegeta.Client(client), vegeta.MaxBody(0),
		vegeta.Workers(uint64(max(s.conns, 1))), vegeta.MaxWorkers(workers))
}

// newClient is the HTTP client of an attack: HTTP/1.1 keep-alive, at most
// conns connections (0: no limit), no redirects followed.
func newClient(conns int, tc *tls.Config) *http.Client {
	return &http.Client{
		Transport:     newTransport(conns, tc),
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// attack runs s (after its warm-up) and returns its tally and wall time.
// measure, when set, is called right before and right after the measured
// part, so a caller can bracket it with process statistics.
func attack(s attackSpec, begin func(), end func()) (*tally, time.Duration) {
	client := newClient(s.limit(), s.tls)
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	pacer := vegeta.Rate{Freq: s.rate, Per: time.Second}
	if s.warmup > 0 {
		for range newAttacker(client, s).Attack(s.target, pacer, s.warmup, s.name+"-warmup") {
		}
	}
	t := newTally()
	if begin != nil {
		begin()
	}
	t0 := time.Now()
	for r := range newAttacker(client, s).Attack(s.target, pacer, s.dur, s.name) {
		class := ""
		if s.classify != nil {
			class = s.classify(r)
		}
		t.add(r, class)
	}
	wall := time.Since(t0)
	if end != nil {
		end()
	}
	return t, wall
}

// runFixed runs s at fixed concurrency against the process pid and returns
// the Run, counting status okStatus as success.
func runFixed(s attackSpec, kind string, pid int, okStatus int) *Run {
	var w *procWindow
	var cpu, self0, self time.Duration
	var peak uint64
	var exact bool
	begin := func() {
		if s.before != nil {
			s.before()
		}
		w = beginWindow(pid)
		self0, _ = cpuTime(os.Getpid())
	}
	end := func() {
		self, _ = cpuTime(os.Getpid())
		cpu, peak, exact = w.end()
		if s.after != nil {
			s.after()
		}
	}
	t, wall := attack(s, begin, end)
	r := tallyRun(s.name, kind, s.conns, t, wall, okStatus, cpu, peak, exact)
	if t.requests > 0 && self > self0 {
		r.ClientCPUPerReqUs = float64((self - self0).Microseconds()) / float64(t.requests)
	}
	return r
}

func tallyRun(name, kind string, conns int, t *tally, wall time.Duration, okStatus int, cpu time.Duration, peak uint64, exact bool) *Run {
	r := &Run{
		Name: name, Kind: kind, Conns: conns, Seconds: wall.Seconds(), Requests: t.requests,
		OK: t.count(okStatus), Errors: t.others(okStatus), ErrorSamples: t.samples,
		P50Ms: ms(t.lat.Quantile(0.50)), P90Ms: ms(t.lat.Quantile(0.90)), P99Ms: ms(t.lat.Quantile(0.99)),
		ServerPeakRSS: peak, PeakRSSExact: exact,
	}
	if wall > 0 {
		r.RPS = float64(r.OK) / wall.Seconds()
	}
	if t.requests > 0 {
		r.ServerCPUPerReqUs = float64(cpu.Microseconds()) / float64(t.requests)
	}
	return r
}

// errorCount is the number of unexpected answers of a run.
func (r *Run) errorCount() uint64 {
	if r == nil {
		return 0
	}
	var n uint64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// errorString lists a run's unexpected answers by status: "503×4 0×1".
func errorString(errs map[string]uint64) string {
	if len(errs) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s×%d", k, errs[k])
	}
	return s
}
