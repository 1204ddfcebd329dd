package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/datakey"
)

// requireData checks, creating nothing, that the data an admin command
// works on exists: the SQLite database (or, with --db, a PostgreSQL
// database that Usher has migrated) and the data key. serve and migrate
// create these; an admin command pointed at the wrong place must say so
// rather than start an empty Usher there.
func requireData(ctx context.Context, c *config.Config) error {
	noData := fmt.Errorf("no Usher data at %s; start `usher serve` first or pass --data/--db", c.Data)
	if c.DB == "" {
		if !isFile(SQLitePath(c.Data)) {
			return noData
		}
	} else if err := requireSchema(ctx, c.DB, c.DBTimeout); err != nil {
		return err
	}
	if c.SecretKey == "" && !isFile(filepath.Join(c.Data, datakey.FileName)) {
		return fmt.Errorf("no data key at %s: pass --secret-key (USHER_SECRET_KEY) or --data naming the directory that holds %s",
			filepath.Join(c.Data, datakey.FileName), datakey.FileName)
	}
	return nil
}

// isFile reports whether path names a regular file.
func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// requireSchema checks that the PostgreSQL database at dsn holds Usher's
// schema (goose's version table, which the first migration creates).
func requireSchema(ctx context.Context, dsn string, timeout time.Duration) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error can quote the DSN, password included.
		return errors.New("postgres: the database URL is not valid")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	var found bool
	err = db.QueryRowContext(ctx, "SELECT to_regclass('goose_db_version') IS NOT NULL").Scan(&found)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if !found {
		return fmt.Errorf("no Usher data in the database at %s; run `usher migrate` or `usher serve` first, or pass another --db", redactDSN(cfg))
	}
	return nil
}

// redactDSN names a database without its password.
func redactDSN(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)
}

// prepareData makes what `usher migrate` prepares besides the schema: on
// SQLite, the data directory and, unless --secret-key is set, its data key,
// so that the admin commands find a complete data directory. On PostgreSQL
// nothing is made on disk (each node brings its own data key).
func prepareData(c *config.Config) error {
	if c.DB != "" {
		return nil
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if c.SecretKey == "" {
		if _, err := datakey.Open(c.Data, ""); err != nil {
			return err
		}
	}
	return nil
}
