// Package sqlite opens Usher's store on an embedded SQLite database.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/usherhq/usher/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// usher_pack_hash(hash) is a stored hash in version 11's form
// (store.PackedHash): the upgrade to it packs the hashes already stored.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("usher_pack_hash", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			switch h := args[0].(type) {
			case string:
				return store.PackedHash(h), nil
			case []byte:
				return store.PackedHash(string(h)), nil
			}
			return nil, fmt.Errorf("usher_pack_hash: a hash of type %T", args[0])
		})
}

// Options tune the database.
type Options struct {
	// Synchronous is FULL (the default: no acknowledged write is lost, even
	// on power loss) or NORMAL (faster; a power loss may drop the last
	// commits, never corrupt the database).
	Synchronous string
	// Readers is the size of the read-only connection pool.
	Readers int
	// Timeout bounds each store operation, waits for the writer included.
	Timeout time.Duration
}

// Open opens (creating if needed) the database at path, migrates it, and
// returns a Store with one writer connection and a pool of readers.
func Open(ctx context.Context, path string, opts Options) (*store.Store, error) {
	w, r, err := open(path, opts)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	st, err := store.New(ctx, w, r, Dialect, opts.Timeout)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	return st, nil
}

// Migrate brings the database at path to the latest schema and returns the
// versions it applied.
func Migrate(ctx context.Context, path string, opts Options) ([]int64, error) {
	w, r, err := open(path, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	defer w.Close()
	return runMigrations(ctx, w)
}

func open(path string, opts Options) (w, r *sql.DB, err error) {
	sync := opts.Synchronous
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" {
		return nil, nil, fmt.Errorf("sqlite: synchronous must be FULL or NORMAL, not %q", sync)
	}
	// SQLite waits for a lock held by another process (a second usher
	// command on the same file) for busy_timeout, and the driver does not
	// stop that wait when a context ends: bound it by the operation timeout.
	// The database holds password hashes: readable by its owner only. SQLite
	// gives the -wal and -shm files the database file's permissions.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	f.Close()
	busy := int64(5000)
	if opts.Timeout > 0 {
		busy = opts.Timeout.Milliseconds()
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(" + strconv.FormatInt(busy, 10) + ")" +
		"&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")"
	// One writer: SQLite allows one writer at a time, so a pool of writers
	// would only queue inside SQLite (and fail with "database is locked").
	// BEGIN IMMEDIATE takes the write lock at the start of a transaction, so
	// a transaction never fails half way to upgrade its lock.
	w, err = sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.Ping(); err != nil { // creates the file and switches it to WAL
		w.Close()
		return nil, nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readers := opts.Readers
	if readers <= 0 {
		readers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	r, err = sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	return w, r, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	_, err := runMigrations(ctx, db)
	return err
}

// provider returns the migration runner of the embedded migrations.
func provider(db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	return p, nil
}

func runMigrations(ctx context.Context, db *sql.DB) ([]int64, error) {
	p, err := provider(db)
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate: %w", err)
	}
	// After migrating, not before: goose's Up passes over versions it
	// does not know, and a newer node may migrate while this one waits
	// for the lock.
	sources := p.ListSources() // in ascending order; never empty (embedded)
	if err := store.RefuseNewerSchema(ctx, "sqlite", sources[len(sources)-1].Version, p.GetDBVersion); err != nil {
		return nil, err
	}
	var applied []int64
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// Dialect is SQLite's store.Dialect.
var Dialect = store.Dialect{
	Name:      "sqlite",
	BinaryIDs: true,
	// A user's row and indexes in fewer bytes (migration 00011).
	BinaryHashes:  true,
	TenantNumbers: true,
	EmailIndex:    " INDEXED BY users_tenant_email",
	// Named parameters cost a lookup each when bound (see the field).
	AnonymousParams: true,
	PrepareSignIn:   true,
	UniqueViolation: func(err error) bool {
		c, ok := code(err)
		return ok && (c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	},
	ForeignKeyViolation: func(err error) bool {
		c, ok := code(err)
		return ok && c == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	},
	Unavailable: func(err error) bool {
		c, ok := code(err)
		switch c & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return ok
		}
		return false
	},
}

func code(err error) (int, bool) {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code(), true
	}
	return 0, false
}
