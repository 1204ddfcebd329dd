package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
)

// The rate_counters table: fixed-window counters (Tx.Count).

// count runs Count in a transaction of its own.
func count(t *testing.T, s *store.Store, key string, now, windowStart time.Time) (int, error) {
	var n int
	err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
		var err error
		n, err = tx.Count(tctx, key, now, windowStart)
		return err
	})
	return n, err
}

func testCount(t *testing.T, s *store.Store) {
	const window = time.Hour
	steps := []struct {
		name       string
		key        string
		now        time.Time
		windowFrom time.Time // zero: now - window
		want       int
	}{
		{"First", "a", base, time.Time{}, 1},
		{"Second", "a", base.Add(time.Minute), time.Time{}, 2},
		{"Third", "a", base.Add(2 * time.Minute), time.Time{}, 3},
		{"AtWindowStartCounts", "a", base.Add(window), base, 4},
		{"AfterWindowRestarts", "a", base.Add(window + ms), base.Add(ms), 1},
		{"NewWindowCounts", "a", base.Add(window + 2*time.Minute), time.Time{}, 2},
		{"OtherKeyIndependent", "b", base.Add(window + 3*time.Minute), time.Time{}, 1},
		{"FirstKeyUnaffected", "a", base.Add(window + 4*time.Minute), time.Time{}, 3},
		{"OtherKeyCounts", "b", base.Add(window + 5*time.Minute), time.Time{}, 2},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			from := st.windowFrom
			if from.IsZero() {
				from = st.now.Add(-window)
			}
			got, err := count(t, s, st.key, st.now, from)
			if err != nil {
				t.Fatalf("Count: %v", err)
			}
			if got != st.want {
				t.Errorf("Count(%q): got %d, want %d", st.key, got, st.want)
			}
		})
	}

	t.Run("RolledBack", func(t *testing.T) {
		now := base.Add(window + 6*time.Minute)
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if _, err := tx.Count(tctx, "a", now, now.Add(-window)); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		got, err := count(t, s, "a", now, now.Add(-window))
		if err != nil {
			t.Fatalf("Count: %v", err)
		}
		if got != 4 {
			t.Errorf("Count after a rolled back Count: got %d, want 4", got)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		const n = 20
		got := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = count(t, s, "concurrent", base, base.Add(-window))
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Count %d: %v", i, err)
			}
		}
		slices.Sort(got)
		for i, v := range got {
			if v != i+1 {
				t.Fatalf("values of %d concurrent Counts: got %v, want 1..%d once each", n, got, n)
			}
		}
		last, err := count(t, s, "concurrent", base, base.Add(-window))
		if err != nil {
			t.Fatalf("Count: %v", err)
		}
		if last != n+1 {
			t.Errorf("Count after %d concurrent Counts: got %d, want %d", n, last, n+1)
		}
	})
}

func testClearCount(t *testing.T, s *store.Store) {
	for _, key := range []string{"a", "b"} {
		for range 3 {
			if _, err := count(t, s, key, base, base.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	clear := func(key string) {
		t.Helper()
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.ClearCount(tctx, key) })
		if err != nil {
			t.Fatalf("ClearCount(%q): %v", key, err)
		}
	}
	clear("a")
	clear("never counted") // no error for a missing key
	for key, want := range map[string]int{"a": 1, "b": 4} {
		n, err := count(t, s, key, base, base.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("Count(%q) after clearing a: got %d, want %d", key, n, want)
		}
	}
}
