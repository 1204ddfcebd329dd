// Package postgres opens Usher's store on PostgreSQL, through pgx's
// database/sql driver, so that several Usher nodes can share one database.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/usherhq/usher/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the connection pool.
type Options struct {
	MaxOpen          int
	MaxIdle          int
	ConnMaxLifetime  time.Duration
	StatementTimeout time.Duration // server-side limit per statement; 0 for none
	ConnectTimeout   time.Duration // 0 means 3 s
	Timeout          time.Duration // bounds each store operation
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string), migrates it, and returns a Store.
func Open(ctx context.Context, dsn string, opts Options) (*store.Store, error) {
	db, err := open(dsn, opts)
	if err != nil {
		return nil, err
	}
	if _, err := runMigrations(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	st, err := store.New(ctx, db, db, Dialect, opts.Timeout)
	if err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

// Migrate brings the database to the latest schema and returns the versions
// it applied. Nodes that start together take turns through an advisory
// lock, so each migration runs once.
func Migrate(ctx context.Context, dsn string, opts Options) ([]int64, error) {
	db, err := open(dsn, opts)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return runMigrations(ctx, db)
}

func open(dsn string, opts Options) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error can quote the DSN, password included.
		return nil, errors.New("postgres: the database URL is not valid")
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 3 * time.Second
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > opts.ConnectTimeout {
		cfg.ConnectTimeout = opts.ConnectTimeout
	}
	if opts.StatementTimeout > 0 {
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	db := stdlib.OpenDB(*cfg)
	if opts.MaxOpen > 0 {
		db.SetMaxOpenConns(opts.MaxOpen)
	}
	if opts.MaxIdle > 0 {
		db.SetMaxIdleConns(opts.MaxIdle)
	}
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	return db, nil
}

// MigrationLockID is the advisory lock through which the nodes migrating
// one schema take turns: goose's number mixed with the schema's name, so
// that deployments in other schemas of the same database (and tests, each
// in a schema of its own) do not wait for each other. Releases before this
// one took goose's number alone: such a node and a newer one do not take
// turns, which matters only if both start at the same moment on a schema
// behind the older release's last migration (then one of them fails to
// start: each migration runs in a transaction).
func MigrationLockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte(schema))
	return lock.DefaultLockID ^ int64(h.Sum64())
}

func runMigrations(ctx context.Context, db *sql.DB) ([]int64, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var schema sql.NullString // NULL when no schema of search_path exists
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	// Nodes starting together wait for the first to migrate: retry the lock
	// every second (goose's default is every 5 s), for up to 5 minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(MigrationLockID(schema.String)), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	// After migrating, not before: goose's Up passes over versions it
	// does not know, and a newer node may migrate while this one waits
	// for the lock.
	sources := p.ListSources() // in ascending order; never empty (embedded)
	if err := store.RefuseNewerSchema(ctx, "postgres", sources[len(sources)-1].Version, p.GetDBVersion); err != nil {
		return nil, err
	}
	var applied []int64
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// Dialect is PostgreSQL's store.Dialect.
var Dialect = store.Dialect{
	Name:                "postgres",
	UniqueViolation:     func(err error) bool { return pgCode(err) == "23505" },
	ForeignKeyViolation: func(err error) bool { return pgCode(err) == "23503" },
	Retryable: func(err error) bool {
		c := pgCode(err)
		return c == "40001" || c == "40P01"
	},
	Unavailable: unavailable,
	ForUpdate:   " FOR UPDATE",
	SkipLocked:  " FOR UPDATE SKIP LOCKED",
	Unbounded:   "SET LOCAL statement_timeout = 0",
	// Until autovacuum gets to a freshly imported table (about a minute),
	// the planner thinks it small and scans it for a filtered listing.
	AnalyzeUsers: "ANALYZE users",
	ClaimLock:    "SELECT pg_advisory_xact_lock(7471806502)", // a number of Usher's own: webhook claims
	// pgx prepares and caches a statement, and PostgreSQL may keep a
	// generic plan for it after five runs; run these unprepared instead.
	Replan: []any{pgx.QueryExecModeExec},
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// unavailable reports errors that mean the database cannot serve now:
// refused or broken connections, timeouts, shutdown, too many connections.
func unavailable(err error) bool {
	switch c := pgCode(err); {
	case c == "":
	case len(c) == 5 && c[:2] == "08", // connection exception
		c == "57P01", c == "57P02", c == "57P03", // shutdown, crash, cannot connect now
		c == "53300", // too many connections
		c == "57014": // statement timeout / query cancelled
		return true
	default:
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err)
}
