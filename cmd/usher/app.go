package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/server"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/store/postgres"
	"github.com/usherhq/usher/internal/store/sqlite"
	"github.com/usherhq/usher/internal/usher"
)

// Main is one running Usher: its store, services and listeners. Tests start
// it in-process on ":0".
type Main struct {
	Config config.Config
	Log    *slog.Logger
	Out    io.Writer // where the start-up hints (curl command) go

	// HashParams overrides the argon2id parameters; tests use cheap ones.
	// Production always runs password.Default.
	HashParams *password.Params
	// Now overrides the clock of the account service (tests).
	Now func() time.Time

	Store    *store.Store
	Hasher   *password.Hasher
	Accounts *account.Service
	Tenant   usher.Tenant
	DevCA    server.DevFiles // set when the development CA is in use

	listeners []*server.Listener
	errc      chan error
}

// SQLitePath is the database file inside the data directory.
func SQLitePath(dataDir string) string { return filepath.Join(dataDir, "usher.db") }

// Start opens the store, binds every listener and starts serving. It
// returns once Usher is ready; Close stops it.
func (m *Main) Start(ctx context.Context) error {
	c := &m.Config
	if m.Log == nil {
		m.Log = slog.New(slog.DiscardHandler)
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if m.Out == nil {
		m.Out = io.Discard
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}

	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	m.Store = st
	now := time.Now().UTC()
	m.Tenant, err = st.EnsureTenant(ctx, usher.Tenant{
		ID: usher.DefaultTenantID, Name: "default", PublicKey: usher.NewID(now), CreatedAt: now,
	})
	if err != nil {
		return fmt.Errorf("default tenant: %w", err)
	}

	certFile, keyFile, clientCA := c.TLSCert, c.TLSKey, c.ClientCA
	if certFile == "" {
		files, created, err := server.EnsureDevCA(c.Data, now)
		if err != nil {
			return fmt.Errorf("development certificates: %w", err)
		}
		if created {
			m.Log.Info("created development certificate authority", "event", "dev_ca_created", "dir", filepath.Dir(files.CA))
		}
		m.DevCA = files
		certFile, keyFile = files.ServerCert, files.ServerKey
		if clientCA == "" {
			clientCA = files.CA
		}
	}
	tlsConfig, err := server.MutualTLS(certFile, keyFile, clientCA)
	if err != nil {
		return err
	}

	params := password.Default
	if m.HashParams != nil {
		params = *m.HashParams
	}
	workers := c.HashWorkers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	m.Hasher = password.NewHasher(params, password.NewPool(workers, c.HashQueue, c.HashMaxWait))
	m.Accounts = account.New(account.Config{
		Store:   st,
		Hasher:  m.Hasher,
		Policy:  password.Policy{Min: c.PasswordMin, Max: c.PasswordMax},
		Lockout: account.Lockout{Max: c.LockoutMax, Window: c.LockoutWindow},
		Log:     m.Log,
		Now:     m.Now,
	})

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := api.NewMetrics(reg)

	ready := func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		return m.Accounts.Ready(ctx)
	}
	backendRoutes := append(backend.New(m.Accounts, m.Tenant.ID).Routes(),
		backend.Ops(ready, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))...)
	backendHandler, err := m.handler("backend", backendRoutes, metrics)
	if err != nil {
		return err
	}
	publicHandler, err := m.handler("public", []api.Route{
		{Pattern: "GET /healthz", Auth: api.Public, Handler: func(w http.ResponseWriter, r *http.Request) error {
			api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
			return nil
		}},
	}, metrics)
	if err != nil {
		return err
	}

	m.listeners = []*server.Listener{
		{Name: "backend", Addr: c.BackendAddr, TLS: tlsConfig, Handler: backendHandler},
		{Name: "public", Addr: c.PublicAddr, Handler: publicHandler},
	}
	timeouts := server.Timeouts{ReadHeader: c.ReadHeaderTimeout, Read: c.ReadTimeout, Write: c.WriteTimeout, Idle: c.IdleTimeout}
	for _, l := range m.listeners {
		if err := l.Listen(timeouts, m.Log); err != nil {
			return err
		}
	}
	m.errc = make(chan error, len(m.listeners))
	for _, l := range m.listeners {
		scheme := "http"
		if l.TLS != nil {
			scheme = "https"
		}
		m.Log.Info("listening", "event", "listening", "listener", l.Name, "addr", l.BoundAddr(), "url", scheme+"://"+l.BoundAddr())
		go func() { m.errc <- l.Serve() }()
	}
	if m.DevCA.CA != "" {
		fmt.Fprintf(m.Out, "Backend API (mutual TLS) with the development client certificate:\n"+
			"  curl --cacert %s --cert %s --key %s https://%s/healthz\n",
			m.DevCA.CA, m.DevCA.ClientCert, m.DevCA.ClientKey, m.BackendAddr())
	}
	return nil
}

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

func (m *Main) handler(surface string, routes []api.Route, metrics *api.Metrics) (http.Handler, error) {
	mux, err := api.Mux(routes, m.Log)
	if err != nil {
		return nil, err
	}
	return api.Wrap(surface, api.NotFound(mux, m.Log), m.Log, metrics, m.Config.LogRequests), nil
}

// BackendAddr returns the bound address of the backend listener.
func (m *Main) BackendAddr() string { return m.listeners[0].BoundAddr() }

// PublicAddr returns the bound address of the public listener.
func (m *Main) PublicAddr() string { return m.listeners[1].BoundAddr() }

// Err delivers a listener's failure while serving.
func (m *Main) Err() <-chan error { return m.errc }

// Close drains in-flight requests (up to the shutdown timeout), then closes
// the store.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, l := range m.listeners {
		errs = append(errs, l.Shutdown(ctx))
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	err := errors.Join(errs...)
	if err == nil && m.Log != nil {
		m.Log.Info("stopped", "event", "stopped")
	}
	return err
}
