package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"
)

// OpsResult is what the operators mode measured.
type OpsResult struct {
	Engine    string `json:"engine"`
	Users     int    `json:"users"`       // N, pre-hashed
	Plain     int    `json:"plain_users"` // with plain passwords
	FileBytes int64  `json:"file_bytes"`  // the import file of the N users

	Migrate *CmdRun `json:"migrate,omitempty"`
	Import  *CmdRun `json:"import,omitempty"`
	// ImportRate is N ÷ the wall time of migrate and import together.
	ImportRate float64 `json:"import_rate"`

	PlainImport *CmdRun `json:"plain_import,omitempty"`
	PoolWorkers int     `json:"pool_workers"` // Usher's default hashing pool on this machine
	CPUs        int     `json:"cpus"`
	// The argon2id yardstick before and after the plain import, on as many
	// workers as Usher's pool and on every CPU; their means and drift.
	PoolYard    []*Run  `json:"pool_yardstick,omitempty"`
	AllYard     []*Run  `json:"all_cpu_yardstick,omitempty"`
	PoolRate    float64 `json:"pool_rate"`
	PoolDrift   float64 `json:"pool_drift"`
	AllRate     float64 `json:"all_cpu_rate"`
	AllDrift    float64 `json:"all_cpu_drift"`
	PlainVsPool float64 `json:"plain_vs_pool"`
	PlainVsAll  float64 `json:"plain_vs_all_cpus"`

	Export      *CmdRun      `json:"export,omitempty"`
	ExportLines int          `json:"export_lines"`
	List        *ListResult  `json:"list,omitempty"`
	Scale       *ScaleResult `json:"scale,omitempty"`
	Size        *SizeResult  `json:"size,omitempty"`
	// ServePeakRSS is usher serve's peak RSS (its hashing process's
	// anonymous memory added) from its start through every measurement.
	ServePeakRSS uint64 `json:"serve_peak_rss_bytes"`
}

// OpsReport is the report of the operators mode. -out writes it as JSON.
type OpsReport struct {
	Mode       string    `json:"mode"`
	Started    time.Time `json:"started"`
	Smoke      bool      `json:"smoke"`
	NumCPU     int       `json:"num_cpu"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	GoVersion  string    `json:"go_version"`
	// The load average (1, 5, 15 minutes) when the run started and ended.
	LoadBefore string   `json:"load_before"`
	LoadAfter  string   `json:"load_after"`
	UsherEnv   []string `json:"usher_env,omitempty"`

	Result *OpsResult `json:"result"`

	Targets    []TargetCheck `json:"targets"`
	ServerLog  LogDigest     `json:"server_log"`
	Failures   []string      `json:"failures,omitempty"`
	Unexpected []string      `json:"unexpected,omitempty"`
}

func newOpsReport(cfg OpsConfig) *OpsReport {
	return &OpsReport{Mode: "operators", Started: time.Now().UTC(), Smoke: cfg.Smoke, NumCPU: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), LoadBefore: loadAverage(), UsherEnv: cfg.UsherEnv,
		Result: &OpsResult{Engine: cfg.Engine, Users: cfg.Users, Plain: cfg.Plain}}
}

// finish derives the target checks; the unexpected answers were noted as
// they came, and the failures join them.
func (r *OpsReport) finish() {
	r.Targets = nil
	check := func(what, value, target string, pass bool) {
		r.Targets = append(r.Targets, TargetCheck{What: what, Value: value, Target: target, Pass: pass})
	}
	res := r.Result
	target := importTargetSQLite
	if res.Engine == "postgres" {
		target = importTargetPostgres
	}
	if m, i := res.Migrate, res.Import; m != nil && i != nil {
		check(fmt.Sprintf("import of %d hashed users (%s)", res.Users, res.Engine),
			fmt.Sprintf("%.0f users/s (migrate %.2fs + import %.2fs; import alone %.0f/s)", res.ImportRate, m.WallS, i.WallS, i.Rate),
			fmt.Sprintf("≥ %d users/s", target), res.ImportRate >= float64(target))
	}
	if p := res.PlainImport; p != nil && res.PoolRate > 0 {
		check(fmt.Sprintf("import of %d plain passwords vs the hashing pool (%d worker(s))", res.Plain, res.PoolWorkers),
			fmt.Sprintf("%s (%.1f vs %.1f hashes/s, yardstick drift %.0f%%); %s × every CPU (%.1f/s)",
				ratioString(res.PlainVsPool), p.Rate, res.PoolRate, 100*res.PoolDrift, ratioString(res.PlainVsAll), res.AllRate),
			fmt.Sprintf("≥ %.2f", plainImportTarget), res.PlainVsPool >= plainImportTarget)
	}
	if sc := res.Scale; sc != nil {
		for _, p := range []*Probe{sc.FirstPage, sc.MiddlePage, sc.LastPage} {
			check("list, "+p.Query+", p99", fmt.Sprintf("%.2f ms (%d requests)", p.P99Ms, p.N), "≤ 5 ms", p.N > 0 && p.P99Ms <= 5)
		}
	}
	if res.ServePeakRSS > 0 {
		check("usher serve peak RSS", fmt.Sprintf("%.1f MiB", mib(res.ServePeakRSS)), "≤ 80 MiB", res.ServePeakRSS <= 80<<20)
	}
	for name, c := range map[string]*CmdRun{"usher users import": res.Import, "usher users export": res.Export} {
		if c != nil && c.PeakRSS > 0 {
			check(name+" peak RSS", fmt.Sprintf("%.1f MiB", mib(c.PeakRSS)), "≤ 80 MiB", c.PeakRSS <= 80<<20)
		}
	}
	if x := res.Export; x != nil && res.Users >= 1000000 {
		check("export of 1M users", fmt.Sprintf("%.1f s", x.WallS), "≤ 30 s", x.WallS <= 30)
	}
	if s := res.Size; s != nil && s.Users > 0 && res.Engine == "sqlite" {
		check("SQLite bytes per user", fmt.Sprintf("%.0f B", s.PerUser), "≤ 300 B", s.PerUser <= 300)
	}
	if x := res.Export; x != nil {
		check("export --with-hashes", fmt.Sprintf("%.0f users/s (%d lines in %.2fs)", x.Rate, res.ExportLines, x.WallS),
			fmt.Sprintf("≥ %d users/s", exportTarget), x.Rate >= exportTarget)
	}
	r.Unexpected = append(r.Unexpected, r.Failures...)
}

func (r *OpsReport) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func cmdLine(tw io.Writer, name string, c *CmdRun) {
	if c == nil {
		return
	}
	rate, db := "-", "-"
	if c.Rate > 0 {
		rate = fmt.Sprintf("%.0f", c.Rate)
	}
	if c.DBCPUS > 0 {
		db = fmt.Sprintf("%.2f", c.DBCPUS)
	}
	fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%s\t%.1f MiB\t%s\t %s\n", name, c.Lines, c.WallS, c.ReportedS, c.CPUS, db, mib(c.PeakRSS), rate, c.Output)
}

func (r *OpsReport) print(w io.Writer) {
	res := r.Result
	mode := ""
	if r.Smoke {
		mode = " (smoke run: the figures say nothing about speed)"
	}
	fmt.Fprintf(w, "\nUsher operators: import, export, list on %s, N=%d%s\n", res.Engine, res.Users, mode)
	fmt.Fprintf(w, "machine: %d CPUs, GOMAXPROCS %d, %s; load average %s at the start, %s at the end\n",
		r.NumCPU, r.GOMAXPROCS, r.GoVersion, r.LoadBefore, r.LoadAfter)
	if len(r.UsherEnv) > 0 {
		fmt.Fprintf(w, "Usher ran with %v added to its environment (-usher-env)\n", r.UsherEnv)
	}
	fmt.Fprintf(w, "import file: %d lines, %.1f MiB, one argon2id hash (m=%d,t=%d,p=%d) on every line\n",
		res.Users, mib(uint64(res.FileBytes)), argonMemory, argonTime, argonThreads)

	fmt.Fprintln(w, "\n== commands (wall: exec to exit; reported: the time usher printed; cpu: the usher process; db cpu: PostgreSQL's processes of the run's database) ==")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "command\tusers\twall s\treported s\tcpu s\tdb cpu s\tpeak RSS\tusers/s\t output")
	cmdLine(tw, "migrate", res.Migrate)
	cmdLine(tw, "import (hashed)", res.Import)
	cmdLine(tw, "import (plain)", res.PlainImport)
	cmdLine(tw, "export --with-hashes", res.Export)
	tw.Flush()
	if res.Import != nil {
		fmt.Fprintf(w, "migrate + import: %.0f users/s\n", res.ImportRate)
	}
	if res.PlainImport != nil && res.PoolRate > 0 {
		fmt.Fprintf(w, "plain passwords: %.1f users/s; argon2id yardstick %.1f hashes/s on %d worker(s) (the pool; drift %.0f%%), %.1f on %d (every CPU; drift %.0f%%)\n",
			res.PlainImport.Rate, res.PoolRate, res.PoolWorkers, 100*res.PoolDrift, res.AllRate, res.CPUs, 100*res.AllDrift)
		fmt.Fprintf(w, "ratio: %s × the pool's rate, %s × every CPU's\n", ratioString(res.PlainVsPool), ratioString(res.PlainVsAll))
	}
	if l := res.List; l != nil {
		fmt.Fprintf(w, "\n== GET /users on usher serve (backend, mTLS, one keep-alive connection) ==\n")
		fmt.Fprintf(w, "walk with limit=%d by cursor: %d users on %d pages in %.2fs; Usher CPU %s per page", listLimit, l.Users, l.Pages, l.WalkS, cpuString(l.UsherCPUPerPageUs))
		if l.DBCPUPerPageUs > 0 {
			fmt.Fprintf(w, ", PostgreSQL CPU %s per page", cpuString(l.DBCPUPerPageUs))
		}
		fmt.Fprintf(w, "\npage latency ms: first %.2f, middle %.2f, last %.2f; p50 %.2f, p99 %.2f, max %.2f\n",
			l.FirstMs, l.MiddleMs, l.LastMs, l.P50Ms, l.P99Ms, l.MaxMs)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "request\tn\tp50 ms\tp99 ms\tmax ms\tanswer")
		for _, p := range []*Probe{l.QCommon, l.QRare, l.Count, l.Find} {
			if p != nil {
				fmt.Fprintf(tw, "GET /users?%s\t%d\t%.2f\t%.2f\t%.2f\t%s\n", p.Query, p.N, p.P50Ms, p.P99Ms, p.MaxMs, p.Answer)
			}
		}
		tw.Flush()
		for _, c := range []*Run{l.ConcPage, l.ConcFind} {
			if c != nil {
				fmt.Fprintf(w, "concurrent %s at %d connections (%.1fs): %.0f req/s, p50 %.2f ms, p99 %.2f ms, Usher CPU %s per request, errors %s\n",
					c.Name, c.Conns, c.Seconds, c.RPS, c.P50Ms, c.P99Ms, cpuString(c.ServerCPUPerReqUs), errorString(c.Errors))
			}
		}
	}
	if sc := res.Scale; sc != nil {
		fmt.Fprintf(w, "\n== reads at %d users (one keep-alive connection; repeated) ==\n", res.Users+res.Plain)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "request\tn\tp50 ms\tp99 ms\tmax ms\tanswer")
		for _, p := range []*Probe{sc.GetByID, sc.FirstPage, sc.MiddlePage, sc.LastPage, sc.Login} {
			if p != nil {
				fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%s\n", p.Query, p.N, p.P50Ms, p.P99Ms, p.MaxMs, p.Answer)
			}
		}
		tw.Flush()
		if c := sc.GetByIDConc; c != nil {
			fmt.Fprintf(w, "concurrent GET /users/{id} at %d connections (%.1fs): %.0f req/s, p50 %.2f ms, p99 %.2f ms, Usher CPU %s per request, errors %s\n",
				c.Conns, c.Seconds, c.RPS, c.P50Ms, c.P99Ms, cpuString(c.ServerCPUPerReqUs), errorString(c.Errors))
		}
		fmt.Fprintf(w, "usher serve's peak RSS (its hashing process's own memory added), start to the end of these: %.1f MiB\n", mib(res.ServePeakRSS))
	}
	if s := res.Size; s != nil && s.Users > 0 {
		fmt.Fprintf(w, "\n== database size (%s) ==\n%d users: %d B, empty %d B: %.0f B per user", s.Method, s.Users, s.Bytes, s.EmptyBytes, s.PerUser)
		if s.TableBytes > 0 {
			fmt.Fprintf(w, "; the users table with its indexes %d B, %.0f B per user", s.TableBytes, s.TablePerUser)
		}
		fmt.Fprintln(w)
		names := slices.Sorted(maps.Keys(s.Objects))
		for _, n := range names {
			if b := s.Objects[n]; b >= 64<<10 {
				fmt.Fprintf(w, "  %-28s %12d B  %6.1f B per user\n", n, b, float64(b)/float64(s.Users))
			}
		}
	}
	writeChecks(w, r.Targets, r.ServerLog, r.Unexpected, "WARN/ERROR lines usher serve logged")
}
