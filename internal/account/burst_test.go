package account_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/usherhq/usher/internal/account"
)

// verdicts counts the password checks that were verified, by outcome, from
// the use cases' log events.
type verdicts struct {
	wrong, locked atomic.Int64
}

func (v *verdicts) Enabled(context.Context, slog.Level) bool { return true }
func (v *verdicts) WithAttrs([]slog.Attr) slog.Handler       { return v }
func (v *verdicts) WithGroup(string) slog.Handler            { return v }
func (v *verdicts) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			switch a.Value.String() {
			case "wrong_password":
				v.wrong.Add(1)
			case "locked":
				v.locked.Add(1)
			}
		}
		return true
	})
	return nil
}

// TestLockoutHoldsAgainstABurst: wrong guesses sent all at once get no
// more than lockout-max verified; the rest are refused unverified (issue
// 19: the lock was decided from the row read before the hasher, so a burst
// of 120 had about 68 verified against a limit of 10).
func TestLockoutHoldsAgainstABurst(t *testing.T) {
	const max, burst = 10, 60
	var v verdicts
	h := newTestService(t, func(c *account.Config) {
		c.Lockout.Max = max
		c.Log = slog.New(&v)
	})
	u := h.createUser(t, "burst@example.com", oldPassword)

	var wg sync.WaitGroup
	start := make(chan struct{})
	var accepted atomic.Int64
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := h.svc.CheckPassword(context.Background(), tenant, u.ID, wrongPassword)
			if err != nil {
				t.Errorf("CheckPassword: %v", err)
			}
			if ok {
				accepted.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()

	if got := v.wrong.Load(); got != max {
		t.Errorf("wrong guesses verified: got %d, want %d (lockout-max)", got, max)
	}
	if got := v.locked.Load(); got != burst-max {
		t.Errorf("guesses refused unverified: got %d, want %d", got, burst-max)
	}
	if accepted.Load() != 0 {
		t.Errorf("a wrong password was accepted")
	}
	if h.check(t, u.ID, oldPassword) {
		t.Error("the right password after the burst: got true, want false (locked)")
	}
}
