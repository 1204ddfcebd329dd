package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Config is one harness run.
type Config struct {
	Smoke        bool
	Duration     time.Duration // of each scenario and yardstick run
	Conns        []int         // concurrency levels
	Rate         int           // 0: max-rate mode; N: constant-rate mode, N requests/s over at most conns connections
	Scenarios    []string      // names to run; empty: all
	Flood        time.Duration // of the login flood (0: no flood)
	FloodGetRate int           // backend GETs per second during the flood
	Users        int           // users seeded (and the N of bytes per user)
	Tokens       int           // users logged in for GET /me
	Restarts     int           // start-to-ready samples
	Settle       time.Duration // idle time before the idle RSS is read
	Repo         string        // the Usher repository root ("": found from the working directory)
	Keep         bool          // keep the temporary directory
	UsherEnv     []string      // NAME=VALUE pairs added to Usher's environment only
	NoLog        bool          // run Usher with --no-log-requests (a comparison; the default is Usher's: logs on)
}

// fullConfig and smokeConfig are the defaults of a full run and of the
// smoke run CI makes.
func fullConfig() Config {
	return Config{Duration: 10 * time.Second, Conns: []int{8, 16, 32}, Flood: 20 * time.Second, FloodGetRate: 100,
		Users: 1000, Tokens: 64, Restarts: 5, Settle: 3 * time.Second}
}

// The smoke run hashes in Usher's process (hash-priority normal): it checks
// answers, not speed, and runs in CI and beside test suites, where a hashing
// process at the lowest priority may get no CPU for seconds and Usher would
// rightly answer 503. The child process's own path is proven end to end by
// cmd/usher's tests, which run the real binary with production hashing.
func smokeConfig() Config {
	return Config{Smoke: true, Duration: 1500 * time.Millisecond, Conns: []int{8}, Flood: 3 * time.Second, FloodGetRate: 50,
		Users: 40, Tokens: 16, Restarts: 2, Settle: time.Second, UsherEnv: []string{"USHER_HASH_PRIORITY=normal"}}
}

// env is the state of a harness run.
type env struct {
	cfg       Config
	out       io.Writer // progress lines
	work      string    // temporary directory
	data      string    // Usher's data directory
	bin       string    // Usher's binary
	clientTLS *tls.Config
	// extraArgs and extraEnv are added to every `usher serve` the harness
	// starts (the operators mode's --db and data key on PostgreSQL).
	extraArgs []string
	extraEnv  []string

	usher     *proc
	usherKind serverKind
	starts    int
	bare      *proc
	floors    map[string]*proc // the login floor's processes, by write mode, started when first run

	users      []seedUser
	tokens     []string
	registered atomic.Uint64
	report     *Report
	dbObjects  map[string]int64 // bytes per SQLite table and index at the last compactSize (dbstat); nil: unknown
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.out, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// warmup is the unmeasured load before each measured run.
func (e *env) warmup() time.Duration { return min(time.Second, e.cfg.Duration/5) }

// startUsher starts Usher in the given configuration on the data directory.
func (e *env) startUsher(kind serverKind) error {
	e.starts++
	args := append(usherArgs(e.data, kind), e.extraArgs...)
	if e.cfg.NoLog {
		args = append(args, "--no-log-requests")
	}
	env := append(append(cleanEnv(), e.cfg.UsherEnv...), e.extraEnv...)
	p, err := startProc(string(kind), e.bin, args, env,
		filepath.Join(e.work, fmt.Sprintf("usher-%02d.log", e.starts)))
	if err != nil {
		return err
	}
	e.usher, e.usherKind = p, kind
	return nil
}

// stopUsher stops the running Usher, keeping the WARN/ERROR lines it logged.
func (e *env) stopUsher() error {
	if e.usher == nil {
		return nil
	}
	err := e.usher.stop()
	e.report.mergeServerLog(e.usher.takeLog())
	e.usher = nil
	if err != nil {
		return fmt.Errorf("usher did not stop cleanly: %w", err)
	}
	return nil
}

// ensureUsher makes sure Usher runs in the given configuration.
func (e *env) ensureUsher(kind serverKind) error {
	if e.usher != nil && e.usherKind == kind {
		return nil
	}
	if err := e.stopUsher(); err != nil {
		return err
	}
	return e.startUsher(kind)
}

// run is the whole harness: it returns the report, also when a phase failed
// (the error says which).
func run(ctx context.Context, cfg Config, out io.Writer) (*Report, error) {
	e := &env{cfg: cfg, out: out, report: newReport(cfg)}
	err := e.run(ctx)
	if e.usher != nil {
		if serr := e.stopUsher(); err == nil {
			err = serr
		}
	}
	if e.bare != nil {
		_ = e.bare.stop()
	}
	for _, p := range e.floors {
		_ = p.stop()
	}
	if err != nil {
		e.report.Failures = append(e.report.Failures, err.Error())
	}
	e.report.finish()
	// Usher's logs and data help explain a failure: keep them then.
	if e.work != "" {
		if cfg.Keep || len(e.report.Unexpected) > 0 {
			e.logf("kept %s (Usher's data directory and logs)", e.work)
		} else {
			_ = os.RemoveAll(e.work)
		}
	}
	return e.report, err
}

// prepare makes the run's work directory (named from prefix) and builds
// the usher binary into it, from the repository root.
func (e *env) prepare(ctx context.Context, prefix string) error {
	root := e.cfg.Repo
	if root == "" {
		var err error
		if root, err = findRepoRoot(); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp("", prefix)
	if err != nil {
		return err
	}
	e.work, e.data = work, filepath.Join(work, "data")
	e.logf("building usher (static, CGO_ENABLED=0) from %s", root)
	e.bin, err = buildUsher(ctx, root, work)
	return err
}

func (e *env) run(ctx context.Context) error {
	if err := e.prepare(ctx, "usher-bench-"); err != nil {
		return err
	}
	if err := e.measureDatabase(); err != nil {
		return err
	}
	if err := e.measureStartup(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if e.bare, err = startProc("bare", self, []string{bareFlag, e.data}, cleanEnv(), filepath.Join(e.work, "bare.log")); err != nil {
		return err
	}
	if err := e.measureGetRSS(); err != nil {
		return err
	}
	e.logf("logging %d users in for GET /me", e.cfg.Tokens)
	if err := e.loginTokens(e.cfg.Tokens); err != nil {
		return err
	}
	chosen := e.chosenScenarios()
	for _, conns := range e.cfg.Conns {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := e.runLevel(ctx, conns, chosen); err != nil {
			return err
		}
	}
	if err := e.measureEnumeration(); err != nil {
		return err
	}
	if e.cfg.Flood > 0 {
		if err := e.ensureUsher(usherDefault); err != nil {
			return err
		}
		if err := e.runFlood(); err != nil {
			return err
		}
	}
	return nil
}

func (e *env) chosenScenarios() []*scenario {
	if len(e.cfg.Scenarios) == 0 {
		if e.cfg.Smoke {
			// The smoke run also proves the login floor's process works
			// (one mode: they differ only in the write).
			return append(slices.Clip(scenarios), floorScenarios[0])
		}
		return scenarios
	}
	var out []*scenario
	for _, s := range allScenarios() {
		if slices.Contains(e.cfg.Scenarios, s.name) {
			out = append(out, s)
		}
	}
	return out
}

// item is one step of a level's schedule: a yardstick or a scenario.
type item struct {
	yard string
	sc   *scenario
}

// schedule interleaves scenarios and yardsticks: each scenario is preceded
// and followed by a run of every yardstick it is compared with, so a drift
// of the machine's speed during the run hits both sides of each ratio.
func schedule(scs []*scenario) []item {
	var items []item
	var prev []string
	kinds := func(s *scenario) []string {
		var k []string
		for _, y := range s.yards {
			k = append(k, y.kind)
		}
		return k
	}
	for _, s := range scs {
		need := slices.Clone(prev)
		for _, k := range kinds(s) {
			if !slices.Contains(need, k) {
				need = append(need, k)
			}
		}
		for _, k := range need {
			items = append(items, item{yard: k})
		}
		items = append(items, item{sc: s})
		prev = kinds(s)
	}
	for _, k := range prev {
		items = append(items, item{yard: k})
	}
	return items
}

// runLevel runs the schedule at one concurrency level.
func (e *env) runLevel(ctx context.Context, conns int, scs []*scenario) error {
	level := &Level{Conns: conns}
	e.report.Levels = append(e.report.Levels, level)
	defer level.computeRatios(scs)
	for _, it := range schedule(scs) {
		if err := ctx.Err(); err != nil {
			return err
		}
		var r *Run
		load := loadAvg()
		if it.sc == nil {
			r = e.runYardstick(it.yard, conns)
			e.logf("conns=%-3d yardstick %-20s %9.1f req/s", conns, it.yard, r.RPS)
		} else {
			var err error
			if r, err = e.runScenario(it.sc, conns, e.cfg.Rate); err != nil {
				return err
			}
			e.logf("conns=%-3d scenario  %-20s %9.1f req/s  p99 %.1f ms  errors %s", conns, it.sc.name, r.RPS, r.P99Ms, errorString(r.Errors))
		}
		r.Load1 = load
		level.Runs = append(level.Runs, r)
	}
	return nil
}

// runScenario runs one scenario at fixed concurrency on the Usher it needs.
func (e *env) runScenario(s *scenario, conns, rate int) (*Run, error) {
	if s.floor != "" {
		return e.runFloor(s, conns, rate)
	}
	if err := e.ensureUsher(s.server); err != nil {
		return nil, err
	}
	e.report.mergeServerLog(e.usher.takeLog()) // lines logged before this run
	tr := s.target(e)
	if err := e.preflight(s, tr); err != nil {
		r := &Run{Name: s.name, Kind: "scenario", Conns: conns, Failure: err.Error(), ServerLog: e.usher.takeLog()}
		e.report.mergeServerLog(r.ServerLog)
		return r, nil
	}
	spec := e.scenarioSpec(s, conns, rate, tr)
	if s.tls {
		spec.tls = e.clientTLS
	}
	var pool struct {
		before, after poolCounters
		err           error
	}
	if s.hash {
		// Counters move only when a hash ends, and the pool is idle at
		// both reads (the warm-up and the measured part have drained), so
		// every hash of the measured part is counted and no other.
		spec.before = func() { pool.before, pool.err = e.scrapePool() }
		spec.after = func() {
			if pool.err == nil {
				pool.after, pool.err = e.scrapePool()
			}
		}
	}
	r := runFixed(spec, "scenario", e.usher.pid(), s.status)
	if s.hash {
		if pool.err == nil {
			// The wall time the rate is computed on, so that the ratio
			// to argon2id is busy × speed.
			wall := time.Duration(r.Seconds * float64(time.Second))
			r.Hashing, pool.err = hashingUse(pool.before, pool.after, wall)
		}
		if pool.err != nil {
			r.HashingFailure = pool.err.Error()
		}
	}
	r.ServerLog = e.usher.takeLog()
	e.report.mergeServerLog(r.ServerLog)
	return r, nil
}

// scenarioSpec is the attack of a scenario's measured run.
func (e *env) scenarioSpec(s *scenario, conns, rate int, tr vegeta.Targeter) attackSpec {
	return attackSpec{name: s.name, conns: conns, rate: rate, capped: true, dur: e.cfg.Duration, warmup: e.warmup(), target: tr}
}

// runFloor runs a login floor scenario on its own process, started at its
// first run with the seeded users (floor.go).
func (e *env) runFloor(s *scenario, conns, rate int) (*Run, error) {
	p := e.floors[s.floor]
	if p == nil {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		args := []string{floorFlag, e.work, s.floor, strconv.Itoa(len(e.users))}
		if p, err = startProc(s.name, self, args, cleanEnv(), filepath.Join(e.work, s.name+".log")); err != nil {
			return nil, err
		}
		if e.floors == nil {
			e.floors = map[string]*proc{}
		}
		e.floors[s.floor] = p
	}
	tr := s.target(e)
	if err := e.preflight(s, tr); err != nil {
		return &Run{Name: s.name, Kind: "scenario", Conns: conns, Failure: err.Error()}, nil
	}
	spec := e.scenarioSpec(s, conns, rate, tr)
	return runFixed(spec, "scenario", p.pid(), s.status), nil
}

// computeRatios sets each scenario's ratio to each of its yardsticks: the
// mean of the yardstick's runs right before and right after it.
func (l *Level) computeRatios(scs []*scenario) {
	byName := map[string]*scenario{}
	for _, s := range scs {
		byName[s.name] = s
	}
	for j, r := range l.Runs {
		s := byName[r.Name]
		if r.Kind != "scenario" || s == nil || r.Failure != "" {
			continue
		}
		for _, y := range s.yards {
			var bracket []float64
			var cpuSum float64
			yardWorkers := 0 // the argon2id yardstick's goroutines (its Conns)
			take := func(y *Run) {
				bracket = append(bracket, y.RPS)
				cpuSum += y.ServerCPUPerReqUs
				yardWorkers = y.Conns
			}
			for i := j - 1; i >= 0; i-- {
				if l.Runs[i].Name == y.kind {
					take(l.Runs[i])
					break
				}
			}
			for i := j + 1; i < len(l.Runs); i++ {
				if l.Runs[i].Name == y.kind {
					take(l.Runs[i])
					break
				}
			}
			var sum float64
			for _, v := range bracket {
				sum += v
			}
			if sum == 0 {
				continue
			}
			mean := sum / float64(len(bracket))
			ra := Ratio{Yardstick: y.kind, RPS: mean, Ratio: r.RPS / mean, Target: y.min, CPUPerReqUs: cpuSum / float64(len(bracket))}
			if y.kind == yardArgon2 && r.Hashing != nil {
				r.Hashing.setSpeed(mean, yardWorkers)
			}
			if len(bracket) == 2 {
				ra.Drift, ra.Bracketed = math.Abs(bracket[0]-bracket[1])/mean, true
			}
			r.Ratios = append(r.Ratios, ra)
		}
	}
}

// lastHashRate is the most recent argon2id yardstick, measured now if
// there is none.
func (e *env) lastHashRate() float64 {
	for i := len(e.report.Levels) - 1; i >= 0; i-- {
		runs := e.report.Levels[i].Runs
		for j := len(runs) - 1; j >= 0; j-- {
			if runs[j].Name == yardArgon2 && runs[j].RPS > 0 {
				return runs[j].RPS
			}
		}
	}
	r := hashRateAllCPUs(e.cfg.Duration)
	e.report.FloodHashYardstick = r
	return r.RPS
}
