package store_test

// The SQLite and PostgreSQL migrations are two hand-written copies of one
// schema, and one SQL text of the store runs on both. This test migrates a
// fresh database of each engine, reads back what the migrations built, and
// fails with a diff when the two copies drift apart.

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/store/postgres"
	"github.com/usherhq/usher/internal/store/postgres/pgtest"
	"github.com/usherhq/usher/internal/store/sqlite"
)

// schGooseTable is goose's bookkeeping table; it is not part of the schema
// the store relies on.
const schGooseTable = "goose_db_version"

// schTable is one table as both engines can describe it. Column types are
// left out on purpose: they differ by engine by design (UUID/BOOLEAN/BIGINT
// on PostgreSQL, TEXT/INTEGER under STRICT on SQLite); names, nullability,
// keys and indexes are what one SQL text relies on, so those must match.
type schTable struct {
	// Columns maps a column name to "NOT NULL" or "NULL".
	Columns map[string]string
	// PrimaryKey lists the primary key's columns in key order.
	PrimaryKey []string
	// Indexes maps a normalised index name to its description. An index
	// created by CREATE INDEX keeps its own name (both migrations choose
	// it); an index made for a UNIQUE constraint is named by what it holds,
	// "unique (a, b)", because each engine invents its own name for it.
	Indexes map[string]schIndex
	// ForeignKeys maps "(cols) -> table (cols)" to the ON DELETE action.
	ForeignKeys map[string]string
}

type schIndex struct {
	Unique  bool
	Partial bool
	Columns []string
}

// schSchema maps a table name to its description.
type schSchema map[string]schTable

func TestSchemaSQLiteMatchesPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	dsn := pgtest.DSN(t) // skips (or fails in CI) without PostgreSQL
	pgApplied, err := postgres.Migrate(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("postgres.Migrate: %v", err)
	}
	path := filepath.Join(t.TempDir(), "usher.db")
	liteApplied, err := sqlite.Migrate(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("sqlite.Migrate: %v", err)
	}

	// pgtest.ReusableDSN empties a schema by deleting every row but goose's:
	// that equals a new schema only while no migration inserts a row.
	t.Run("the migrations leave PostgreSQL's tables empty", func(t *testing.T) {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		tables, err := pgtest.Tables(ctx, db, "")
		if err != nil || len(tables) == 0 {
			t.Fatalf("tables: %v %v", tables, err)
		}
		for _, table := range tables {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("table %s holds %d rows after the migrations", table, n)
			}
		}
	})

	t.Run("same migration versions", func(t *testing.T) {
		if diff := cmp.Diff(liteApplied, pgApplied); diff != "" {
			t.Errorf("versions applied on a fresh database (-sqlite +postgres):\n%s", diff)
		}
		if len(pgApplied) == 0 {
			t.Errorf("no migration applied on a fresh database")
		}
	})

	t.Run("same tables columns and indexes", func(t *testing.T) {
		lite := schOpen(t, "sqlite", "file:"+path+"?mode=ro")
		pg := schOpen(t, "pgx", dsn)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		var current string
		if err := pg.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
			t.Fatal(err)
		}
		if want := u.Query().Get("search_path"); current != want {
			t.Fatalf("current_schema() is %q, want the test's own schema %q", current, want)
		}
		liteSchema := schReadSQLite(ctx, t, lite)
		pgSchema := schReadPostgres(ctx, t, pg)
		if len(pgSchema) == 0 {
			t.Fatalf("no table found in the PostgreSQL schema; the reader is broken")
		}
		if _, ok := pgSchema["users"]; !ok {
			t.Errorf("no users table on PostgreSQL; tables: %v", slices.Sorted(maps.Keys(pgSchema)))
		}
		// Version 4 renamed codes.purpose to kind, in the key too.
		if diff := cmp.Diff([]string{"user_id", "kind"}, pgSchema["codes"].PrimaryKey); diff != "" {
			t.Errorf("primary key of codes on PostgreSQL (-want +got):\n%s", diff)
		}
		schTenantNumbers(t, liteSchema)
		if diff := cmp.Diff(liteSchema, pgSchema); diff != "" {
			t.Errorf("the schemas drifted apart (-sqlite +postgres):\n%s", diff)
		}
	})
}

// schTenantNumbers takes out of a SQLite schema what its version 11 made
// different on purpose (store.Dialect.TenantNumbers): tenants.no, its
// index, the last number given (tenant_numbers), and the users' foreign
// key to it, where PostgreSQL's users keep the tenant's ID. Each must be
// there.
func schTenantNumbers(t *testing.T, lite schSchema) {
	t.Helper()
	tenants, users := lite["tenants"], lite["users"]
	const byNumber, byID = "(tenant_id) -> tenants (no)", "(tenant_id) -> tenants (id)"
	if tenants.Columns["no"] != "NULL" || !tenants.Indexes["tenants_no"].Unique || users.ForeignKeys[byNumber] == "" ||
		lite["tenant_numbers"].Columns["last"] != "NOT NULL" {
		t.Fatalf("SQLite's tenant numbers are not as version 11 made them: tenants %+v, users' keys %v, tenant_numbers %+v",
			tenants, users.ForeignKeys, lite["tenant_numbers"])
	}
	delete(lite, "tenant_numbers")
	delete(tenants.Columns, "no")
	delete(tenants.Indexes, "tenants_no")
	users.ForeignKeys[byID] = users.ForeignKeys[byNumber]
	delete(users.ForeignKeys, byNumber)
}

func schOpen(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// schName normalises an identifier: PostgreSQL folds unquoted names to
// lower case, SQLite keeps them as written.
func schName(s string) string { return strings.ToLower(s) }

func schUniqueName(cols []string) string { return "unique (" + strings.Join(cols, ", ") + ")" }

func schForeignKey(from []string, table string, to []string) string {
	return "(" + strings.Join(from, ", ") + ") -> " + table + " (" + strings.Join(to, ", ") + ")"
}

func schNull(notNull bool) string {
	if notNull {
		return "NOT NULL"
	}
	return "NULL"
}

func newSchTable() schTable {
	return schTable{Columns: map[string]string{}, Indexes: map[string]schIndex{}, ForeignKeys: map[string]string{}}
}

// schQuery runs q and calls scan for each row.
func schQuery(ctx context.Context, t *testing.T, db *sql.DB, q string, args []any, scan func(*sql.Rows) error) {
	t.Helper()
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func schReadSQLite(ctx context.Context, t *testing.T, db *sql.DB) schSchema {
	t.Helper()
	var names []string
	schQuery(ctx, t, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`, nil,
		func(r *sql.Rows) error {
			var n string
			err := r.Scan(&n)
			names = append(names, n)
			return err
		})
	s := schSchema{}
	for _, table := range names {
		if schName(table) == schGooseTable {
			continue
		}
		tb := newSchTable()
		pkByPos := map[int]string{} // position in the key (1, 2, ...) -> column
		schQuery(ctx, t, db, `SELECT name, "notnull", pk FROM pragma_table_info(?)`, []any{table}, func(r *sql.Rows) error {
			var name string
			var notNull bool
			var pos int
			if err := r.Scan(&name, &notNull, &pos); err != nil {
				return err
			}
			tb.Columns[schName(name)] = schNull(notNull)
			if pos > 0 {
				pkByPos[pos] = schName(name)
			}
			return nil
		})
		for _, pos := range slices.Sorted(maps.Keys(pkByPos)) {
			tb.PrimaryKey = append(tb.PrimaryKey, pkByPos[pos])
		}

		type liteIndex struct {
			name, origin    string
			unique, partial bool
		}
		var idx []liteIndex
		schQuery(ctx, t, db, `SELECT name, "unique", origin, partial FROM pragma_index_list(?)`, []any{table}, func(r *sql.Rows) error {
			var i liteIndex
			err := r.Scan(&i.name, &i.unique, &i.origin, &i.partial)
			idx = append(idx, i)
			return err
		})
		for _, i := range idx {
			if i.origin == "pk" { // the primary key, read above from table_info
				continue
			}
			var cols []string
			schQuery(ctx, t, db, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, []any{i.name}, func(r *sql.Rows) error {
				c := sql.NullString{String: "(expression)"} // NULL for an expression
				err := r.Scan(&c)
				if !c.Valid {
					c.String = "(expression)"
				}
				cols = append(cols, schName(c.String))
				return err
			})
			name := schName(i.name)
			if i.origin == "u" {
				name = schUniqueName(cols)
			}
			tb.Indexes[name] = schIndex{Unique: i.unique, Partial: i.partial, Columns: cols}
		}

		type liteFK struct {
			id              int
			parent, onDel   string
			from, to        []string
			toUnnamedParent bool
		}
		fks := map[int]*liteFK{}
		var order []int
		schQuery(ctx, t, db, `SELECT id, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`,
			[]any{table}, func(r *sql.Rows) error {
				var id int
				var parent, from, onDel string
				var to sql.NullString // NULL: the parent's primary key
				if err := r.Scan(&id, &parent, &from, &to, &onDel); err != nil {
					return err
				}
				fk, ok := fks[id]
				if !ok {
					fk = &liteFK{id: id, parent: schName(parent), onDel: onDel}
					fks[id] = fk
					order = append(order, id)
				}
				fk.from = append(fk.from, schName(from))
				if to.Valid {
					fk.to = append(fk.to, schName(to.String))
				} else {
					fk.toUnnamedParent = true
				}
				return nil
			})
		for _, id := range order {
			fk := fks[id]
			if fk.toUnnamedParent {
				fk.to = schSQLitePrimaryKey(ctx, t, db, fk.parent)
			}
			tb.ForeignKeys[schForeignKey(fk.from, fk.parent, fk.to)] = strings.ToUpper(fk.onDel)
		}
		s[schName(table)] = tb
	}
	return s
}

func schSQLitePrimaryKey(ctx context.Context, t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	var cols []string
	schQuery(ctx, t, db, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, []any{table}, func(r *sql.Rows) error {
		var c string
		err := r.Scan(&c)
		cols = append(cols, schName(c))
		return err
	})
	return cols
}

// schPGColumns lists, in key order, the column names of an attribute-number
// array (conkey, confkey, indkey) of relation rel; 0 is an expression.
func schPGColumns(array, rel string) string {
	return `array_to_string(ARRAY(
		SELECT COALESCE(a.attname, '(expression)')
		FROM unnest(` + array + `) WITH ORDINALITY AS k(attnum, ord)
		LEFT JOIN pg_attribute a ON a.attrelid = ` + rel + ` AND a.attnum = k.attnum
		ORDER BY k.ord), ',')`
}

func schReadPostgres(ctx context.Context, t *testing.T, db *sql.DB) schSchema {
	t.Helper()
	// The DSN's search_path names the test's own schema, so current_schema()
	// limits every query to what this test migrated.
	s := schSchema{}
	table := func(name string) schTable {
		name = schName(name)
		tb, ok := s[name]
		if !ok {
			tb = newSchTable()
			s[name] = tb
		}
		return tb
	}
	schQuery(ctx, t, db, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`, nil, func(r *sql.Rows) error {
		var n string
		err := r.Scan(&n)
		table(n)
		return err
	})
	schQuery(ctx, t, db, `SELECT table_name, column_name, is_nullable FROM information_schema.columns
		WHERE table_schema = current_schema()`, nil, func(r *sql.Rows) error {
		var tn, cn, nullable string
		if err := r.Scan(&tn, &cn, &nullable); err != nil {
			return err
		}
		table(tn).Columns[schName(cn)] = schNull(nullable == "NO")
		return nil
	})
	schQuery(ctx, t, db, `SELECT t.relname, i.relname, x.indisprimary, x.indisunique, x.indpred IS NOT NULL,
			EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.contype = 'u'),
			`+schPGColumns("x.indkey::int2[]", "x.indrelid")+`
		FROM pg_index x
		JOIN pg_class t ON t.oid = x.indrelid
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = current_schema()`, nil, func(r *sql.Rows) error {
		var tn, in, cols string
		var primary, unique, partial, constraint bool
		if err := r.Scan(&tn, &in, &primary, &unique, &partial, &constraint, &cols); err != nil {
			return err
		}
		tb := table(tn)
		colList := strings.Split(schName(cols), ",")
		switch {
		case primary:
			tb.PrimaryKey = colList
			s[schName(tn)] = tb
		case constraint:
			tb.Indexes[schUniqueName(colList)] = schIndex{Unique: unique, Partial: partial, Columns: colList}
		default:
			tb.Indexes[schName(in)] = schIndex{Unique: unique, Partial: partial, Columns: colList}
		}
		return nil
	})
	schQuery(ctx, t, db, `SELECT t.relname, p.relname, c.confdeltype::text,
			`+schPGColumns("c.conkey", "c.conrelid")+`, `+schPGColumns("c.confkey", "c.confrelid")+`
		FROM pg_constraint c
		JOIN pg_class t ON t.oid = c.conrelid
		JOIN pg_class p ON p.oid = c.confrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE c.contype = 'f' AND n.nspname = current_schema()`, nil, func(r *sql.Rows) error {
		var tn, parent, action, from, to string
		if err := r.Scan(&tn, &parent, &action, &from, &to); err != nil {
			return err
		}
		// pg_constraint.confdeltype, spelled as SQLite's foreign_key_list does.
		actions := map[string]string{"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
		name, ok := actions[action]
		if !ok {
			return fmt.Errorf("unknown confdeltype %q", action)
		}
		table(tn).ForeignKeys[schForeignKey(strings.Split(schName(from), ","), schName(parent), strings.Split(schName(to), ","))] = name
		return nil
	})
	delete(s, schGooseTable)
	return s
}
