package main

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary be the bare server and the CPU burner too:
// the harness re-executes its own binary with a hidden flag for each.
func TestMain(m *testing.M) {
	runHiddenRole(os.Args[1:])
	os.Exit(m.Run())
}

// TestSmoke runs the whole harness in smoke mode (each scenario and
// yardstick for 1.5 s at 8 connections, a 3 s flood) against a freshly built
// Usher. It fails on any unexpected answer: a status other than the
// scenario's success status (other than 200/503/429 for the flood's
// logins), a transport error, or a phase that could not run. It asserts
// nothing about speed.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("the smoke run builds and starts Usher; skipped with -short")
	}
	var progress strings.Builder
	report, err := run(context.Background(), smokeConfig(), &progress)
	var printed strings.Builder
	report.print(&printed)
	t.Logf("progress:\n%s", progress.String())
	t.Logf("report:\n%s", printed.String())
	if err != nil {
		t.Fatalf("the harness failed: %v", err)
	}
	for _, u := range report.Unexpected {
		t.Errorf("unexpected: %s", u)
	}
	if f := report.Flood; f == nil {
		t.Error("no flood in the report")
	} else if f.HashingGet == nil || f.HashingGet.Requests == 0 || f.FloodVsHashing <= 0 {
		t.Errorf("flood: no GET stream beside argon2id at SCHED_IDLE: %+v (%s)", f.HashingGet, f.HashingFailure)
	}
	for _, l := range report.Levels {
		for _, r := range l.Runs {
			if r.Requests == 0 {
				t.Errorf("conns=%d %s: no request was made", l.Conns, r.Name)
			}
			if sc := scenarioNamed(r.Name); r.Kind == "scenario" && sc != nil && (sc.hash || sc.floor != "") {
				// The CPU ceiling's figures (the report drops a row without them).
				if r.ClientCPUPerReqUs <= 0 || len(r.Ratios) == 0 || r.Ratios[0].CPUPerReqUs <= 0 {
					t.Errorf("conns=%d %s: no CPU figures for the ceiling: generator %.0f µs, ratios %+v", l.Conns, r.Name, r.ClientCPUPerReqUs, r.Ratios)
				}
			}
			if sc := scenarioNamed(r.Name); r.Kind == "scenario" && sc != nil && sc.hash {
				if h := r.Hashing; h == nil || h.Hashes <= 0 || h.MsPerHash <= 0 || h.Busy <= 0 || h.Speed <= 0 {
					t.Errorf("conns=%d %s: no hashing figures from Usher's /metrics: %+v (%s)", l.Conns, r.Name, h, r.HashingFailure)
				}
			}
		}
	}
}

// TestSmokeOperators runs the operators mode on SQLite with a few hundred
// users: migrate, import (hashed and plain passwords), export, the list
// walk, filters, finds and short concurrent runs. It fails on any
// unexpected answer (a count that does not add up, a status other than
// 200, a phase that could not run) and asserts nothing about speed.
func TestSmokeOperators(t *testing.T) {
	if testing.Short() {
		t.Skip("the smoke run builds and starts Usher; skipped with -short")
	}
	var progress strings.Builder
	report, err := runOperators(context.Background(), opsSmokeConfig(), &progress)
	var printed strings.Builder
	report.print(&printed)
	t.Logf("progress:\n%s", progress.String())
	t.Logf("report:\n%s", printed.String())
	if err != nil {
		t.Fatalf("the harness failed: %v", err)
	}
	for _, u := range report.Unexpected {
		t.Errorf("unexpected: %s", u)
	}
	res := report.Result
	if res.Import == nil || res.PlainImport == nil || res.Export == nil || res.List == nil || res.List.ConcPage == nil {
		t.Fatalf("a phase did not run: %+v", res)
	}
	if res.Size == nil || res.Size.PerUser <= 0 || res.PoolRate <= 0 || res.PlainVsPool <= 0 {
		t.Errorf("missing figures: size %+v, pool rate %.1f, plain vs pool %.2f", res.Size, res.PoolRate, res.PlainVsPool)
	}
}
