// Package pgtest gives tests a fresh PostgreSQL schema of their own on the
// server named by USHER_TEST_POSTGRES.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

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
	if !Available(t) {
		t.Skipf("PostgreSQL tests need %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", Env)
	}
	base := os.Getenv(Env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close()
	schema := "usher_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: cannot reach PostgreSQL at %s: %v", Env, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Errorf("pgtest: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %s must be a URL: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
