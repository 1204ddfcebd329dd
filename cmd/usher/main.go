// Command usher is Usher's binary: the service and its admin commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/store/postgres"
	"github.com/usherhq/usher/internal/store/sqlite"
	"github.com/usherhq/usher/internal/usher"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

type cli struct {
	Serve   serveCmd   `cmd:"" help:"Run Usher."`
	Migrate migrateCmd `cmd:"" help:"Bring the database schema up to date, then exit."`
	Tenant  struct {
		Create    tenantCreateCmd `cmd:"" help:"Create a tenant (a user pool with its own public key)."`
		List      tenantListCmd   `cmd:"" help:"List the tenants."`
		Show      tenantShowCmd   `cmd:"" help:"Print a tenant (default: the default tenant): its id and public key (SB-PUBLIC-KEY)."`
		RotateKey tenantRotateCmd `cmd:"" name:"rotate-key" help:"Give a tenant a new public key; the old one keeps working for --overlap."`
		Delete    tenantDeleteCmd `cmd:"" help:"Delete a tenant; one with users only with --force, which deletes them too."`
	} `cmd:"" help:"Tenants (user pools)."`
	Users struct {
		Import usersImportCmd `cmd:"" help:"Import users from a JSON-lines file (see the README's Import and export)."`
		Export usersExportCmd `cmd:"" help:"Export a tenant's users as JSON lines, in the import's format."`
	} `cmd:"" help:"Users."`
	Events   eventsCmd `cmd:"" help:"Print the audit log as JSON lines, oldest first."`
	Webhooks struct {
		Create webhookCreateCmd `cmd:"" help:"Add a webhook endpoint; prints its signing secret once."`
		List   webhookListCmd   `cmd:"" help:"List the webhook endpoints."`
		Delete webhookDeleteCmd `cmd:"" help:"Remove a webhook endpoint and its undelivered events."`
	} `cmd:"" help:"Webhook endpoints."`
	Keys struct {
		Rotate keysRotateCmd `cmd:"" help:"Add a new token signing key; older keys keep verifying until their tokens expire."`
	} `cmd:"" help:"Token signing keys."`
	Admin struct {
		Create adminCreateCmd `cmd:"" help:"Add a console admin; prints their one-time setup link."`
		List   adminListCmd   `cmd:"" help:"List the console admins."`
		Delete adminDeleteCmd `cmd:"" help:"Remove a console admin and end their sessions."`
		Reset  adminResetCmd  `cmd:"" help:"Void an admin's password, second factor and sessions; prints a new setup link."`
	} `cmd:"" help:"Admin console accounts."`
	Version    versionCmd    `cmd:"" help:"Print the version."`
	HashWorker hashWorkerCmd `cmd:"" hidden:"" name:"hash-worker" help:"The password hashing process serve starts (hash-priority): argon2 on stdin and stdout."`
}

type keysRotateCmd struct {
	config.Config `embed:""`
}

type serveCmd struct {
	config.Config `embed:""`
}

type migrateCmd struct {
	config.Config `embed:""`
}

type versionCmd struct{}

// logOut is the buffer every log line goes through on its way to stderr
// (api.LogWriter); main writes what is left before the process exits.
var logOut = api.NewLogWriter(stderr{})

// stderr writes to whatever os.Stderr is at the time (tests replace it).
type stderr struct{}

func (stderr) Write(p []byte) (int, error) { return os.Stderr.Write(p) }

func main() {
	code := run(os.Args[1:])
	_ = logOut.Flush()
	os.Exit(code)
}

func run(args []string) int {
	var c cli
	opts := []kong.Option{
		kong.Name("usher"),
		kong.Description("Usher keeps user accounts and authenticates them."),
		kong.DefaultEnvars("USHER"),
		kong.UsageOnError(),
	}
	var usherFile *config.FileResolver
	if path := config.FilePath(args); path != "" {
		var err error
		if usherFile, err = config.LoadFile(path); err != nil {
			fmt.Fprintln(os.Stderr, "usher:", err)
			return 2
		}
	}
	// A Thunder config.yaml is the lowest layer: kong keeps the last
	// resolver's value, so Usher's own file comes after it.
	var thunderFile *config.ThunderFile
	if path := config.ThunderFilePath(args, usherFile); path != "" {
		var err error
		if thunderFile, err = config.LoadThunderFile(path, os.LookupEnv); err != nil {
			fmt.Fprintln(os.Stderr, "usher:", err)
			return 2
		}
		opts = append(opts, kong.Resolvers(thunderFile))
	}
	if usherFile != nil {
		opts = append(opts, kong.Resolvers(usherFile))
	}
	parser, err := kong.New(&c, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "usher:", err)
		return 2
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "usher:", err)
		return 2
	}
	warnUnknownEnv(kctx)
	switch kctx.Command() {
	case "serve":
		var ignored, moved []config.Ignored
		if thunderFile != nil {
			ignored, moved = thunderFile.Ignored, thunderFile.Moved
		}
		return serve(c.Serve.Config, ignored, moved)
	case "migrate":
		return migrate(c.Migrate.Config)
	case "tenant create <name>":
		return admin(c.Tenant.Create.Config, c.Tenant.Create.run)
	case "tenant list":
		return admin(c.Tenant.List.Config, c.Tenant.List.run)
	case "tenant show", "tenant show <tenant>":
		return admin(c.Tenant.Show.Config, c.Tenant.Show.run)
	case "tenant rotate-key <tenant>":
		return admin(c.Tenant.RotateKey.Config, c.Tenant.RotateKey.run)
	case "tenant delete <tenant>":
		return admin(c.Tenant.Delete.Config, c.Tenant.Delete.run)
	case "users import <file>":
		return admin(c.Users.Import.Config, c.Users.Import.run)
	case "users export":
		return admin(c.Users.Export.Config, c.Users.Export.run)
	case "events":
		return admin(c.Events.Config, c.Events.run)
	case "webhooks create <url>":
		return admin(c.Webhooks.Create.Config, c.Webhooks.Create.run)
	case "webhooks list":
		return admin(c.Webhooks.List.Config, c.Webhooks.List.run)
	case "webhooks delete <id>":
		return admin(c.Webhooks.Delete.Config, c.Webhooks.Delete.run)
	case "keys rotate":
		return admin(c.Keys.Rotate.Config, keysRotate)
	case "admin create <email>":
		return admin(c.Admin.Create.Config, c.Admin.Create.run)
	case "admin list":
		return admin(c.Admin.List.Config, c.Admin.List.run)
	case "admin delete <admin>":
		return admin(c.Admin.Delete.Config, c.Admin.Delete.run)
	case "admin reset <admin>":
		return admin(c.Admin.Reset.Config, c.Admin.Reset.run)
	case "version":
		fmt.Println(versionString())
		return 0
	case "hash-worker":
		return c.HashWorker.run()
	}
	return 2
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // the flag's enum already checked it
	return api.NewLogger(logOut, l)
}

func serve(cfg config.Config, thunderIgnored, thunderMoved []config.Ignored) int {
	log := newLogger(cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	m := &Main{Config: cfg, Log: log, Out: os.Stdout, ThunderIgnored: thunderIgnored, ThunderMoved: thunderMoved}
	if err := m.Start(ctx); err != nil {
		log.Error("start-up failed", "event", "startup_failed", "error", err)
		fmt.Fprintln(os.Stderr, "usher:", err)
		_ = m.Close()
		return 1
	}
	log.Info("ready", "event", "ready", "version", versionString(), "tenant_id", m.Tenant.ID, "public_key", m.Tenant.PublicKey)
	// Start-up leaves garbage behind (package initialisers, migrations,
	// certificate generation) that an idle service would otherwise keep
	// resident until the runtime's background scavenger returned it: collect
	// it and give the memory back to the system now, once.
	debug.FreeOSMemory()
	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down", "event", "shutdown")
	case err := <-m.Err():
		log.Error("listener failed", "event", "listener_failed", "error", err)
		code = 1
	}
	if err := m.Close(); err != nil {
		log.Error("shutdown incomplete", "event", "shutdown_failed", "error", err)
		code = 1
	}
	return code
}

func migrate(cfg config.Config) int {
	log := newLogger(cfg.LogLevel)
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "usher:", err)
		return 2
	}
	// migrate creates what it migrates: it is how one prepares a database
	// (and, on SQLite, its data directory) on purpose.
	if err := prepareData(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "usher:", err)
		return 1
	}
	var applied []int64
	var err error
	if cfg.DB != "" {
		applied, err = postgres.Migrate(context.Background(), cfg.DB, pgOptions(&cfg))
	} else {
		applied, err = sqlite.Migrate(context.Background(), SQLitePath(cfg.Data), sqlite.Options{Synchronous: cfg.SQLiteSynchronous})
	}
	if err != nil {
		log.Error("migration failed", "event", "migrate_failed", "error", err)
		return 1
	}
	log.Info("migrated", "event", "migrated", "applied", applied)
	return 0
}

// admin runs an administrative command on the configured data, with the
// core that serve builds.
func admin(cfg config.Config, fn func(context.Context, *config.Config, *core) error) int {
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "usher:", err)
		return 2
	}
	ctx := usher.WithActor(context.Background(), "cli") // the audit log names who acted
	// A command prints what it did; its log says only what went wrong,
	// unless --log-level debug asks for everything.
	level := cfg.LogLevel
	if level == "info" {
		level = "warn"
	}
	k, err := openCore(ctx, &cfg, coreOptions{Now: time.Now, Log: newLogger(level), Existing: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "usher:", err)
		return 1
	}
	defer k.Store.Close()
	if err := fn(ctx, &cfg, k); err != nil {
		fmt.Fprintln(os.Stderr, "usher:", commandError(err))
		return 1
	}
	return 0
}

// commandError is what a command prints of err: a refusal's own message
// (an email taken, a tenant not found), without the database's wording of
// its cause; anything else in full, for the operator to act on.
func commandError(err error) string {
	var e *usher.Error
	if errors.As(err, &e) && e.Code != usher.Internal && e.Code != usher.Unavailable && e.Message != "" {
		return e.Message
	}
	return err.Error()
}

func keysRotate(ctx context.Context, cfg *config.Config, k *core) error {
	kid, err := k.Keys.Rotate(ctx, time.Now())
	if err != nil {
		return err
	}
	if err := k.Accounts.KeyRotated(ctx, kid); err != nil {
		return fmt.Errorf("the key was added, but recording it in the audit log failed: %w", err)
	}
	fmt.Printf("new signing key: %s\nRunning nodes sign with it within 30 seconds; older keys verify until their tokens expire (token-ttl %s).\n", kid, cfg.TokenTTL)
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	// A build from a checkout: name the commit, so two builds can be told
	// apart (go build embeds it unless -buildvcs=false).
	v, dirty := "(devel)", false
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			v += " " + s.Value[:12]
		case s.Key == "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty {
		v += "-dirty"
	}
	return v
}
