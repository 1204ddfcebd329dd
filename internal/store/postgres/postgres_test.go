package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/store/postgres"
	"github.com/usherhq/usher/internal/store/postgres/pgtest"
	"github.com/usherhq/usher/internal/store/storetest"
)

var _ account.Store = (*store.Store)(nil)

// TestContract runs the store contract suite on PostgreSQL, each case in a
// schema of its own (pgtest.ReusableDSN: possibly an ended case's, emptied).
func TestContract(t *testing.T) {
	pgtest.DSN(t) // skip (or, in CI, fail) before any subtest when there is no server
	storetest.Run(t, func(t *testing.T) *store.Store {
		st, err := postgres.Open(context.Background(), pgtest.ReusableDSN(t), postgres.Options{MaxOpen: 10})
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

// TestMigrationLockIsPerSchema checks that the migration lock of one schema
// does not hold up the migration of another: with the first schema's lock
// held, the second migrates at once (with one lock for all schemas it would
// wait for it until the context ends).
func TestMigrationLockIsPerSchema(t *testing.T) {
	held, other := pgtest.DSN(t), pgtest.DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", held)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var schema string
	if err := conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", postgres.MigrationLockID(schema)); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, other, postgres.Options{}); err != nil {
		t.Fatalf("migrating another schema while this one's lock is held: %v", err)
	}
	if postgres.MigrationLockID(schema) == postgres.MigrationLockID("public") {
		t.Errorf("schemas %q and public share a lock", schema)
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

// TestDialectClassifiesErrorsByCode checks the dialect by SQLSTATE, through
// wrapping, never by message text.
func TestDialectClassifiesErrorsByCode(t *testing.T) {
	wrap := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code, Message: "x"}) }
	tests := []struct {
		code                           string
		unique, retryable, unavailable bool
	}{
		{"23505", true, false, false},
		{"40001", false, true, false},
		{"40P01", false, true, false},
		{"57P01", false, false, true},
		{"08006", false, false, true},
		{"53300", false, false, true},
		{"57014", false, false, true},
		{"23503", false, false, false},
	}
	for _, tt := range tests {
		err := wrap(tt.code)
		d := postgres.Dialect
		if got := d.UniqueViolation(err); got != tt.unique {
			t.Errorf("%s: UniqueViolation = %v, want %v", tt.code, got, tt.unique)
		}
		if got := d.Retryable(err); got != tt.retryable {
			t.Errorf("%s: Retryable = %v, want %v", tt.code, got, tt.retryable)
		}
		if got := d.Unavailable(err); got != tt.unavailable {
			t.Errorf("%s: Unavailable = %v, want %v", tt.code, got, tt.unavailable)
		}
	}
}
