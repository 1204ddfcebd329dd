package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/crypto/argon2"
)

// The operators mode (-mode operators) measures what an operator runs on a
// large tenant, with the real binary: `usher migrate` and `usher users
// import` of N users with pre-hashed passwords into a fresh database, an
// import of plain passwords next to the argon2id yardstick, `usher users
// export --with-hashes`, then the backend's list (GET /users by cursor, with
// q= and count=true) and find (GET /users?email=) on `usher serve` over
// that database. Each command is timed from exec to exit, with its own CPU
// time and peak RSS (from wait4); on PostgreSQL the CPU of the server
// processes serving the run's database is sampled from /proc as well, so a
// figure can be told apart as Usher's CPU, the database's, or waiting.

// defaultPGURL is the PostgreSQL server the operators mode creates its
// database on (trust authentication).
const defaultPGURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// OpsConfig is one run of the operators mode.
type OpsConfig struct {
	Smoke    bool
	Users    int           // N: users imported with pre-hashed passwords
	Plain    int           // users imported with plain passwords (hashed by the import)
	Engine   string        // "sqlite" or "postgres"
	PGURL    string        // PostgreSQL server to create the run's database on
	Yard     time.Duration // each argon2id yardstick run
	ConcDur  time.Duration // each concurrent list/find run
	Conns    int           // connections of the concurrent runs
	Finds    int           // sequential GET /users?email= samples
	Repo     string
	Keep     bool
	UsherEnv []string
}

func opsFullConfig() OpsConfig {
	return OpsConfig{Users: 100000, Plain: 200, Engine: "sqlite", PGURL: defaultPGURL, Yard: 5 * time.Second,
		ConcDur: 5 * time.Second, Conns: 8, Finds: 300}
}

func opsSmokeConfig() OpsConfig {
	// Hashing in Usher's process, as in the load harness's smoke run
	// (smokeConfig says why).
	return OpsConfig{Smoke: true, Users: 300, Plain: 4, Engine: "sqlite", PGURL: defaultPGURL, Yard: 500 * time.Millisecond,
		ConcDur: time.Second, Conns: 4, Finds: 20, UsherEnv: []string{"USHER_HASH_PRIORITY=normal"}}
}

// Targets of issue 13, in users per second.
const (
	importTargetSQLite   = 20000
	importTargetPostgres = 10000
	exportTarget         = 50000
	// plainImportTarget is the share of the argon2id yardstick on every
	// CPU (the pool has a worker per CPU) an import of plain passwords
	// must reach: the target of every other hash-bound call.
	plainImportTarget = 0.95
	listLimit         = 50
)

// ops is the state of an operators run.
type ops struct {
	cfg    OpsConfig
	e      *env // the harness's environment: work directory, binary, Usher
	rep    *OpsReport
	res    *OpsResult
	dbName string // PostgreSQL: the run's database
	dbURL  string // PostgreSQL: its URL
	secret string // PostgreSQL: the data key given to every command
	emails []string
	// From the list walk: every user's id, and the cursor of every page.
	ids     []string
	cursors []string
}

// runOperators runs the operators mode and returns its report, also when a
// phase failed (the error says which).
func runOperators(ctx context.Context, cfg OpsConfig, out io.Writer) (*OpsReport, error) {
	rep := newOpsReport(cfg)
	o := &ops{cfg: cfg, rep: rep, res: rep.Result,
		e: &env{cfg: Config{Repo: cfg.Repo, Keep: cfg.Keep, UsherEnv: cfg.UsherEnv, Duration: cfg.Yard}, out: out, report: newReport(Config{})}}
	err := o.run(ctx)
	if o.e.usher != nil {
		if serr := o.e.stopUsher(); err == nil {
			err = serr
		}
	}
	if o.dbName != "" {
		if cfg.Keep {
			o.e.logf("kept database %s", o.dbURL)
		} else if derr := o.dropDatabase(); derr != nil && err == nil {
			err = derr
		}
	}
	rep.ServerLog = o.e.report.ServerLog
	if err != nil {
		rep.Failures = append(rep.Failures, err.Error())
	}
	rep.LoadAfter = loadAverage()
	rep.finish()
	if o.e.work != "" {
		if cfg.Keep || len(rep.Unexpected) > 0 {
			o.e.logf("kept %s (Usher's data directory, the files and logs)", o.e.work)
		} else {
			_ = os.RemoveAll(o.e.work)
		}
	}
	return rep, err
}

func (o *ops) unexpected(format string, args ...any) {
	o.rep.Unexpected = append(o.rep.Unexpected, fmt.Sprintf(format, args...))
}

func (o *ops) run(ctx context.Context) error {
	e, cfg := o.e, o.cfg
	if err := e.prepare(ctx, "usher-bench-ops-"); err != nil {
		return err
	}
	work := e.work
	var err error
	if cfg.Engine == "postgres" {
		if err := o.createDatabase(); err != nil {
			return err
		}
	}

	// 1. The files: one real argon2id hash, made once, on every line.
	hash := phcHash(benchPassword)
	main, plain := filepath.Join(work, "users.jsonl"), filepath.Join(work, "plain.jsonl")
	if o.res.FileBytes, err = o.writeImportFile(main, cfg.Users, hash); err != nil {
		return err
	}
	if err := writePlainFile(plain, cfg.Plain); err != nil {
		return err
	}
	e.logf("wrote %d lines (%.1f MiB) with the hash %.40s…", cfg.Users, mib(uint64(o.res.FileBytes)), hash)

	// 2. migrate + import on the fresh database.
	if o.res.Migrate, _, err = o.command(ctx, "migrate", 0, "migrate"); err != nil {
		return err
	}
	if err := o.measureSize(true); err != nil {
		return err
	}
	r, stdout, err := o.command(ctx, "import", cfg.Users, "users", "import", main)
	if err != nil {
		return err
	}
	o.res.Import = r
	o.checkImport("import", stdout, cfg.Users, r)
	if total := o.res.Migrate.WallS + r.WallS; total > 0 {
		o.res.ImportRate = float64(cfg.Users) / total
	}
	e.logf("migrate %.2fs, import %.2fs: %.0f users/s (migrate + import), %.0f users/s (import alone)",
		o.res.Migrate.WallS, r.WallS, o.res.ImportRate, r.Rate)

	// 3. Plain passwords, between two runs of each yardstick.
	if cfg.Plain > 0 {
		if err := o.measurePlain(ctx, plain); err != nil {
			return err
		}
	}

	// 4. Export.
	if err := o.measureExport(ctx, filepath.Join(work, "export.jsonl")); err != nil {
		return err
	}

	// 5. The list and find on `usher serve`.
	if cfg.Engine == "postgres" {
		e.extraArgs = []string{"--db", o.dbURL}
		e.extraEnv = []string{"USHER_SECRET_KEY=" + o.secret}
	}
	if err := e.startUsher(usherDefault); err != nil {
		return err
	}
	serve := beginWindow(e.usher.pid())
	if e.clientTLS, err = clientTLS(devTLS(e.data)); err != nil {
		return err
	}
	if err := o.measureList(); err != nil {
		return err
	}
	if err := o.measureScale(); err != nil {
		return err
	}
	o.checkLogins()
	_, o.res.ServePeakRSS, _ = serve.end()
	e.logf("usher serve's peak RSS (with its hashing process) from start to here: %.1f MiB", mib(o.res.ServePeakRSS))
	if err := e.stopUsher(); err != nil {
		return err
	}
	return o.measureSize(false)
}

// dbArgs are the flags naming the run's database, on every command.
func (o *ops) dbArgs() []string {
	args := []string{"--data", o.e.data}
	if o.dbURL != "" {
		args = append(args, "--db", o.dbURL)
	}
	return args
}

func (o *ops) cmdEnv() []string {
	env := append(cleanEnv(), o.cfg.UsherEnv...)
	if o.secret != "" {
		env = append(env, "USHER_SECRET_KEY="+o.secret)
	}
	return env
}

// CmdRun is one run of an usher command, from exec to exit.
type CmdRun struct {
	Args      string  `json:"args"`                 // after the binary, without --data/--db
	Lines     int     `json:"lines"`                // users it handled
	WallS     float64 `json:"wall_s"`               // exec to exit
	ReportedS float64 `json:"reported_s,omitempty"` // the time the command printed for its own work
	CPUS      float64 `json:"cpu_s"`                // the usher process's user+system time
	PeakRSS   uint64  `json:"peak_rss_bytes"`       // its peak RSS (VmHWM, read every 20 ms)
	// DBCPUS is, on PostgreSQL, the CPU time of the server processes
	// serving the run's database meanwhile (sampled every 100 ms from
	// /proc, so a process that ended loses up to 100 ms).
	DBCPUS float64 `json:"db_cpu_s,omitempty"`
	Rate   float64 `json:"rate,omitempty"` // Lines / WallS
	Output string  `json:"output"`         // its summary line
}

// command runs `usher ARGS --data … [--db …]` to its end, timing it.
func (o *ops) command(ctx context.Context, name string, lines int, args ...string) (*CmdRun, []byte, error) {
	cmd := exec.CommandContext(ctx, o.e.bin, append(slices.Clone(args), o.dbArgs()...)...)
	cmd.Env = o.cmdEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	sampler := startDBCPU(o.dbName)
	t0 := time.Now()
	err := cmd.Start()
	var peak uint64
	if err == nil {
		// The peak RSS is read from /proc while the command runs: wait4's
		// ru_maxrss would be at least the harness's own, which the
		// child's exec records as its high-water mark.
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				if v, err := statusKB(cmd.Process.Pid, "VmHWM"); err == nil {
					peak = max(peak, v)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		err = cmd.Wait()
		close(stop)
		<-done
	}
	wall := time.Since(t0)
	dbCPU := sampler.end()
	_ = os.WriteFile(filepath.Join(o.e.work, name+".log"), append(stdout.Bytes(), stderr.Bytes()...), 0o644)
	if err != nil {
		return nil, stdout.Bytes(), fmt.Errorf("usher %s: %w\n%s%s", strings.Join(args, " "), err, tail(stdout.Bytes()), tail(stderr.Bytes()))
	}
	r := &CmdRun{Args: strings.Join(args, " "), Lines: lines, WallS: wall.Seconds(), DBCPUS: dbCPU.Seconds(), PeakRSS: peak,
		CPUS: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()}
	if lines > 0 && r.WallS > 0 {
		r.Rate = float64(lines) / r.WallS
	}
	for _, l := range strings.Split(stdout.String()+stderr.String(), "\n") {
		if strings.HasPrefix(l, "created ") || strings.HasPrefix(l, "exported ") {
			r.Output = l
			if i := strings.LastIndex(l, " in "); i >= 0 {
				if d, err := time.ParseDuration(l[i+4:]); err == nil {
					r.ReportedS = d.Seconds()
				}
			}
		}
	}
	return r, stdout.Bytes(), nil
}

// tail is the end of a command's output, for an error message.
func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// checkImport checks an import's summary line: every line created.
func (o *ops) checkImport(what string, stdout []byte, want int, r *CmdRun) {
	var created, updated, skipped, refused int
	var took string
	n, _ := fmt.Sscanf(r.Output, "created %d, updated %d, skipped %d, refused %d in %s", &created, &updated, &skipped, &refused, &took)
	if n != 5 || created != want || updated+skipped+refused != 0 {
		o.unexpected("%s: want %d created, nothing else; usher printed %q (%.300s)", what, want, r.Output, stdout)
	}
}

// opsEmail is the i-th imported user's address: one in ten is at
// example.org, which q=example.org selects.
func opsEmail(i int) string {
	domain := "example.com"
	if i%10 == 9 {
		domain = "example.org"
	}
	return fmt.Sprintf("user-%07d@%s", i, domain)
}

func plainEmail(i int) string { return fmt.Sprintf("plain-%d@example.net", i) }

// phcHash hashes pw with argon2id at Usher's parameters into the PHC string
// Usher writes and imports.
func phcHash(pw string) string {
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// writeImportFile writes n users with the hash, and some data, and keeps
// their addresses.
func (o *ops) writeImportFile(path string, n int, hash string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	hashJSON, _ := json.Marshal(hash)
	o.emails = make([]string, n)
	for i := range n {
		o.emails[i] = opsEmail(i)
		fmt.Fprintf(bw, `{"email":%q,"password_hash":%s,"confirmed":%t,"data":{"plan":"pro","seats":%d}}`+"\n",
			o.emails[i], hashJSON, i%2 == 0, i%50+1)
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), f.Close()
}

func writePlainFile(path string, n int) error {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"email":%q,"password":%q}`+"\n", plainEmail(i), benchPassword)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// measurePlain imports plain passwords between two runs of the argon2id
// yardstick on every CPU, in a process of its own. Usher's hashing pool
// has one worker per CPU by default, so the pool's yardstick and the
// machine's are one run.
func (o *ops) measurePlain(ctx context.Context, path string) error {
	all := runtime.NumCPU()
	res := o.res
	res.PoolWorkers, res.CPUs = all, all
	yards := func() {
		a := hashRateAllCPUs(o.cfg.Yard)
		res.PoolYard, res.AllYard = append(res.PoolYard, a), append(res.AllYard, a)
		o.e.logf("argon2id yardstick: %.1f hashes/s on %d CPUs", a.RPS, all)
	}
	yards()
	r, stdout, err := o.command(ctx, "import-plain", o.cfg.Plain, "users", "import", path)
	if err != nil {
		return err
	}
	res.PlainImport = r
	o.checkImport("plain import", stdout, o.cfg.Plain, r)
	yards()
	res.PoolRate, res.PoolDrift = meanDrift(res.PoolYard)
	res.AllRate, res.AllDrift = meanDrift(res.AllYard)
	if res.PoolRate > 0 && res.AllRate > 0 {
		res.PlainVsPool, res.PlainVsAll = r.Rate/res.PoolRate, r.Rate/res.AllRate
	}
	o.e.logf("plain import: %d lines in %.2fs: %.1f users/s = %s × the pool's yardstick, %s × every CPU's",
		o.cfg.Plain, r.WallS, r.Rate, ratioString(res.PlainVsPool), ratioString(res.PlainVsAll))
	return nil
}

// meanDrift is the mean rate of yardstick runs and how far they differ
// (as a share of the mean).
func meanDrift(runs []*Run) (mean, drift float64) {
	if len(runs) == 0 {
		return 0, 0
	}
	lo, hi := runs[0].RPS, runs[0].RPS
	for _, r := range runs {
		mean += r.RPS
		lo, hi = min(lo, r.RPS), max(hi, r.RPS)
	}
	mean /= float64(len(runs))
	if mean > 0 {
		drift = (hi - lo) / mean
	}
	return mean, drift
}

// measureExport exports with hashes and checks the file.
func (o *ops) measureExport(ctx context.Context, path string) error {
	want := o.cfg.Users + o.cfg.Plain
	r, _, err := o.command(ctx, "export", want, "users", "export", "--with-hashes", "-o", path)
	if err != nil {
		return err
	}
	o.res.Export = r
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lines, hashed := 0, 0
	for sc.Scan() {
		lines++
		if bytes.Contains(sc.Bytes(), []byte(`"password_hash":"$argon2id$`)) {
			hashed++
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	o.res.ExportLines = lines
	if lines != want || hashed != want {
		o.unexpected("export: %d lines, %d with an argon2id hash; want %d", lines, hashed, want)
	}
	o.e.logf("export: %d lines in %.2fs: %.0f users/s", lines, r.WallS, r.Rate)
	return nil
}

// listPage is the part of a GET /users answer the harness reads.
type listPage struct {
	Users []struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"users"`
	NextCursor *string `json:"next_cursor"`
	Total      *int    `json:"total"`
}

// Probe is a repeated request: its latencies and what it answered.
type Probe struct {
	Query  string  `json:"query"`
	N      int     `json:"n"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	Answer string  `json:"answer"`
}

// ListResult is the list and find on `usher serve`.
type ListResult struct {
	Users    int     `json:"users"` // users the walk saw
	Pages    int     `json:"pages"`
	WalkS    float64 `json:"walk_s"`
	FirstMs  float64 `json:"first_page_ms"`
	MiddleMs float64 `json:"middle_page_ms"`
	LastMs   float64 `json:"last_page_ms"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	// Usher's CPU time per page during the walk, and on PostgreSQL the
	// database's.
	UsherCPUPerPageUs float64 `json:"usher_cpu_us_per_page"`
	DBCPUPerPageUs    float64 `json:"db_cpu_us_per_page,omitempty"`
	QCommon           *Probe  `json:"q_common"` // a q= matching one user in ten: first page
	QRare             *Probe  `json:"q_rare"`   // a q= matching one user: the filter reads every user
	Count             *Probe  `json:"count"`    // count=true: first page and the total
	Find              *Probe  `json:"find"`     // GET /users?email= on random users
	// Concurrent runs (vegeta, max-rate mode): random pages by cursor,
	// and finds of random addresses.
	ConcPage *Run `json:"concurrent_pages,omitempty"`
	ConcFind *Run `json:"concurrent_finds,omitempty"`
}

func quantiles(d []time.Duration) (p50, p99, maxMs float64) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.999999) - 1
		return ms(s[max(0, min(i, len(s)-1))])
	}
	return at(0.50), at(0.99), ms(s[len(s)-1])
}

// measureList walks every page, then the filters, finds and the
// concurrent runs, over one keep-alive connection (the concurrent runs
// over their own).
func (o *ops) measureList() error {
	e := o.e
	client := newClient(1, e.clientTLS)
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	base := e.backendURL()
	// The TLS handshake happens here, not in the first page.
	if code, b, err := fetch(client, http.MethodGet, base+"/readyz", nil, nil); err != nil || code != http.StatusOK {
		return fmt.Errorf("GET /readyz: %d %.200s %v", code, b, err)
	}
	want := o.cfg.Users + o.cfg.Plain
	res := &ListResult{}
	o.res.List = res
	get := func(u string) (listPage, time.Duration, error) {
		t0 := time.Now()
		code, body, err := fetch(client, http.MethodGet, u, nil, nil)
		d := time.Since(t0)
		var p listPage
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("GET %s: %d %.300s", u, code, body)
		}
		if err == nil {
			err = json.Unmarshal(body, &p)
		}
		return p, d, err
	}

	// The walk.
	seen := make(map[string]struct{}, want)
	var lat []time.Duration
	cursors := []string{""}
	w, db := beginWindow(e.usher.pid()), startDBCPU(o.dbName)
	t0 := time.Now()
	for cursor := ""; ; {
		u := fmt.Sprintf("%s/users?limit=%d", base, listLimit)
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		p, d, err := get(u)
		if err != nil {
			o.unexpected("list walk, page %d: %v", len(lat)+1, err)
			break
		}
		lat = append(lat, d)
		for _, us := range p.Users {
			seen[us.ID] = struct{}{}
			o.ids = append(o.ids, us.ID)
		}
		res.Users += len(p.Users)
		if p.NextCursor == nil || *p.NextCursor == "" {
			break
		}
		if len(p.Users) != listLimit {
			o.unexpected("list walk: page %d holds %d users and has a next cursor", len(lat), len(p.Users))
		}
		if len(lat) > want/listLimit+10 {
			o.unexpected("list walk: more than %d pages for %d users", len(lat), want)
			break
		}
		cursor = *p.NextCursor
		cursors = append(cursors, cursor)
	}
	res.WalkS = time.Since(t0).Seconds()
	o.cursors = cursors
	cpu, _, _ := w.end()
	dbCPU := db.end()
	res.Pages = len(lat)
	if res.Users != want || len(seen) != want {
		o.unexpected("list walk: %d users on %d pages (%d distinct ids); want %d", res.Users, res.Pages, len(seen), want)
	}
	if len(lat) > 0 {
		res.FirstMs, res.MiddleMs, res.LastMs = ms(lat[0]), ms(lat[len(lat)/2]), ms(lat[len(lat)-1])
		res.P50Ms, res.P99Ms, res.MaxMs = quantiles(lat)
		res.UsherCPUPerPageUs = float64(cpu.Microseconds()) / float64(len(lat))
		res.DBCPUPerPageUs = float64(dbCPU.Microseconds()) / float64(len(lat))
	}
	e.logf("list walk: %d users on %d pages in %.2fs; page p50 %.2f ms, p99 %.2f ms (first %.2f, middle %.2f, last %.2f)",
		res.Users, res.Pages, res.WalkS, res.P50Ms, res.P99Ms, res.FirstMs, res.MiddleMs, res.LastMs)

	// The filters: each request repeated, latencies over the repetitions.
	probe := func(query string, reps int, check func(listPage) (string, error)) *Probe {
		pr := &Probe{Query: query}
		var d []time.Duration
		for range reps {
			p, t, err := get(base + "/users?" + query)
			if err == nil {
				pr.Answer, err = check(p)
			}
			if err != nil {
				o.unexpected("GET /users?%s: %v", query, err)
				break
			}
			d = append(d, t)
		}
		pr.N = len(d)
		pr.P50Ms, pr.P99Ms, pr.MaxMs = quantiles(d)
		return pr
	}
	orgs := 0 // users at example.org
	for i := range o.cfg.Users {
		if i%10 == 9 {
			orgs++
		}
	}
	res.QCommon = probe(fmt.Sprintf("limit=%d&q=example.org", listLimit), 20, func(p listPage) (string, error) {
		for _, us := range p.Users {
			if !strings.Contains(us.Email, "example.org") {
				return "", fmt.Errorf("answered %s", us.Email)
			}
		}
		if len(p.Users) != min(listLimit, orgs) {
			return "", fmt.Errorf("%d users, want %d", len(p.Users), min(listLimit, orgs))
		}
		return fmt.Sprintf("%d users of %d matching", len(p.Users), orgs), nil
	})
	rare := fmt.Sprintf("user-%07d@", o.cfg.Users/2)
	res.QRare = probe(fmt.Sprintf("limit=%d&q=%s", listLimit, url.QueryEscape(rare)), 5, func(p listPage) (string, error) {
		if len(p.Users) != 1 || !strings.HasPrefix(p.Users[0].Email, rare) {
			return "", fmt.Errorf("%d users, want the one %s…", len(p.Users), rare)
		}
		return "1 user of 1 matching", nil
	})
	res.Count = probe(fmt.Sprintf("limit=%d&count=true", listLimit), 5, func(p listPage) (string, error) {
		if p.Total == nil || *p.Total != want || len(p.Users) != min(listLimit, want) {
			return "", fmt.Errorf("total %v, %d users; want total %d", p.Total, len(p.Users), want)
		}
		return fmt.Sprintf("total %d", *p.Total), nil
	})

	// Finds of random users, sequential.
	rnd := mrand.New(mrand.NewPCG(13, 13))
	var fl []time.Duration
	for range o.cfg.Finds {
		email := o.emails[rnd.IntN(len(o.emails))]
		t1 := time.Now()
		code, body, err := fetch(client, http.MethodGet, base+"/users?email="+url.QueryEscape(email), nil, nil)
		d := time.Since(t1)
		if err != nil || code != http.StatusOK || !bytes.Contains(body, []byte(`"email":"`+email+`"`)) {
			o.unexpected("GET /users?email=%s: %d %.200s %v", email, code, body, err)
			break
		}
		fl = append(fl, d)
	}
	res.Find = &Probe{Query: "email=<a random user's address>", N: len(fl), Answer: "200, the user"}
	res.Find.P50Ms, res.Find.P99Ms, res.Find.MaxMs = quantiles(fl)
	e.logf("q=example.org p50 %.2f ms; rare q p50 %.2f ms; count=true p50 %.2f ms; find p50 %.2f ms, p99 %.2f ms",
		res.QCommon.P50Ms, res.QRare.P50Ms, res.Count.P50Ms, res.Find.P50Ms, res.Find.P99Ms)

	// Concurrent: random pages and random finds.
	if o.cfg.ConcDur > 0 && o.cfg.Conns > 0 {
		spec := func(name string, tr vegeta.Targeter) attackSpec {
			return attackSpec{name: name, conns: o.cfg.Conns, capped: true, dur: o.cfg.ConcDur,
				warmup: min(time.Second, o.cfg.ConcDur/5), tls: e.clientTLS, target: tr}
		}
		var mu sync.Mutex
		pick := func(n int) int { mu.Lock(); defer mu.Unlock(); return rnd.IntN(n) }
		pages := func(t *vegeta.Target) error {
			c := cursors[pick(len(cursors))]
			t.Method, t.URL = http.MethodGet, fmt.Sprintf("%s/users?limit=%d", base, listLimit)
			if c != "" {
				t.URL += "&cursor=" + url.QueryEscape(c)
			}
			return nil
		}
		finds := func(t *vegeta.Target) error {
			t.Method, t.URL = http.MethodGet, base+"/users?email="+url.QueryEscape(o.emails[pick(len(o.emails))])
			return nil
		}
		res.ConcPage = runFixed(spec("list-page", pages), "scenario", e.usher.pid(), http.StatusOK)
		res.ConcFind = runFixed(spec("find-email", finds), "scenario", e.usher.pid(), http.StatusOK)
		for _, r := range []*Run{res.ConcPage, res.ConcFind} {
			if r.errorCount() > 0 || r.OK == 0 {
				o.unexpected("concurrent %s: %d answered 200, others %s %v", r.Name, r.OK, errorString(r.Errors), r.ErrorSamples)
			}
			e.logf("concurrent %s at %d connections: %.0f req/s, p50 %.2f ms, p99 %.2f ms", r.Name, r.Conns, r.RPS, r.P50Ms, r.P99Ms)
		}
	}
	return nil
}

// checkLogins signs in as an imported user of each kind: the imported
// hash and the one the import made must both verify.
func (o *ops) checkLogins() {
	client := newClient(1, nil)
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	emails := []string{o.emails[len(o.emails)-1]}
	if o.cfg.Plain > 0 {
		emails = append(emails, plainEmail(0))
	}
	for _, email := range emails {
		body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, email, benchPassword)
		code, b, err := retryBusy(client, http.MethodPost, o.e.publicURL()+"/login", o.e.publicHeader(), body)
		if err != nil || code != http.StatusOK {
			o.unexpected("login as the imported %s: %d %.200s %v", email, code, b, err)
		}
	}
}

// SizeResult is the database's size per user.
type SizeResult struct {
	Method       string  `json:"method"`
	EmptyBytes   int64   `json:"empty_bytes"` // after migrate
	Bytes        int64   `json:"bytes"`       // after the imports and the list
	Users        int     `json:"users"`
	PerUser      float64 `json:"bytes_per_user"`              // (Bytes - EmptyBytes) / Users
	TableBytes   int64   `json:"users_table_bytes,omitempty"` // PostgreSQL: the users table with its indexes and TOAST
	TablePerUser float64 `json:"users_table_bytes_per_user,omitempty"`
	// Objects is SQLite's bytes per table and index (dbstat on the
	// compacted copy): where a user's bytes go.
	Objects map[string]int64 `json:"objects,omitempty"`
}

// measureSize measures the database: empty (right after migrate) or full.
func (o *ops) measureSize(empty bool) error {
	s := o.res.Size
	if s == nil {
		s = &SizeResult{}
		o.res.Size = s
	}
	var size int64
	if o.dbName == "" {
		_, compact, method, err := o.e.compactSize()
		if err != nil {
			return err
		}
		size, s.Method = compact, method
		if !empty {
			s.Objects = o.e.dbObjects
		}
	} else {
		out, err := psql(o.dbURL, "SELECT pg_database_size(current_database()), pg_total_relation_size('users')")
		if err != nil {
			return err
		}
		db, table, ok := strings.Cut(strings.TrimSpace(out), "|")
		n1, err1 := strconv.ParseInt(db, 10, 64)
		n2, err2 := strconv.ParseInt(table, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("psql: sizes: unexpected answer %q", out)
		}
		size, s.Method = n1, "pg_database_size (the users table: pg_total_relation_size)"
		if !empty {
			s.TableBytes = n2
		}
	}
	if empty {
		s.EmptyBytes = size
		return nil
	}
	s.Bytes, s.Users = size, o.cfg.Users+o.cfg.Plain
	if s.Users > 0 {
		s.PerUser = float64(s.Bytes-s.EmptyBytes) / float64(s.Users)
		s.TablePerUser = float64(s.TableBytes) / float64(s.Users)
	}
	return nil
}

// psql runs one statement with the psql command and returns its unaligned
// output.
func psql(dsn, sql string) (string, error) {
	cmd := exec.Command("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql %q: %w: %s", sql, err, out)
	}
	return string(out), nil
}

// createDatabase creates the run's PostgreSQL database and its data key.
func (o *ops) createDatabase() error {
	if _, err := exec.LookPath("psql"); err != nil {
		return errors.New("-engine postgres needs the psql command (to create and drop the run's database)")
	}
	u, err := url.Parse(o.cfg.PGURL)
	if err != nil {
		return fmt.Errorf("-pg: %w", err)
	}
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	name := "usher_bench_" + hex.EncodeToString(rnd)
	if _, err := psql(o.cfg.PGURL, "CREATE DATABASE "+name); err != nil {
		return err
	}
	o.dbName = name
	u.Path = "/" + name
	o.dbURL = u.String()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	o.secret = base64.StdEncoding.EncodeToString(key)
	o.e.logf("created database %s", name)
	return nil
}

func (o *ops) dropDatabase() error {
	_, err := psql(o.cfg.PGURL, "DROP DATABASE IF EXISTS "+o.dbName+" WITH (FORCE)")
	if err == nil {
		o.e.logf("dropped database %s", o.dbName)
	}
	return err
}

// dbCPUSampler sums the CPU time of the PostgreSQL server processes serving
// one database (their title names it), polling /proc: a process that ends
// loses the time since the last poll.
type dbCPUSampler struct {
	db         string
	base, last map[int]time.Duration
	stop, done chan struct{}
}

func startDBCPU(db string) *dbCPUSampler {
	if db == "" {
		return nil
	}
	s := &dbCPUSampler{db: db, base: map[int]time.Duration{}, last: map[int]time.Duration{},
		stop: make(chan struct{}), done: make(chan struct{})}
	s.sample(s.base)
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample(s.last)
			}
		}
	}()
	return s
}

func (s *dbCPUSampler) sample(into map[int]time.Duration) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	mark := []byte(" " + s.db + " ")
	for _, en := range ents {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		cl, err := os.ReadFile("/proc/" + en.Name() + "/cmdline")
		if err != nil || !bytes.HasPrefix(cl, []byte("postgres: ")) {
			continue
		}
		// "postgres: 15/main: USER DB 127.0.0.1(PORT) STATE", or
		// "…: autovacuum worker DB", padded with NULs.
		if cl = append(bytes.ReplaceAll(cl, []byte{0}, []byte{' '}), ' '); !bytes.Contains(cl, mark) {
			continue
		}
		if c, err := cpuTime(pid); err == nil {
			into[pid] = c
		}
	}
}

// end returns the CPU time used since start (0 on a nil sampler).
func (s *dbCPUSampler) end() time.Duration {
	if s == nil {
		return 0
	}
	close(s.stop)
	<-s.done
	s.sample(s.last)
	var sum time.Duration
	for pid, c := range s.last {
		sum += c - s.base[pid]
	}
	return sum
}

// loadAverage is /proc/loadavg's first three fields.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
