package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/store/postgres"
	"github.com/usherhq/usher/internal/store/postgres/pgtest"
	"github.com/usherhq/usher/internal/store/storetest"
)

var _ account.Store = (*store.Store)(nil)

// TestContract runs the store contract suite on PostgreSQL, each case in a
// fresh schema.
func TestContract(t *testing.T) {
	pgtest.DSN(t) // skip (or, in CI, fail) before any subtest when there is no server
	storetest.Run(t, func(t *testing.T) *store.Store {
		st, err := postgres.Open(context.Background(), pgtest.DSN(t), postgres.Options{MaxOpen: 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

// TestMigrateRunsOnce checks that a second migration applies nothing.
func TestMigrateRunsOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	first, err := postgres.Migrate(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) == 0 {
		t.Fatal("first migration applied nothing")
	}
	again, err := postgres.Migrate(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Fatalf("second migration applied %v, want nothing", again)
	}
}

// TestBadURL checks that a malformed URL is refused without echoing it
// (it may hold a password).
func TestBadURL(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://user:hunter2@[::1", postgres.Options{})
	if err == nil {
		t.Fatal("a malformed URL was accepted")
	}
	if got := err.Error(); strings.Contains(got, "hunter2") {
		t.Fatalf("error %q echoes the password", got)
	}
}
