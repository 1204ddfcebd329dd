package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/store/sqlite"
)

var errConflict = errors.New("serialization failure")

// TestUpdateRetriesLostConflicts checks that a transaction that loses a
// conflict (what PostgreSQL reports as 40001 or 40P01) is run again, and
// that other errors are not.
func TestUpdateRetriesLostConflicts(t *testing.T) {
	ctx := context.Background()
	base, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "u.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	d := sqlite.Dialect
	d.Retryable = func(err error) bool { return errors.Is(err, errConflict) }
	st, err := store.New(ctx, base.DB(), base.DB(), d, 0)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		failures  int // attempts that lose the conflict
		other     error
		wantCalls int
		wantErr   error
	}{
		{"succeeds after two lost conflicts", 2, nil, 3, nil},
		{"gives up after five attempts", 10, nil, 5, errConflict},
		{"other errors are not retried", 0, errors.New("boom"), 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := st.Update(ctx, func(context.Context, account.Tx) error {
				calls++
				if tt.other != nil {
					return tt.other
				}
				if calls <= tt.failures {
					return errConflict
				}
				return nil
			})
			if calls != tt.wantCalls {
				t.Errorf("fn ran %d times, want %d", calls, tt.wantCalls)
			}
			want := tt.wantErr
			if tt.other != nil {
				want = tt.other
			}
			if !errors.Is(err, want) && !(want == nil && err == nil) {
				t.Errorf("Update = %v, want %v", err, want)
			}
		})
	}
}
