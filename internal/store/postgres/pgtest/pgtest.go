// Package pgtest gives tests a PostgreSQL schema of their own on the server
// named by USHER_TEST_POSTGRES: a new, empty one (DSN), or one that an
// ended test used, emptied of its rows (ReusableDSN).
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Env names the variable that holds the test server's DSN (a postgres:// URL).
const Env = "USHER_TEST_POSTGRES"

// Available reports whether PostgreSQL tests can run. In CI (CI=true) a
// missing server fails the test instead of skipping it.
func Available(t testing.TB) bool {
	t.Helper()
	if os.Getenv(Env) != "" {
		return true
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set, and PostgreSQL tests must run in CI", Env)
	}
	return false
}

// DSN returns a DSN whose search_path is a new, empty schema, dropped when
// the test ends. It skips the test when PostgreSQL is not configured (and
// fails it in CI).
func DSN(t testing.TB) string {
	t.Helper()
	schema := newSchema(t)
	t.Cleanup(func() { drop(t, schema) })
	return dsn(t, schema)
}

// drop drops a test's schema when the test ends.
func drop(t testing.TB, schema string) {
	if err := dropSchema(schema); err != nil {
		t.Errorf("pgtest: %v", err)
	}
}

func dropSchema(schema string) error {
	if err := exec(10*time.Second, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema: %w", err)
	}
	return nil
}

// kept holds the schemas ReusableDSN hands out again: those of tests that
// have ended, emptied. on is set by Main, which drops them at the end (when
// every test has ended, each schema is kept or dropped already).
var kept struct {
	mu   sync.Mutex
	on   bool
	free []string
}

// Main runs the tests of a package whose tests call ReusableDSN, then drops
// the schemas it kept; its result is the exit code. Call it from TestMain:
// os.Exit(pgtest.Main(m)). Without it, ReusableDSN makes a new schema for
// every test.
func Main(m *testing.M) int {
	kept.mu.Lock()
	kept.on = true
	kept.mu.Unlock()
	code := m.Run()
	kept.mu.Lock()
	defer kept.mu.Unlock()
	for _, schema := range kept.free {
		if err := dropSchema(schema); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			code = max(code, 1)
		}
	}
	kept.on, kept.free = false, nil
	return code
}

// ReusableDSN returns a DSN like DSN's, for a test that opens a store on it
// (which migrates the schema) and needs nothing else of it. Under Main, the
// schema may instead be one that an ended test of this binary used,
// emptied: every row of every table but goose's deleted, so the store finds it at the
// latest version with no row. PostgreSQL takes about 0.25 s to create,
// migrate and drop a schema, and a few milliseconds to empty one. A schema
// whose emptying fails (a test left a transaction open, say) is dropped.
func ReusableDSN(t testing.TB) string {
	t.Helper()
	kept.mu.Lock()
	var schema string
	if n := len(kept.free); kept.on && n > 0 {
		schema, kept.free = kept.free[n-1], kept.free[:n-1]
	}
	reuse := kept.on
	kept.mu.Unlock()
	if schema == "" {
		schema = newSchema(t)
	}
	t.Cleanup(func() {
		if reuse {
			err := empty(schema)
			if err == nil {
				kept.mu.Lock()
				kept.free = append(kept.free, schema)
				kept.mu.Unlock()
				return
			}
			t.Logf("pgtest: schema %s is dropped, not kept: %v", schema, err)
		}
		drop(t, schema)
	})
	return dsn(t, schema)
}

// newSchema creates a schema with a random name, skipping the test when
// PostgreSQL is not configured (failing it in CI).
func newSchema(t testing.TB) string {
	t.Helper()
	if !Available(t) {
		t.Skipf("PostgreSQL tests need %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", Env)
	}
	schema := "usher_test_" + strings.ToLower(rand.Text()[:12])
	if err := exec(10*time.Second, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: cannot reach PostgreSQL at %s: %v", Env, err)
	}
	return schema
}

// empty deletes every row of the schema's tables but goose's version table,
// in one transaction. (TRUNCATE makes new files for every table and index:
// ten times as slow here as DELETE on a test's few rows.) A table whose
// rows others still reference is emptied after them; a lock it waits for
// more than 5 s makes it fail.
func empty(schema string) error {
	db, err := admin()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tables, err := Tables(ctx, db, schema)
	if err != nil {
		return err
	}
	if len(tables) == 0 {
		return errors.New("it has no table")
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET LOCAL lock_timeout = '5s'"); err != nil {
		return err
	}
	for len(tables) > 0 {
		var left []string
		for _, t := range tables {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT d"); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t); err != nil {
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || pgErr.Code != "23503" { // foreign_key_violation
					return err
				}
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT d"); err != nil {
					return err
				}
				left = append(left, t)
			}
		}
		if len(left) == len(tables) {
			return fmt.Errorf("the rows of %v reference each other", left)
		}
		tables = left
	}
	return tx.Commit()
}

// Tables lists the tables of schema ("": the connection's current
// schema) but goose's version table, each as schema.table quoted for SQL.
func Tables(ctx context.Context, db *sql.DB, schema string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
		WHERE schemaname = coalesce(nullif($1, ''), current_schema()) AND tablename <> 'goose_db_version'`, schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, rows.Err()
}

// adminDB is the pool of pgtest's own statements, opened once per test
// binary: a new connection costs PostgreSQL a new backend process, which
// reads the catalog again (a tenth of a second, each time, for the query of
// a schema's tables).
var adminDB struct {
	once sync.Once
	db   *sql.DB
	err  error
}

func admin() (*sql.DB, error) {
	adminDB.once.Do(func() {
		adminDB.db, adminDB.err = sql.Open("pgx", os.Getenv(Env))
		if adminDB.err == nil {
			adminDB.db.SetMaxIdleConns(2)
		}
	})
	return adminDB.db, adminDB.err
}

// exec runs one statement on the test server, within timeout.
func exec(timeout time.Duration, statement string) error {
	db, err := admin()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err = db.ExecContext(ctx, statement)
	return err
}

// dsn is the test server's DSN with search_path set to schema.
func dsn(t testing.TB, schema string) string {
	t.Helper()
	u, err := url.Parse(os.Getenv(Env))
	if err != nil {
		t.Fatalf("pgtest: %s must be a URL: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
