package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything a harness run measured. -out writes it as JSON.
type Report struct {
	Started    time.Time `json:"started"`
	Smoke      bool      `json:"smoke"`
	NumCPU     int       `json:"num_cpu"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	GoVersion  string    `json:"go_version"`
	DurationS  float64   `json:"duration_s"` // of each run
	Rate       int       `json:"rate"`       // 0: max-rate mode; N: constant-rate mode at N requests/s
	Conns      []int     `json:"conns"`
	UsherEnv   []string  `json:"usher_env,omitempty"` // added to Usher's environment (-usher-env)
	NoLog      bool      `json:"no_log_requests"`     // Usher ran with --no-log-requests (default: its request log on)

	DB         *DBResult      `json:"db,omitempty"`
	Startup    *StartupResult `json:"startup,omitempty"`
	GetLoadRSS *Run           `json:"get_load_rss,omitempty"` // backend GET at 32 connections on a fresh Usher
	Levels     []*Level       `json:"levels"`
	Flood      *FloodResult   `json:"flood,omitempty"`
	// Enumeration compares known and unknown addresses where the answers
	// must not differ.
	Enumeration *EnumerationResult `json:"enumeration,omitempty"`
	// FloodHashYardstick is set when no level measured the hash rate the
	// flood is sized on.
	FloodHashYardstick *Run `json:"flood_hash_yardstick,omitempty"`

	Targets    []TargetCheck `json:"targets"`
	ServerLog  LogDigest     `json:"server_log"`           // WARN/ERROR lines Usher logged
	Failures   []string      `json:"failures,omitempty"`   // phases that could not be run
	Unexpected []string      `json:"unexpected,omitempty"` // unexpected answers: what the smoke test fails on
}

// Level is the schedule run at one concurrency.
type Level struct {
	Conns int    `json:"conns"`
	Runs  []*Run `json:"runs"`
}

// TargetCheck is one figure next to its target. A miss is reported, never
// an error.
type TargetCheck struct {
	What   string `json:"what"`
	Value  string `json:"value"`
	Target string `json:"target"`
	Pass   bool   `json:"pass"`
}

func newReport(cfg Config) *Report {
	return &Report{Started: time.Now().UTC(), Smoke: cfg.Smoke, NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), DurationS: cfg.Duration.Seconds(), Rate: cfg.Rate, Conns: cfg.Conns, UsherEnv: cfg.UsherEnv, NoLog: cfg.NoLog, Levels: []*Level{}}
}

func (r *Report) mergeServerLog(d *LogDigest) { r.ServerLog.merge(d) }

// finish derives the target checks and the list of unexpected answers.
func (r *Report) finish() {
	r.Targets, r.Unexpected = nil, nil
	check := func(what, value, target string, pass bool) {
		r.Targets = append(r.Targets, TargetCheck{What: what, Value: value, Target: target, Pass: pass})
	}
	unexpected := func(run *Run, where string) {
		if run == nil {
			return
		}
		switch {
		case run.Failure != "":
			r.Unexpected = append(r.Unexpected, fmt.Sprintf("%s %s: %s", where, run.Name, run.Failure))
		case run.errorCount() > 0:
			r.Unexpected = append(r.Unexpected, fmt.Sprintf("%s %s: unexpected answers %s %v", where, run.Name, errorString(run.Errors), run.ErrorSamples))
		case run.OK == 0:
			r.Unexpected = append(r.Unexpected, fmt.Sprintf("%s %s: no successful request", where, run.Name))
		}
	}
	for _, l := range r.Levels {
		where := fmt.Sprintf("conns=%d", l.Conns)
		for _, run := range l.Runs {
			unexpected(run, where)
			if run.Kind != "scenario" {
				continue
			}
			if run.HashingFailure != "" {
				r.Unexpected = append(r.Unexpected, fmt.Sprintf("%s %s: Usher's hashing pool metrics: %s", where, run.Name, run.HashingFailure))
			}
			if run.Name == "login" || run.Name == "register" {
				check(fmt.Sprintf("%s errors @%d", run.Name, l.Conns), errorString(run.Errors), "0", run.Failure == "" && run.errorCount() == 0)
			}
			for _, ra := range run.Ratios {
				if ra.Target > 0 {
					check(fmt.Sprintf("%s/%s @%d", run.Name, ra.Yardstick, l.Conns),
						fmt.Sprintf("%s (%.1f vs %.1f req/s, yardstick drift %s)", ratioString(ra.Ratio), run.RPS, ra.RPS, driftString(ra)),
						fmt.Sprintf("≥ %.2f", ra.Target), ra.Ratio >= ra.Target)
				}
			}
		}
	}
	unexpected(r.GetLoadRSS, "rss-probe")
	if en := r.Enumeration; en != nil && !en.AnswersIdentical {
		r.Unexpected = append(r.Unexpected, "enumeration: a known and an unknown address got different answers: "+en.FirstDifferenceSeen)
	}
	if f := r.Flood; f != nil {
		unexpected(f.IdleGet, "flood")
		unexpected(f.BusyGet, "flood")
		unexpected(f.HashingGet, "flood") // nil when it could not run
		unexpected(f.FloodGet, "flood")
		if len(f.LoginErrors) > 0 {
			r.Unexpected = append(r.Unexpected, fmt.Sprintf("flood logins: answers other than 200/503/429: %s %v", errorString(f.LoginErrors), f.LoginErrorSamples))
		}
		if f.Logins == 0 {
			r.Unexpected = append(r.Unexpected, "flood: no login was sent")
		}
		check("flood: backend GET p99 vs idle", fmt.Sprintf("%.2f× (%.1f vs %.1f ms)", f.GetP99Ratio, f.FloodGet.P99Ms, f.IdleGet.P99Ms), "≤ 3×", f.GetP99Ratio > 0 && f.GetP99Ratio <= 3)
		if f.BusyGet != nil && f.BusyGet.P99Ms > 0 {
			check("flood: backend GET p99 vs beside a busy CPU", fmt.Sprintf("%.2f× (%.1f vs %.1f ms)", f.FloodVsBusy, f.FloodGet.P99Ms, f.BusyGet.P99Ms), "≤ 1.5×", f.FloodVsBusy > 0 && f.FloodVsBusy <= 1.5)
		}
		check("flood: refusals' p99 latency", fmt.Sprintf("%.1f ms (%d of %d refused, %.0f%%)", f.RefusalP99Ms, f.Refused, f.Logins, 100*f.RefusedShare),
			"≤ 50 ms", f.Refused > 0 && f.RefusalP99Ms <= 50)
		check("flood: peak RSS", fmt.Sprintf("%.1f MiB", mib(f.PeakRSS)), "≤ 150 MiB", f.PeakRSS <= 150<<20)
		other := f.FloodGet.errorCount() + f.IdleGet.errorCount() + f.BusyGet.errorCount() + f.HashingGet.errorCount()
		for _, n := range f.LoginErrors {
			other += n
		}
		check("flood: errors other than 503/429", fmt.Sprint(other), "0", other == 0)
	}
	if s := r.Startup; s != nil {
		check("idle RSS", fmt.Sprintf("%.1f MiB (anonymous %.1f, file-backed %.1f); hashing process %.1f MiB (anonymous %.1f)",
			mib(s.IdleRSS), mib(s.IdleAnon), mib(s.IdleFile), mib(s.HashProcRSS), mib(s.HashProcAnon)), "≤ 25 MiB (Usher's own; was 20)", s.IdleRSS <= 25<<20)
	}
	if g := r.GetLoadRSS; g != nil {
		check(fmt.Sprintf("RSS under backend GET @%d", g.Conns), fmt.Sprintf("%.1f MiB", mib(g.ServerPeakRSS)), "≤ 40 MiB", g.Failure == "" && g.ServerPeakRSS <= 40<<20)
	}
	if s := r.Startup; s != nil {
		check("start-to-ready (median)", fmt.Sprintf("%.0f ms (max %.0f, %d starts)", s.MedianMs, s.MaxMs, len(s.SamplesMs)), "≤ 300 ms", s.MedianMs <= 300)
	}
	if d := r.DB; d != nil {
		// What a user costs is the marginal figure: the empty database (the
		// schema, a page per table and index, about 68 KiB) is paid once.
		check(fmt.Sprintf("SQLite bytes per user (N=%d)", d.Users), fmt.Sprintf("%.0f B marginal (%.0f B compacted size / N)", d.MarginalPerUser, d.BytesPerUser), "≤ 300 B", d.MarginalPerUser <= 300)
	}
	r.Unexpected = append(r.Unexpected, r.Failures...)
}

// writeJSON writes the report to path.
func (r *Report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func cpuString(us float64) string {
	switch {
	case us == 0:
		return "-"
	case us >= 1000:
		return fmt.Sprintf("%.1fms", us/1000)
	}
	return fmt.Sprintf("%.0fµs", us)
}

func latString(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func passString(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// print writes the report as text.
func (r *Report) print(w io.Writer) {
	mode := "full run"
	if r.Smoke {
		mode = "smoke run (short runs: the figures say nothing about speed)"
	}
	fmt.Fprintf(w, "\nUsher load harness: %s\n", mode)
	load := "max-rate mode: each connection sends its next request when answered"
	if r.Rate > 0 {
		load = fmt.Sprintf("constant-rate mode: %d requests/s over at most the level's connections", r.Rate)
	}
	fmt.Fprintf(w, "machine: %d CPUs, GOMAXPROCS %d, %s; each run %.1fs after a warm-up, HTTP/1.1 keep-alive, %s\n",
		r.NumCPU, r.GOMAXPROCS, r.GoVersion, r.DurationS, load)
	if len(r.UsherEnv) > 0 {
		fmt.Fprintf(w, "Usher ran with %s added to its environment (-usher-env)\n", strings.Join(r.UsherEnv, " "))
	}
	logs := "on, as shipped (to a pipe the harness reads)"
	if r.NoLog {
		logs = "off (-no-log-requests)"
	}
	fmt.Fprintf(w, "Usher's settings are its defaults (hashing pool included) but for the rate limits, lockout and per-address connection cap; request log %s\n", logs)
	fmt.Fprintln(w, "cpu/req and peak RSS are the measured process's: Usher for scenarios, the bare server for bare-*, the argon2id yardstick's own process (every CPU).")
	for _, l := range r.Levels {
		fmt.Fprintf(w, "\n== %d connections ==\n", l.Conns)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "run\treq/s\tp50 ms\tp90 ms\tp99 ms\terrors\tcpu/req\tpeak RSS\tload\t vs yardstick\t")
		for _, run := range l.Runs {
			name := run.Name
			if run.Kind == "yardstick" {
				name = "[" + name + "]"
			}
			if run.Failure != "" {
				fmt.Fprintf(tw, "%s\t\t\t\t\t\t\t\t\t FAILED: %s\t\n", name, run.Failure)
				continue
			}
			var ratios []string
			for _, ra := range run.Ratios {
				s := fmt.Sprintf("%s×%s", ratioString(ra.Ratio), ra.Yardstick)
				if ra.Target > 0 {
					s += fmt.Sprintf(" (≥%.2f %s)", ra.Target, passString(ra.Ratio >= ra.Target))
				}
				ratios = append(ratios, s)
			}
			fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%.1f MiB\t%.2f\t %s\t\n", name, run.RPS, latString(run.P50Ms), latString(run.P90Ms),
				latString(run.P99Ms), errorString(run.Errors), cpuString(run.ServerCPUPerReqUs), mib(run.ServerPeakRSS), run.Load1, strings.Join(ratios, ", "))
		}
		tw.Flush()
	}
	r.printHashing(w)
	r.printCPUCeiling(w)
	if f := r.Flood; f != nil {
		fmt.Fprintf(w, "\n== login flood (%.1fs) ==\n", f.Seconds)
		fmt.Fprintf(w, "logins offered %d/s (10 × %.1f hashes/s), sent %.1f/s: %d sent, %d answered 200, %d refused 503/429 (%.1f%%), other %s\n",
			f.LoginRate, f.HashRate, f.LoginAchieved, f.Logins, f.LoginsOK, f.Refused, 100*f.RefusedShare, errorString(f.LoginErrors))
		fmt.Fprintf(w, "refusal latency p50 %.1f ms, p99 %.1f ms (%d refusals took over 50 ms); accepted logins p99 %.1f ms; Usher CPU %s per login\n",
			f.RefusalP50Ms, f.RefusalP99Ms, f.SlowRefusals, f.AcceptedP99Ms, cpuString(f.CPUPerLoginUs))
		fmt.Fprintf(w, "backend GET at %d/s: idle p99 %.2f ms, during the flood p99 %.2f ms (%.2f×); errors idle %s, flood %s\n",
			f.GetRate, f.IdleGet.P99Ms, f.FloodGet.P99Ms, f.GetP99Ratio, errorString(f.IdleGet.Errors), errorString(f.FloodGet.Errors))
		if f.BusyGet != nil {
			fmt.Fprintf(w, "yardstick: the same GET stream while another process keeps one CPU busy (no hashing, no login): p99 %.2f ms (%.2f× idle); the flood's p99 is %.2f× that\n",
				f.BusyGet.P99Ms, f.BusyP99Ratio, f.FloodVsBusy)
		}
		if h := f.HashingGet; h != nil {
			fmt.Fprintf(w, "yardstick: the same GET stream while argon2id hashes on every CPU at SCHED_IDLE in another process (no Usher code, no login): p99 %.2f ms (%.2f× idle); the flood's p99 is %.2f× that\n",
				h.P99Ms, f.HashingP99Ratio, f.FloodVsHashing)
		} else if f.HashingFailure != "" {
			fmt.Fprintf(w, "no GET stream beside hashing: %s\n", f.HashingFailure)
		}
		fmt.Fprintf(w, "Usher peak RSS during the flood %.1f MiB\n", mib(f.PeakRSS))
	}
	if en := r.Enumeration; en != nil {
		fmt.Fprintf(w, "\n== enumeration (one request at a time, pairs alternating) ==\n")
		fmt.Fprintf(w, "failed login, median of %d: unknown email %.2f ms, known email with a wrong password %.2f ms: difference %+.2f ms\n",
			en.N, en.LoginUnknownMedian, en.LoginWrongMedian, en.LoginMedianDiff)
		fmt.Fprintf(w, "password/send, median of %d: known address %.2f ms, unknown %.2f ms: difference %+.2f ms; identical status and body on every pair: %v\n",
			en.SendN, en.SendKnownMedian, en.SendUnknownMedian, en.SendMedianDiff, en.AnswersIdentical)
	}
	if s := r.Startup; s != nil {
		fmt.Fprintf(w, "\n== start and memory ==\nstart-to-ready on an existing data directory (exec to the \"ready\" log line): %v ms\n", roundAll(s.SamplesMs))
		fmt.Fprintf(w, "idle RSS after %.0fs idle: %.1f MiB\n", s.SettleS, mib(s.IdleRSS))
	}
	if g := r.GetLoadRSS; g != nil {
		fmt.Fprintf(w, "peak RSS under backend GET at %d connections (fresh process): %.1f MiB (%.1f req/s, errors %s)\n",
			g.Conns, mib(g.ServerPeakRSS), g.RPS, errorString(g.Errors))
	}
	if d := r.DB; d != nil {
		fmt.Fprintf(w, "\n== SQLite size ==\n%d users: usher.db %d B after a checkpointing stop; compacted %d B (%s); empty database %d B\n",
			d.Users, d.FileBytes, d.Bytes, d.Method, d.EmptyBytes)
		fmt.Fprintf(w, "bytes per user: %.0f (compacted size / N), %.0f marginal ((compacted − empty) / N)\n", d.BytesPerUser, d.MarginalPerUser)
	}
	writeChecks(w, r.Targets, r.ServerLog, r.Unexpected, "WARN/ERROR lines Usher logged, by level and event (overloaded is expected in the flood)")
}

// printHashing writes what Usher's hashing pool did in each hash-bound
// scenario, if any ran.
func (r *Report) printHashing(w io.Writer) {
	var rows []string
	for _, l := range r.Levels {
		for _, run := range l.Runs {
			if h := run.Hashing; h != nil {
				speed, yard := "-", "-"
				if h.Speed > 0 {
					speed, yard = fmt.Sprintf("%.2f", h.Speed), fmt.Sprintf("%.1f", h.YardstickMsPerHash)
				}
				rows = append(rows, fmt.Sprintf("%d\t%s\t%.0f\t%.1f%%\t%.1f\t%s\t%s\t", l.Conns, run.Name, h.Hashes, 100*h.Busy, h.MsPerHash, yard, speed))
			}
		}
	}
	printTable(w, rows, "conns\tscenario\thashes\tbusy\tms/hash\tyardstick ms/hash\tspeed\t",
		"hashing inside Usher (its /metrics, read before and after each hash-bound run)",
		"ratio to argon2id ≈ busy × speed. busy: the share of the run Usher's workers spent hashing (its queueing);",
		"speed: one hash's time in the yardstick runs around it ÷ its time inside Usher (the machine, Usher's GC).")
}

// printTable prints a section of the report: its title and notes, then
// rows (tab-separated, matching header) aligned right; nothing when there
// is no row.
func printTable(w io.Writer, rows []string, header, title string, notes ...string) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n== %s ==\n", title)
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, header)
	for _, row := range rows {
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
}

// printCPUCeiling shows, for each run compared with argon2id, where the
// CPU of a request went and the ratio it bounds: with every CPU busy, a
// request costing the server S and the load generator G beside a hash
// costing Y in the yardstick can reach at most Y ÷ (S + G) of the
// yardstick's rate, whatever the scheduling. Efficiency is Y ÷ S.
func (r *Report) printCPUCeiling(w io.Writer) {
	var rows []string
	for _, l := range r.Levels {
		for _, run := range l.Runs {
			for _, ra := range run.Ratios {
				if ra.Yardstick != yardArgon2 || ra.CPUPerReqUs <= 0 || run.ServerCPUPerReqUs <= 0 {
					continue
				}
				y, s, g := ra.CPUPerReqUs, run.ServerCPUPerReqUs, run.ClientCPUPerReqUs
				rows = append(rows, fmt.Sprintf("%d\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t", l.Conns, run.Name,
					y/1000, s/1000, g/1000, (s-y)/1000, y/s, ratioString(y/(s+g))+" / "+ratioString(ra.Ratio)))
			}
		}
	}
	printTable(w, rows, "conns\trun\tyardstick\tserver\tgenerator\tover\tefficiency\tceiling / measured\t",
		"CPU per hash-bound request (ms): the ceiling it sets on the ratio to argon2id",
		"yardstick: argon2id's CPU a hash (the runs around); server: the measured process(es); generator: the harness's own;",
		"over: server − yardstick; efficiency: yardstick ÷ server; ceiling: yardstick ÷ (server + generator), the ratio with no CPU idle.")
}

func roundAll(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x + 0.5)
	}
	return out
}

// ratioString prints a ratio to two decimals, rounded down, so that a
// printed ratio equal to its target always means the target was met
// (0.967 prints as 0.96, not as a failing 0.97).
func ratioString(r float64) string {
	// The epsilon keeps a ratio such as 0.57, whose product with 100 comes
	// out as 56.999…, from printing a hundredth low.
	return fmt.Sprintf("%.2f", math.Floor(r*100+1e-9)/100)
}

// driftString prints a ratio's yardstick drift, or n/a when the scenario
// had a yardstick run on one side only.
func driftString(ra Ratio) string {
	if !ra.Bracketed {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*ra.Drift)
}

// writeChecks writes what every report ends with: the targets, the
// WARN/ERROR lines Usher logged (under logTitle), and the unexpected
// answers.
func writeChecks(w io.Writer, targets []TargetCheck, log LogDigest, unexpected []string, logTitle string) {
	fmt.Fprintln(w, "\n== targets (a miss is reported, never a failure) ==")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", passString(t.Pass), t.What, t.Value, t.Target)
	}
	tw.Flush()
	if len(log.Counts) > 0 {
		fmt.Fprintf(w, "\n== %s ==\n", logTitle)
		keys := make([]string, 0, len(log.Counts))
		for k := range log.Counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%6d  %s\n", log.Counts[k], k)
		}
		fmt.Fprintln(w, "first lines:")
		for _, l := range log.Samples {
			fmt.Fprintln(w, "  "+l)
		}
	}
	if len(unexpected) > 0 {
		fmt.Fprintf(w, "\n== UNEXPECTED (%d) ==\n", len(unexpected))
		for _, u := range unexpected {
			fmt.Fprintln(w, u)
		}
	} else {
		fmt.Fprintln(w, "\nno unexpected answer")
	}
}
