// Command bench is Usher's load harness. It builds Usher, starts a real
// `usher serve` on a temporary data directory, seeds users, and runs each
// scenario for a fixed duration at fixed concurrency with vegeta, next to
// two yardsticks measured on the same machine in the same run: the raw
// argon2id rate at Usher's parameters (the limit of the calls that hash a
// password) and a bare net/http handler (the limit of everything else).
// Then a login flood (a backend GET stream alone, beside a process spinning
// on one CPU, beside the argon2id yardstick at SCHED_IDLE started with chrt
// from util-linux, and during the flood), start-to-ready time, memory and
// database size.
// Figures are printed next to their targets; a miss is never a failure.
//
//	cd bench && go run . -out report.json           # full run (about 15 minutes)
//	cd bench && go run . -smoke                     # a short run of everything
//	cd bench && go test -count=1 ./...              # the smoke run as a test (CI)
//	cd bench && go run . -mode operators -users 100000 -engine sqlite   # import, export, list (about 1 minute)
//
// Flags:
//
//	-smoke            short runs (1.5 s each, 8 connections, 3 s flood, 40 users); explicit flags still win
//	-duration 10s     length of each scenario and yardstick run
//	-conns 8,16,32    concurrency levels (connections = workers)
//	-rate 0           0: max-rate mode; N: constant-rate mode at N requests/s per run
//	                  (at most -conns connections; the argon2id yardstick ignores it)
//	-scenarios a,b    run only these scenarios (names in the report); empty: all
//	-flood 20s        length of the login flood (0: skip it)
//	-flood-get-rate   backend GETs per second alongside the flood (default 100)
//	-users 1000       users seeded, and the N of bytes per user
//	-out FILE         also write the report as JSON
//	-repo DIR         the Usher repository (default: found above the working directory)
//	-no-log-requests  run Usher with its request log off, for a comparison (default: on, as shipped,
//	                  to a pipe the harness reads)
//	-keep             keep the temporary directory (Usher's data and logs; always kept after an unexpected answer)
//	-mode load        load: the scenarios above; operators: see operators.go (it reads -users, default
//	                  100000, smoke 300; -duration, each yardstick and concurrent run, default 5s; the first
//	                  of -conns, default 8; -smoke, -out, -repo, -keep, -usher-env; and these:)
//	-engine sqlite    operators mode: sqlite or postgres
//	-pg URL           operators mode: the PostgreSQL server on which the run's database is created and dropped
//	                  (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable)
//	-plain 200        operators mode: users imported with plain passwords (smoke 4)
//
// The harness is a black box: it builds ./cmd/usher as `make build` does,
// `CGO_ENABLED=0 go build` (in the repository root, the parent of bench/),
// and talks HTTP; it imports nothing of Usher's. Usher runs with production hashing and with the limits that
// would refuse a load test turned off (see usherArgs). Every address is
// 127.0.0.1:0; the bound ones come from the JSON "listening" log lines.
//
// How: scenarios run in vegeta's max-rate mode with as many workers as
// connections (HTTP/1.1 keep-alive, so -conns is the number of requests in
// flight), after a short unmeasured warm-up; the flood uses constant-rate
// mode. Each scenario is run between two runs of each yardstick it is
// compared with, so a drift of the machine hits both sides of its ratio.
// The bare server is this binary re-executed with a hidden flag, serving a
// plain listener and one with Usher's mutual-TLS setup. Server CPU per
// request is the utime+stime delta of /proc/PID/stat over the requests;
// peak RSS is VmHWM after writing 5 to /proc/PID/clear_refs at the start of
// the phase.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	runHiddenRole(os.Args[1:])
	os.Exit(cli(os.Args[1:]))
}

func cli(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	smoke := fs.Bool("smoke", false, "short runs of everything (CI's smoke mode)")
	duration := fs.Duration("duration", 0, "length of each scenario and yardstick run (default 10s, smoke 1.5s)")
	conns := fs.String("conns", "", "comma-separated concurrency levels (default 8,16,32, smoke 8)")
	rate := fs.Int("rate", 0, "0: max-rate mode (each connection sends as soon as answered); N: constant-rate mode, N requests/s per run over at most -conns connections")
	only := fs.String("scenarios", "", "comma-separated scenarios to run (default all but the login-floor ones): "+scenarioNames())
	flood := fs.Duration("flood", -1, "length of the login flood, 0 to skip (default 20s, smoke 3s)")
	floodGetRate := fs.Int("flood-get-rate", 0, "backend GETs per second during the flood (default 100, smoke 50)")
	users := fs.Int("users", 0, "users to seed (default 1000, smoke 40)")
	out := fs.String("out", "", "write the report as JSON to this file")
	repo := fs.String("repo", "", "Usher repository root (default: found above the working directory)")
	keep := fs.Bool("keep", false, "keep the temporary directory")
	usherEnv := fs.String("usher-env", "", "space-separated NAME=VALUE pairs added to Usher's environment only, to try a runtime setting (e.g. GOGC=200)")
	mode := fs.String("mode", "load", "load: the load harness; operators: import, export, list and find on a large tenant")
	engine := fs.String("engine", "sqlite", "operators mode: sqlite or postgres")
	pg := fs.String("pg", defaultPGURL, "operators mode: the PostgreSQL server on which to create (and drop) the run's database")
	noLog := fs.Bool("no-log-requests", false, "run Usher with its request log off (a comparison; the default run uses Usher's defaults, log on)")
	plain := fs.Int("plain", -1, "operators mode: users imported with plain passwords (default 200, smoke 4)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var env []string
	for _, kv := range strings.Fields(*usherEnv) {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
			fmt.Fprintf(os.Stderr, "bench: -usher-env: %q is not NAME=VALUE\n", kv)
			return 2
		}
		env = append(env, kv)
	}
	switch *mode {
	case "load":
	case "operators":
		cfg := opsFullConfig()
		if *smoke {
			cfg = opsSmokeConfig()
		}
		if *engine != "sqlite" && *engine != "postgres" {
			fmt.Fprintln(os.Stderr, "bench: -engine: sqlite or postgres")
			return 2
		}
		cfg.Engine, cfg.PGURL = *engine, *pg
		if *users > 0 {
			cfg.Users = *users
		}
		if *plain >= 0 {
			cfg.Plain = *plain
		}
		if *duration > 0 {
			cfg.Yard, cfg.ConcDur = *duration, *duration
		}
		if *conns != "" {
			levels, err := parseConns(*conns)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				return 2
			}
			cfg.Conns = levels[0]
		}
		cfg.Repo, cfg.Keep = *repo, *keep
		if *usherEnv != "" {
			cfg.UsherEnv = env
		}
		return runOperatorsCLI(cfg, *out)
	default:
		fmt.Fprintf(os.Stderr, "bench: -mode: load or operators, not %q\n", *mode)
		return 2
	}
	cfg := fullConfig()
	if *smoke {
		cfg = smokeConfig()
	}
	if *duration > 0 {
		cfg.Duration = *duration
	}
	if *conns != "" {
		levels, err := parseConns(*conns)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
		cfg.Conns = levels
	}
	if *rate < 0 {
		fmt.Fprintln(os.Stderr, "bench: -rate must not be negative")
		return 2
	}
	cfg.Rate = *rate
	if *only != "" {
		cfg.Scenarios = strings.Split(*only, ",")
		for _, name := range cfg.Scenarios {
			if scenarioNamed(name) == nil {
				fmt.Fprintf(os.Stderr, "bench: unknown scenario %q (known: %s)\n", name, scenarioNames())
				return 2
			}
		}
	}
	if *flood >= 0 {
		cfg.Flood = *flood
	}
	if *floodGetRate > 0 {
		cfg.FloodGetRate = *floodGetRate
	}
	if *users > 0 {
		cfg.Users = *users
		cfg.Tokens = min(cfg.Tokens, cfg.Users)
	}
	cfg.Repo, cfg.Keep, cfg.NoLog = *repo, *keep, *noLog
	if *usherEnv != "" {
		cfg.UsherEnv = env
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, cfg, os.Stderr)
	report.print(os.Stdout)
	if *out != "" {
		if werr := report.writeJSON(*out); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

// runOperatorsCLI runs the operators mode, prints its report and writes
// it to out when set.
func runOperatorsCLI(cfg OpsConfig, out string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	report, err := runOperators(ctx, cfg, os.Stderr)
	report.print(os.Stdout)
	if out != "" {
		if werr := report.writeJSON(out); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func parseConns(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, errors.New("-conns: want positive integers separated by commas, got " + strconv.Quote(s))
		}
		out = append(out, n)
	}
	return out, nil
}

func scenarioNames() string {
	var names []string
	for _, s := range allScenarios() {
		names = append(names, s.name)
	}
	return strings.Join(names, ",")
}
