package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/store/sqlite"
	"github.com/usherhq/usher/internal/usher"
)

type ctxKey struct{}

func openSQLite(t *testing.T, timeout time.Duration) *store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "u.db"), sqlite.Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestUpdatePassesBoundedContext checks the context Update gives fn: the
// caller's (its values carry), bounded by the store's operation timeout,
// and over once Update has returned.
func TestUpdatePassesBoundedContext(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout time.Duration
	}{
		{"NoTimeout", 0},
		{"Timeout", time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openSQLite(t, tt.timeout)
			outer := context.WithValue(context.Background(), ctxKey{}, "outer")
			var inner context.Context
			start := time.Now()
			err := s.Update(outer, func(tctx context.Context, tx account.Tx) error {
				inner = tctx
				return nil
			})
			end := time.Now()
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if got := inner.Value(ctxKey{}); got != "outer" {
				t.Errorf("fn's context: value %v, want the caller's %q", got, "outer")
			}
			dl, ok := inner.Deadline()
			switch {
			case tt.timeout == 0 && ok:
				t.Errorf("fn's context without a timeout: deadline %v, want none", dl)
			case tt.timeout > 0 && !ok:
				t.Errorf("fn's context: no deadline, want one within %v", tt.timeout)
			case tt.timeout > 0 && (dl.Before(start.Add(tt.timeout)) || dl.After(end.Add(tt.timeout))):
				t.Errorf("fn's context: deadline %v after the call began, want the timeout %v", dl.Sub(start), tt.timeout)
			case tt.timeout > 0 && inner.Err() == nil:
				t.Errorf("fn's context still live after Update returned")
			}
		})
	}

	// A Tx call on the transaction's context fails once the operation
	// timeout has passed, whatever the caller's context allows.
	t.Run("Expired", func(t *testing.T) {
		s := openSQLite(t, 50*time.Millisecond)
		var inner error
		err := s.Update(context.Background(), func(tctx context.Context, tx account.Tx) error {
			<-tctx.Done()
			_, inner = tx.UserByID(tctx, usher.NewID(time.Now()), usher.NewID(time.Now()))
			return inner
		})
		if got := usher.ErrorCode(inner); got != usher.Unavailable {
			t.Errorf("Tx.UserByID on an expired transaction: got %v (code %q), want code %q", inner, got, usher.Unavailable)
		}
		if got := usher.ErrorCode(err); got != usher.Unavailable {
			t.Errorf("Update: got %v (code %q), want code %q", err, got, usher.Unavailable)
		}
	})
}
