package accounttest

import (
	"context"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/password"
)

// Pool is a hashing pool a test can fill. Install it with WithPool; without
// one, an Env hashes on a pool of 2 slots and a queue of 64.
type Pool struct {
	p *password.Pool
}

// NewPool returns a Pool of n slots and a queue of q, whose callers wait
// at most 10 seconds. NewPool(1, 0) is a pool Hold fills.
func NewPool(n, q int) *Pool {
	return &Pool{p: password.NewPool(n, q, 10*time.Second)}
}

// WithPool returns an option for New that hashes, with CheapHash, on p.
func WithPool(p *Pool) func(*account.Config) {
	return func(c *account.Config) { c.Hasher = password.NewHasher(CheapHash, p.p) }
}

// Hold takes one of p's slots until the test ends. On a pool of one slot
// and no queue, every hash until then is refused at once with
// password.ErrBusy. Hold returns once the slot is taken.
func (p *Pool) Hold(t testing.TB) {
	t.Helper()
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- p.p.Do(context.Background(), func() {
			close(held)
			<-release
		})
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("holding the hashing pool: %v", err)
	}
	t.Cleanup(func() {
		close(release)
		<-done
	})
}
