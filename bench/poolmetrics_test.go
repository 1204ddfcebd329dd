package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

// An excerpt of Usher's /metrics, with the pool's figures among others.
const sampleMetrics = `# HELP usher_password_hash_workers Password hashing workers.
# TYPE usher_password_hash_workers gauge
usher_password_hash_workers 1
# HELP usher_password_hashes_total Password hashes and verifications finished.
# TYPE usher_password_hashes_total counter
usher_password_hashes_total 785
usher_password_hash_refused_total 0
# TYPE usher_password_hash_seconds_total counter
usher_password_hash_seconds_total 26.688019728
usher_http_requests_total{surface="public",route="POST /login",code="200"} 12
go_gc_duration_seconds{quantile="0.5"} 0.000123
`

func TestParsePoolCounters(t *testing.T) {
	got, err := parsePoolCounters([]byte(sampleMetrics))
	if err != nil {
		t.Fatal(err)
	}
	if got != (poolCounters{workers: 1, hashes: 785, seconds: 26.688019728}) {
		t.Errorf("got %+v, want workers 1, hashes 785, seconds 26.688019728", got)
	}
	// A name that only starts with usher_password_hash_seconds_total is
	// another metric: the counter is then missing.
	missing := strings.ReplaceAll(sampleMetrics, "usher_password_hash_seconds_total 26", "usher_password_hash_seconds_total_x 26")
	if _, err := parsePoolCounters([]byte(missing)); err == nil || !strings.Contains(err.Error(), "usher_password_hash_seconds_total") {
		t.Errorf("a missing counter: err = %v, want one naming usher_password_hash_seconds_total", err)
	}
	// A timestamp after the value is allowed.
	stamped := strings.ReplaceAll(sampleMetrics, "usher_password_hashes_total 785", "usher_password_hashes_total 785 1796169116905")
	if got, err := parsePoolCounters([]byte(stamped)); err != nil || got.hashes != 785 {
		t.Errorf("with a timestamp: got %+v, %v; want 785 hashes", got, err)
	}
	bad := strings.ReplaceAll(sampleMetrics, "usher_password_hashes_total 785", "usher_password_hashes_total many")
	if _, err := parsePoolCounters([]byte(bad)); err == nil {
		t.Error("a value that is not a number: no error")
	}
}

func TestHashingUse(t *testing.T) {
	before := poolCounters{workers: 1, hashes: 216, seconds: 6.7}
	after := poolCounters{workers: 1, hashes: 785, seconds: 26.7}
	u, err := hashingUse(before, after, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if u.Workers != 1 || !near(u.Hashes, 569) || !near(u.BusyS, 20) || !near(u.Busy, 1) || !near(u.MsPerHash, 20000.0/569) {
		t.Errorf("got %+v, want 569 hashes, 20 s busy of 20 s on one worker, %.2f ms per hash", u, 20000.0/569)
	}
	// Yardstick at 30 hashes/s on one worker: 33.3 ms per hash.
	u.setSpeed(30, 1)
	if !near(u.YardstickMsPerHash, 1000.0/30) || !near(u.Speed, (1000.0/30)/(20000.0/569)) {
		t.Errorf("setSpeed(30): got yardstick %.3f ms, speed %.4f", u.YardstickMsPerHash, u.Speed)
	}
	// Two workers, each busy half the time.
	two, err := hashingUse(poolCounters{workers: 2}, poolCounters{workers: 2, hashes: 10, seconds: 5}, 5*time.Second)
	if err != nil || !near(two.Busy, 0.5) {
		t.Errorf("two workers: got %+v, %v; want busy 0.5", two, err)
	}
	// Two yardstick goroutines at 60 hashes/s: 33.3 ms per hash each.
	u.setSpeed(60, 2)
	if !near(u.YardstickMsPerHash, 1000.0/30) {
		t.Errorf("setSpeed(60, 2): got yardstick %.3f ms per hash, want 33.333", u.YardstickMsPerHash)
	}
	if _, err := hashingUse(after, after, 10*time.Second); err == nil {
		t.Error("no hash during the run: no error")
	}
}
