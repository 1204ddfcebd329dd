package password

import (
	"context"
	"errors"
	"time"
)

// ErrBusy is returned when hashing capacity is exhausted: the queue is full,
// or the wait for a worker would pass its limit.
var ErrBusy = errors.New("password hashing capacity exhausted")

// Pool bounds concurrent hashing. At most Workers hashes run at once, at most
// Queue callers wait for a slot, and none waits longer than MaxWait. Memory
// therefore stays bounded under a flood (each argon2id run holds its memory
// cost), and excess requests are refused at once instead of piling up.
type Pool struct {
	workers chan struct{}
	admit   chan struct{} // workers + queue tickets
	maxWait time.Duration
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
	fn()
	return nil
}
