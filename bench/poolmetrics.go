package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HashingUse is what Usher's hashing pool did during a hash-bound run, from
// the counters in its /metrics read right before and right after the
// measured part. It splits a ratio to the argon2id yardstick in two: how much
// of the time Usher kept its workers hashing (Busy: Usher's queueing), and
// how long one hash took inside Usher against the yardstick (the machine,
// and the garbage collection of Usher's process).
type HashingUse struct {
	Workers   int     `json:"workers"`
	Hashes    float64 `json:"hashes"`      // hashes and verifications finished
	BusyS     float64 `json:"busy_s"`      // time spent hashing, summed over workers
	Busy      float64 `json:"busy"`        // BusyS ÷ (wall time × workers)
	MsPerHash float64 `json:"ms_per_hash"` // BusyS ÷ Hashes, in milliseconds
	// YardstickMsPerHash is one hash's time in the argon2id yardstick runs
	// around the scenario (0 when none ran); Speed is YardstickMsPerHash ÷
	// MsPerHash: how fast argon2id ran inside Usher against the harness.
	YardstickMsPerHash float64 `json:"yardstick_ms_per_hash,omitempty"`
	Speed              float64 `json:"speed,omitempty"`
}

// poolCounters are the hashing pool's figures in one /metrics answer.
type poolCounters struct {
	workers, hashes, seconds float64
}

// parsePoolCounters reads the hashing pool's figures from a Prometheus text
// exposition (README, Operations, names them). All three must be there.
func parsePoolCounters(body []byte) (poolCounters, error) {
	var c poolCounters
	fields := map[string]*float64{
		"usher_password_hash_workers":       &c.workers,
		"usher_password_hashes_total":       &c.hashes,
		"usher_password_hash_seconds_total": &c.seconds,
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		// NAME VALUE [TIMESTAMP]; comments and names with labels never match.
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if dst := fields[f[0]]; dst != nil {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return poolCounters{}, fmt.Errorf("metric %s: %w", f[0], err)
			}
			*dst = v
			delete(fields, f[0])
		}
	}
	for name := range fields {
		return poolCounters{}, fmt.Errorf("metric %s is missing from /metrics", name)
	}
	return c, nil
}

// scrapePool reads the hashing pool's counters from Usher's backend
// listener.
func (e *env) scrapePool() (poolCounters, error) {
	client := newClient(1, e.clientTLS)
	defer client.CloseIdleConnections()
	code, body, err := fetch(client, http.MethodGet, e.backendURL()+"/metrics", nil, nil)
	if err != nil {
		return poolCounters{}, err
	}
	if code != http.StatusOK {
		return poolCounters{}, fmt.Errorf("GET /metrics: status %d", code)
	}
	return parsePoolCounters(body)
}

// hashingUse is what the pool did between two scrapes wall apart.
func hashingUse(before, after poolCounters, wall time.Duration) (*HashingUse, error) {
	u := &HashingUse{Workers: int(after.workers), Hashes: after.hashes - before.hashes, BusyS: after.seconds - before.seconds}
	if u.Hashes <= 0 || u.Workers < 1 || wall <= 0 {
		return nil, fmt.Errorf("the hashing pool finished %.0f hashes on %d workers during the run", u.Hashes, u.Workers)
	}
	u.Busy = u.BusyS / (wall.Seconds() * float64(u.Workers))
	u.MsPerHash = 1000 * u.BusyS / u.Hashes
	return u, nil
}

// setSpeed compares one hash's time inside Usher with the argon2id
// yardstick's, given the yardstick's mean rate around the run and the number
// of goroutines it hashed on.
func (u *HashingUse) setSpeed(yardRPS float64, yardWorkers int) {
	if yardRPS <= 0 || yardWorkers < 1 || u.MsPerHash <= 0 {
		return
	}
	u.YardstickMsPerHash = 1000 * float64(yardWorkers) / yardRPS
	u.Speed = u.YardstickMsPerHash / u.MsPerHash
}
