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
// caller whose expected wait (its place in the queue times the recent hash
// duration) passes MaxWait is refused without waiting at all.
type Pool struct {
	workers chan struct{}
	admit   chan struct{} // workers + queue tickets
	n       int64
	maxWait time.Duration
	waiting atomic.Int64
	avg     atomic.Int64 // moving average of one run, in nanoseconds
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
		return ErrBusy
	}
	defer func() { <-p.admit }()

	select {
	case p.workers <- struct{}{}: // fast path: a worker is free
	default:
		ahead := p.waiting.Add(1)
		defer p.waiting.Add(-1)
		if avg := time.Duration(p.avg.Load()); avg > 0 && time.Duration(ahead)*avg/time.Duration(p.n) > p.maxWait {
			return ErrBusy
		}
		t := time.NewTimer(p.maxWait)
		defer t.Stop()
		select {
		case p.workers <- struct{}{}:
		case <-t.C:
			return ErrBusy
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-p.workers }()
	start := time.Now()
	fn()
	p.observe(time.Since(start))
	return nil
}

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
