package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/datakey"
	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/store/postgres"
	"github.com/usherhq/usher/internal/store/sqlite"
	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// core is what every command that works on Usher's data needs: the store,
// the data key, the signing keys, the hasher, the use cases and the default
// tenant. serve and the admin commands build it with the same code.
type core struct {
	Store    *store.Store
	Box      *token.Box
	Keys     *token.Keyring
	Hasher   *password.Hasher
	Accounts *account.Service
	Tenant   usher.Tenant
}

// coreOptions are what the commands (and tests) choose.
type coreOptions struct {
	HashParams *password.Params // nil: password.Default
	Now        func() time.Time // the clock of use cases and tokens
	Log        *slog.Logger
	Notify     func() // wakes the mail relay; nil outside serve
	Issuer     string // the token issuer
	// Existing makes openCore refuse, creating nothing, when the data it
	// would open is not there yet: admin commands work on data that serve
	// (or migrate) made, and must not make an empty database by accident.
	Existing bool
	Events   account.Events // observes the use cases (metrics); nil outside serve
	// HashOffload, when set, computes the hasher's argon2 keys in a
	// process of lower priority (serve with hash-priority low or idle).
	HashOffload *password.Offload
}

// openCore opens the data directory and the store (migrating it), and
// builds the rest of the core on it. On error, whatever was opened is
// closed.
func openCore(ctx context.Context, c *config.Config, o coreOptions) (*core, error) {
	if o.Existing {
		if err := requireData(ctx, c); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if fi, err := os.Stat(c.Data); err == nil && fi.Mode().Perm()&0o077 != 0 {
		o.Log.Warn("the data directory is open to other users; it holds the data key and the database",
			"event", "config_warning", "setting", "data", "mode", fi.Mode().Perm().String())
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	k, err := buildCore(ctx, c, st, o)
	if err != nil {
		return nil, errors.Join(err, st.Close())
	}
	return k, nil
}

func buildCore(ctx context.Context, c *config.Config, st *store.Store, o coreOptions) (*core, error) {
	k := &core{Store: st}
	if err := keyNotLost(ctx, c, st); err != nil {
		return nil, err
	}
	var err error
	if k.Box, err = datakey.Open(c.Data, c.SecretKey); err != nil {
		return nil, err
	}
	k.Keys = token.NewKeyring(st, k.Box, max(c.TokenTTL, c.AccessTokenTTL)) // retired keys verify every token they signed
	if err := k.Keys.Ensure(ctx, o.Now().UTC()); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	params := password.Default
	if o.HashParams != nil {
		params = *o.HashParams
	}
	k.Hasher = password.NewHasher(params, password.NewPool(hashWorkers(c), c.HashQueue, c.HashMaxWait))
	if o.HashOffload != nil {
		k.Hasher.OffloadTo(o.HashOffload)
	}
	k.Accounts = account.New(account.Config{
		Store:      st,
		Hasher:     k.Hasher,
		Policy:     password.Policy{Min: c.PasswordMin, Max: c.PasswordMax, AllowCommon: c.PasswordAllowCommon},
		Lockout:    account.Lockout{Max: c.LockoutMax, AccountMax: c.LockoutAccountMax, Window: c.LockoutWindow},
		Tokens:     token.NewTokens(k.Keys, o.Issuer, c.TokenCacheSize, o.Now),
		Box:        k.Box,
		SessionTTL: c.TokenTTL,
		Reset:      account.Reset{TTL: c.ResetTTL, MaxTries: c.ResetMaxTries, PerHour: c.ResetPerHour, PerHourAll: c.ResetPerHourAll},
		Verify:     account.Verify{TTL: c.VerifyTTL, OnRegister: c.VerifyOnRegister},
		Webhooks:   webhookRules(c),
		Refresh:    account.Refresh{AccessTTL: c.AccessTokenTTL, Idle: c.SessionIdle, MaxAge: c.SessionMaxAge},
		Admin: account.AdminRules{SetupTTL: c.AdminSetupTTL, Idle: c.AdminSessionIdle, MaxAge: c.AdminSessionMaxAge,
			RequireTOTP: c.AdminRequireTOTP},
		Notify: o.Notify,
		Events: o.Events,
		Log:    o.Log,
		Now:    o.Now,
	})
	if k.Tenant, err = k.Accounts.DefaultTenant(ctx); err != nil {
		return nil, fmt.Errorf("default tenant: %w", err)
	}
	return k, nil
}

// hashWorkers is the size of the hashing pool: hash-workers, or one per
// CPU Usher may use. Every CPU may hash, because hashing yields to the
// other requests by its priority (hash-priority), not by leaving CPUs idle.
func hashWorkers(c *config.Config) int {
	if c.HashWorkers > 0 {
		return c.HashWorkers
	}
	return runtime.GOMAXPROCS(0)
}

// SQLitePath is the database file inside the data directory.
func SQLitePath(dataDir string) string { return filepath.Join(dataDir, "usher.db") }

// openStore opens PostgreSQL when a database URL is configured, SQLite in
// the data directory otherwise, and migrates it.
func openStore(ctx context.Context, c *config.Config) (*store.Store, error) {
	if c.DB != "" {
		return postgres.Open(ctx, c.DB, pgOptions(c))
	}
	return sqlite.Open(ctx, SQLitePath(c.Data), sqlite.Options{Synchronous: c.SQLiteSynchronous, Timeout: c.DBTimeout})
}

func pgOptions(c *config.Config) postgres.Options {
	return postgres.Options{
		MaxOpen: c.DBMaxOpen, MaxIdle: c.DBMaxIdle, ConnMaxLifetime: c.DBConnMaxLifetime,
		StatementTimeout: c.DBStatementTimeout, Timeout: c.DBTimeout,
	}
}

// keyNotLost refuses to make a new data key for a database that holds data
// sealed with another: a restore that brought the database back without
// its key file would otherwise get a fresh key, which opens nothing.
func keyNotLost(ctx context.Context, c *config.Config, st *store.Store) error {
	if c.SecretKey != "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(c.Data, datakey.FileName)); !errors.Is(err, fs.ErrNotExist) {
		return nil // there is a key (or a problem Open reports)
	}
	keys, err := st.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if len(keys) > 0 {
		return fmt.Errorf("the database holds data sealed with a data key, and %s has none: restore %s from the backup (or give --secret-key / USHER_SECRET_KEY, the key the other nodes use)",
			c.Data, datakey.FileName)
	}
	return nil
}
