package pgtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/usherhq/usher/internal/store/postgres/pgtest"
)

// seen are the schemas the tests were given; TestMain checks that Main
// dropped them.
var seen []string

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if code == 0 && len(seen) > 0 {
		db, err := sql.Open("pgx", os.Getenv(pgtest.Env))
		if err == nil {
			var left int
			err = db.QueryRow("SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)", seen).Scan(&left)
			if err == nil && left > 0 {
				err = fmt.Errorf("%d of the schemas %v outlived Main", left, seen)
			}
			db.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// open opens dsn and returns its schema, closing the pool when the test
// ends (before the schema is emptied: cleanups run last in, first out).
func open(t *testing.T, dsn string) (*sql.DB, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	schema := u.Query().Get("search_path")
	seen = append(seen, schema)
	return db, schema
}

// TestReusableDSNHandsBackAnEmptiedSchema fills a schema as a store would
// (goose's version table, a table whose rows another's reference without
// cascading), ends the test, and checks that the next test gets the same
// schema with its tables and goose's rows, and no other row.
func TestReusableDSNHandsBackAnEmptiedSchema(t *testing.T) {
	ctx := context.Background()
	var first string
	t.Run("fill", func(t *testing.T) {
		db, schema := open(t, pgtest.ReusableDSN(t))
		first = schema
		for _, q := range []string{
			"CREATE TABLE goose_db_version (version_id bigint)",
			"INSERT INTO goose_db_version VALUES (1), (2)",
			// Listed before its referrer: emptied only after it.
			"CREATE TABLE a_parent (id int PRIMARY KEY)",
			"CREATE TABLE b_child (parent int NOT NULL REFERENCES a_parent (id))",
			"INSERT INTO a_parent VALUES (1), (2)",
			"INSERT INTO b_child VALUES (1), (2), (2)",
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
	t.Run("reuse", func(t *testing.T) {
		db, schema := open(t, pgtest.ReusableDSN(t))
		if schema != first {
			t.Fatalf("got schema %s, want %s (the first test's, emptied)", schema, first)
		}
		for table, want := range map[string]int{"goose_db_version": 2, "a_parent": 0, "b_child": 0} {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			if n != want {
				t.Errorf("%s: %d rows, want %d", table, n, want)
			}
		}
	})
	var bare string
	t.Run("a schema without tables", func(t *testing.T) {
		_, again := open(t, pgtest.ReusableDSN(t))
		_, bare = open(t, pgtest.ReusableDSN(t))
		if again != first || bare == first {
			t.Fatalf("got %s then %s, want %s (kept) then a new schema", again, bare, first)
		}
	})
	t.Run("is dropped, not kept", func(t *testing.T) {
		db, schema := open(t, pgtest.ReusableDSN(t))
		if schema != first {
			t.Errorf("got %s, want %s (kept)", schema, first)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", bare).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("schema %s, which held no table when its test ended, still exists", bare)
		}
	})
}
