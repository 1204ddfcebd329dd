package account_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// countingStore counts write transactions.
type countingStore struct {
	account.Store
	updates atomic.Int64
}

func (s *countingStore) Update(ctx context.Context, fn func(context.Context, account.Tx) error) error {
	s.updates.Add(1)
	return s.Store.Update(ctx, fn)
}

// An unknown address costs a password reset the work of a known one
// without a live code (issue 19: it answered at once, measurably faster).
func TestResetPasswordSameWorkForUnknownAddresses(t *testing.T) {
	cs := &countingStore{}
	h := newTestService(t, func(c *account.Config) { cs.Store = c.Store; c.Store = cs })
	h.createUser(t, "known@example.com", oldPassword)
	work := func(email string) int64 {
		before := cs.updates.Load()
		err := h.svc.ResetPassword(t.Context(), tenant, email, "AAAAAAAAAA", newPassword)
		wantCode(t, "ResetPassword("+email+")", err, usher.InvalidCode)
		return cs.updates.Load() - before
	}
	known, unknown := work("known@example.com"), work("nobody@example.com")
	if known != unknown || known == 0 {
		t.Errorf("write transactions: known address without a code %d, unknown address %d; want the same, not zero", known, unknown)
	}
}
