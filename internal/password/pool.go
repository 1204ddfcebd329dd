package password

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrBusy is returned when hashing capacity is exhausted: the queue is full,
// or the wait for a worker would pass its limit.
var ErrBusy = errors.New("password hashing capacity exhausted")

// Pool bounds concurrent hashing. At most Workers hashes run at once, at most
// Queue callers wait for a slot, and none waits longer than MaxWait. Memory
// therefore stays bounded under a flood (each argon2id run holds its memory
// cost), and excess requests are refused at once instead of piling up: a
// caller whose expected wait (the callers that came through the queue ahead
// of it, those already running included, times the recent hash duration,
// divided by Workers) passes MaxWait is refused without waiting at all.
type Pool struct {
	workers chan struct{}
	admit   chan struct{} // workers + queue tickets
	n       int64
	maxWait time.Duration
	ahead   atomic.Int64 // callers that came through the queue and have not returned: the refusal estimate
	avg     atomic.Int64 // moving average of one run, in nanoseconds

	queued  atomic.Int64  // callers waiting for a worker now
	runs    atomic.Uint64 // runs finished
	refused atomic.Uint64 // callers answered ErrBusy
	busy    atomic.Int64  // nanoseconds spent running fn, summed over workers
	waited  atomic.Int64  // nanoseconds callers that got a worker waited for it
}

// PoolStats is what a Pool has done since it was made: for metrics, so an
// operator can see how close hashing is to its capacity.
type PoolStats struct {
	Workers int           // the most runs at once
	Running int64         // runs in progress now
	Queued  int64         // callers waiting for a worker now
	Runs    uint64        // runs finished
	Refused uint64        // callers answered ErrBusy
	Busy    time.Duration // time spent running, summed over workers
	Waited  time.Duration // time the callers that got a worker waited for it
}

// Stats returns the pool's counters. They are read one by one, so under
// load they may be a run apart from each other.
func (p *Pool) Stats() PoolStats {
	return PoolStats{
		Workers: int(p.n),
		Running: int64(len(p.workers)), // a run holds a worker slot from start to end
		Queued:  p.queued.Load(),
		Runs:    p.runs.Load(),
		Refused: p.refused.Load(),
		Busy:    time.Duration(p.busy.Load()),
		Waited:  time.Duration(p.waited.Load()),
	}
}

// NewPool returns a pool with the given number of workers, queue length and
// longest wait.
func NewPool(workers, queue int, maxWait time.Duration) *Pool {
	if workers < 1 {
		workers = 1
	}
	if queue < 0 {
		queue = 0
	}
	return &Pool{
		workers: make(chan struct{}, workers),
		admit:   make(chan struct{}, workers+queue),
		n:       int64(workers),
		maxWait: maxWait,
	}
}

// Do runs fn on a worker slot, or returns ErrBusy or the context's error
// without running it.
func (p *Pool) Do(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err // the caller is gone: spend no hash on it
	}
	select {
	case p.admit <- struct{}{}:
	default:
		p.refused.Add(1)
		return ErrBusy
	}
	defer func() { <-p.admit }()

	select {
	case p.workers <- struct{}{}: // fast path: a worker is free
	default:
		// ahead counts every caller that came through the queue and has
		// not returned yet, those already running included: an estimate
		// that errs towards refusing at once rather than after a wait.
		// (Counting only the queue let 1 % of a flood's refusals wait
		// seconds for a worker before being refused.)
		ahead := p.ahead.Add(1)
		defer p.ahead.Add(-1)
		if avg := time.Duration(p.avg.Load()); avg > 0 && time.Duration(ahead)*avg/time.Duration(p.n) > p.maxWait {
			p.refused.Add(1)
			return ErrBusy
		}
		p.queued.Add(1)
		queued := time.Now()
		t := time.NewTimer(p.maxWait)
		defer t.Stop()
		var err error
		select {
		case p.workers <- struct{}{}:
			p.waited.Add(int64(time.Since(queued)))
		case <-t.C:
			p.refused.Add(1)
			err = ErrBusy
		case <-ctx.Done():
			err = ctx.Err()
		}
		p.queued.Add(-1)
		if err != nil {
			return err
		}
	}
	defer func() { <-p.workers }()
	start := time.Now()
	fn()
	d := time.Since(start)
	p.observe(d)
	p.busy.Add(int64(d))
	p.runs.Add(1)
	return nil
}

// waiting reports whether a caller waits for a worker now.
func (p *Pool) waiting() bool { return p.queued.Load() > 0 }

// observe folds one run's duration into the moving average (weight 1/8).
func (p *Pool) observe(d time.Duration) {
	for {
		old := p.avg.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)/8
		}
		if p.avg.CompareAndSwap(old, next) {
			return
		}
	}
}
