package main

import (
	"math"
	"testing"
)

// TestComputeRatios checks that a scenario is compared with the mean of the
// yardstick runs that bracket it, and that the drift between those two runs
// is reported with it.
func TestComputeRatios(t *testing.T) {
	sc := &scenario{name: "login", yards: []yardTarget{{yardArgon2, 0.97}}}
	l := &Level{Conns: 8, Runs: []*Run{
		{Name: yardArgon2, Kind: "yardstick", RPS: 30},
		{Name: yardArgon2, Kind: "yardstick", RPS: 20},
		{Name: "login", Kind: "scenario", RPS: 19},
		{Name: yardArgon2, Kind: "yardstick", RPS: 22},
		{Name: "login", Kind: "scenario", RPS: 21},
	}}
	l.computeRatios([]*scenario{sc})

	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	got := l.Runs[2].Ratios
	if len(got) != 1 {
		t.Fatalf("bracketed scenario: got %d ratios, want 1", len(got))
	}
	if r := got[0]; r.Yardstick != yardArgon2 || !near(r.RPS, 21) || !near(r.Ratio, 19.0/21) || !near(r.Drift, 2.0/21) || !r.Bracketed || r.Target != 0.97 {
		t.Errorf("bracketed scenario: got %+v, want yardstick 21 req/s, ratio %.4f, drift %.4f, target 0.97", r, 19.0/21, 2.0/21)
	}
	// A scenario with a yardstick on one side only is compared with that
	// run, and has no drift to report.
	got = l.Runs[4].Ratios
	if len(got) != 1 {
		t.Fatalf("one-sided scenario: got %d ratios, want 1", len(got))
	}
	if r := got[0]; !near(r.RPS, 22) || !near(r.Ratio, 21.0/22) || r.Bracketed || r.Drift != 0 {
		t.Errorf("one-sided scenario: got %+v, want yardstick 22 req/s, ratio %.4f, not bracketed", r, 21.0/22)
	}
	if got := driftString(l.Runs[4].Ratios[0]); got != "n/a" {
		t.Errorf("one-sided scenario's drift prints %q, want n/a", got)
	}
	if got := driftString(l.Runs[2].Ratios[0]); got != "10%" {
		t.Errorf("bracketed scenario's drift prints %q, want 10%%", got)
	}
	for _, i := range []int{0, 1, 3} {
		if len(l.Runs[i].Ratios) != 0 {
			t.Errorf("yardstick run %d got ratios %+v, want none", i, l.Runs[i].Ratios)
		}
	}
}

// TestRatioString checks that a printed ratio never looks like a met target
// when it is not.
func TestRatioString(t *testing.T) {
	for _, tt := range []struct {
		r    float64
		want string
	}{{0.9667, "0.96"}, {0.97, "0.97"}, {0.9749, "0.97"}, {0.57, "0.57"}, {0.29, "0.29"}, {1.06, "1.06"}, {0.5, "0.50"}} {
		if got := ratioString(tt.r); got != tt.want {
			t.Errorf("ratioString(%v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}
