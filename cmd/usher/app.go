package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/api/public"
	"github.com/usherhq/usher/internal/api/thunder"
	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/mail"
	"github.com/usherhq/usher/internal/outbox"
	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/server"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/store/postgres"
	"github.com/usherhq/usher/internal/store/sqlite"
	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// Main is one running Usher: its store, services, listeners and background
// jobs. Tests start it in-process on ":0".
type Main struct {
	Config config.Config
	Log    *slog.Logger
	Out    io.Writer // start-up hints (curl commands) and, in development, emails

	// HashParams overrides the argon2id parameters; tests use cheap ones.
	// Production always runs password.Default.
	HashParams *password.Params
	// Now overrides the clock of use cases and tokens (tests).
	Now func() time.Time

	Store    *store.Store
	Hasher   *password.Hasher
	Accounts *account.Service
	Tenant   usher.Tenant
	Keys     *token.Keyring
	Relay    *outbox.Relay
	DevCA    server.DevFiles // set when the development CA is in use

	listeners []*server.Listener
	errc      chan error
	stop      context.CancelFunc
	jobs      sync.WaitGroup
}

// SQLitePath is the database file inside the data directory.
func SQLitePath(dataDir string) string { return filepath.Join(dataDir, "usher.db") }

// Start opens the store, binds every listener, starts serving and the
// background jobs. It returns once Usher is ready; Close stops it.
func (m *Main) Start(ctx context.Context) error {
	c := &m.Config
	if m.Log == nil {
		m.Log = slog.New(slog.DiscardHandler)
	}
	if m.Out == nil {
		m.Out = io.Discard
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}

	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	m.Store = st
	now := m.Now().UTC()
	m.Tenant, err = st.EnsureTenant(ctx, usher.Tenant{
		ID: usher.DefaultTenantID, Name: "default", PublicKey: newPublicKey(), CreatedAt: now,
	})
	if err != nil {
		return fmt.Errorf("default tenant: %w", err)
	}
	box, err := dataBox(c)
	if err != nil {
		return err
	}
	m.Keys = token.NewKeyring(st, box, c.TokenTTL)
	if err := m.Keys.Ensure(ctx, now); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}

	tlsConfig, err := m.backendTLS(now)
	if err != nil {
		return err
	}
	m.listeners = []*server.Listener{
		{Name: "backend", Addr: c.BackendAddr, TLS: tlsConfig},
		{Name: "public", Addr: c.PublicAddr},
	}
	if c.ThunderAddr != "" {
		m.listeners = append(m.listeners, &server.Listener{Name: "thunder", Addr: c.ThunderAddr})
	}
	timeouts := server.Timeouts{ReadHeader: c.ReadHeaderTimeout, Read: c.ReadTimeout, Write: c.WriteTimeout, Idle: c.IdleTimeout}
	for _, l := range m.listeners {
		if err := l.Listen(timeouts, m.Log); err != nil {
			return err
		}
	}
	publicURL := c.PublicBaseURL(m.PublicAddr())
	issuer := c.TokenIssuer
	if issuer == "" {
		issuer = publicURL
	}
	if c.DB != "" && c.PublicURL == "" && c.TokenIssuer == "" {
		m.Log.Warn("public-url is not set: this node names itself as token issuer, so other nodes will refuse its tokens",
			"event", "config_warning", "setting", "public-url")
	}

	params := password.Default
	if m.HashParams != nil {
		params = *m.HashParams
	}
	workers := c.HashWorkers
	if workers == 0 {
		// Leave one CPU to everything else, so a login flood cannot take
		// the latency of the other endpoints with it.
		workers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	m.Hasher = password.NewHasher(params, password.NewPool(workers, c.HashQueue, c.HashMaxWait))

	templates, err := mail.LoadTemplates(c.MailTemplates, publicURL, c.ResetTTL, c.VerifyTTL)
	if err != nil {
		return err
	}
	var sender mail.Sender = mail.NewLogSender(m.Out)
	if c.SMTPHost != "" {
		sender = mail.NewSMTPSender(mail.SMTP{
			Host: c.SMTPHost, Port: c.SMTPPort, Username: c.SMTPUsername, Password: c.SMTPPassword,
			TLS: c.SMTPTLS, From: c.MailFrom, Timeout: 30 * time.Second,
		})
	}
	m.Relay = outbox.New(st, deliverer(box, templates, sender), m.Log, outbox.Config{
		MaxAttempts: c.MailMaxAttempts, RetryBase: c.MailRetryBase, RetryMax: c.MailRetryMax,
		PollInterval: c.MailPoll, SendTimeout: 30 * time.Second, Now: m.Now,
	})

	m.Accounts = account.New(account.Config{
		Store:      st,
		Hasher:     m.Hasher,
		Policy:     password.Policy{Min: c.PasswordMin, Max: c.PasswordMax, AllowCommon: c.PasswordAllowCommon},
		Lockout:    account.Lockout{Max: c.LockoutMax, Window: c.LockoutWindow},
		Tokens:     token.NewTokens(m.Keys, issuer, c.TokenCacheSize, m.Now),
		Box:        box,
		SessionTTL: c.TokenTTL,
		Reset:      account.Reset{TTL: c.ResetTTL, MaxTries: c.ResetMaxTries, PerHour: c.ResetPerHour},
		Verify:     account.Verify{TTL: c.VerifyTTL, OnRegister: c.VerifyOnRegister},
		Notify:     m.Relay.Notify,
		Log:        m.Log,
		Now:        m.Now,
	})

	if err := m.buildHandlers(); err != nil {
		return err
	}
	m.startJobs()
	m.errc = make(chan error, len(m.listeners))
	for _, l := range m.listeners {
		scheme := "http"
		if l.TLS != nil {
			scheme = "https"
		}
		m.Log.Info("listening", "event", "listening", "listener", l.Name, "addr", l.BoundAddr(), "url", scheme+"://"+l.BoundAddr())
		go func() { m.errc <- l.Serve() }()
	}
	m.printHints(publicURL)
	return nil
}

func (m *Main) backendTLS(now time.Time) (*tls.Config, error) {
	c := &m.Config
	certFile, keyFile, clientCA := c.TLSCert, c.TLSKey, c.ClientCA
	if certFile == "" {
		files, created, err := server.EnsureDevCA(c.Data, now)
		if err != nil {
			return nil, fmt.Errorf("development certificates: %w", err)
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
	return server.MutualTLS(certFile, keyFile, clientCA)
}

func (m *Main) buildHandlers() error {
	c := &m.Config
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerHashMetrics(reg, m.Hasher)
	metrics := api.NewMetrics(reg)

	ready := func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		return m.Accounts.Ready(ctx)
	}
	backendRoutes := append(backend.New(m.Accounts, m.Tenant.ID).Routes(),
		backend.Ops(ready, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))...)
	backendHandler, err := m.handler("backend", backendRoutes, metrics, nil)
	if err != nil {
		return err
	}

	proxies, _ := c.Proxies() // checked by Validate
	auth := &api.Auth{
		Tenant: m.Accounts.TenantByKey,
		Authenticate: func(ctx context.Context, tenantID, tok string) (usher.User, string, error) {
			u, claims, err := m.Accounts.Authenticate(ctx, tenantID, tok)
			return u, claims.SessionID, err
		},
	}
	jwks := func() ([]byte, error) { return m.Keys.JWKS(m.Now()) }
	pub := public.New(m.Accounts, m.Tenant.ID, jwks, api.RateLimit(c.RateAuth, time.Minute, proxies, m.Log))
	corsMiddleware := cors.New(cors.Options{
		AllowedOrigins: c.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowedHeaders: []string{"SB-PUBLIC-KEY", "Authorization", "Content-Type", "X-Request-ID"},
		ExposedHeaders: []string{"X-Request-ID", "Retry-After"},
		MaxAge:         600,
	}).Handler
	publicHandler, err := m.handler("public", pub.Routes(), metrics, auth,
		corsMiddleware, api.RateLimit(c.RatePublic, time.Minute, proxies, m.Log))
	if err != nil {
		return err
	}

	m.listeners[0].Handler = backendHandler
	m.listeners[1].Handler = publicHandler
	if len(m.listeners) > 2 {
		th, err := m.thunderHandler(metrics)
		if err != nil {
			return err
		}
		m.listeners[2].Handler = th
	}
	return nil
}

// thunderHandler builds the Thunder surface from its settings.
func (m *Main) thunderHandler(metrics *api.Metrics) (http.Handler, error) {
	c := &m.Config
	tc := thunder.Config{
		HeaderCheck: c.ThunderHeaderCheck,
		Properties:  thunder.Properties{AllowSubset: c.ThunderAllowSubset, AllowSuperset: c.ThunderAllowSuperset},
	}
	for _, a := range c.ThunderApps {
		name, secret, _ := strings.Cut(a, ":") // checked by Validate
		tc.Apps = append(tc.Apps, thunder.App{Name: name, Secret: secret})
	}
	for _, p := range c.ThunderProperties {
		prop, err := thunder.ParseProperty(p)
		if err != nil {
			return nil, fmt.Errorf("invalid setting thunder-property: %w", err)
		}
		tc.Properties.Allowed = append(tc.Properties.Allowed, prop)
	}
	h, err := thunder.New(m.Accounts, m.Tenant.ID, tc, m.Log).Mux()
	if err != nil {
		return nil, err
	}
	return api.Wrap("thunder", h, m.Log, metrics, c.LogRequests), nil
}

// handler builds a surface: the common middleware (request id, recovery,
// metrics, access log), then the given middleware in order, then the routes.
func (m *Main) handler(surface string, routes []api.Route, metrics *api.Metrics, auth *api.Auth,
	middleware ...func(http.Handler) http.Handler) (http.Handler, error) {
	mux, err := api.Mux(routes, m.Log, auth)
	if err != nil {
		return nil, err
	}
	h := api.NotFound(mux, m.Log)
	for i := len(middleware) - 1; i >= 0; i-- {
		h = middleware[i](h)
	}
	return api.Wrap(surface, h, m.Log, metrics, m.Config.LogRequests), nil
}

// startJobs starts the background jobs: the mail relay, the signing-key
// refresh, and the sweep of expired rows. Close stops and awaits them.
func (m *Main) startJobs() {
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	run := func(name string, fn func(context.Context) error) {
		m.jobs.Add(1)
		go func() {
			defer m.jobs.Done()
			if err := fn(ctx); err != nil {
				m.Log.Error("background job stopped", "event", "job_failed", "job", name, "error", err)
			}
		}()
	}
	run("relay", m.Relay.Run)
	run("keys", func(ctx context.Context) error {
		return m.Keys.Run(ctx, 30*time.Second, func(err error) {
			m.Log.Error("signing key refresh failed", "event", "key_refresh_failed", "error", err)
		})
	})
	run("sweep", func(ctx context.Context) error {
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			if err := m.Store.Sweep(ctx, m.Now()); err != nil && ctx.Err() == nil {
				m.Log.Warn("sweep failed", "event", "sweep_failed", "error", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
}

func (m *Main) printHints(publicURL string) {
	fmt.Fprintf(m.Out, "Usher is ready.\n  Public API:  %s   (SB-PUBLIC-KEY: %s)\n", publicURL, m.Tenant.PublicKey)
	if m.DevCA.CA != "" {
		fmt.Fprintf(m.Out, "  Backend API (mutual TLS) with the development client certificate:\n"+
			"    curl --cacert %s --cert %s --key %s https://%s/healthz\n",
			m.DevCA.CA, m.DevCA.ClientCert, m.DevCA.ClientKey, m.BackendAddr())
	}
	if m.Config.SMTPHost == "" {
		fmt.Fprintln(m.Out, "  No SMTP server configured: emails are printed here.")
	}
}

// deliverer opens a queued message, renders it and sends it.
func deliverer(box *token.Box, t *mail.Templates, s mail.Sender) outbox.Deliver {
	return func(ctx context.Context, msg usher.Message) error {
		raw, err := box.Open(msg.Params, account.OutboxSealContext(msg.ID))
		if err != nil {
			return err
		}
		var p usher.MailParams
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		e, err := t.Render(msg.Kind, msg.To, p)
		if err != nil {
			return err
		}
		return s.Send(ctx, e)
	}
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

// dataBox returns the Box of the data key: --secret-key, or the key file
// in the data directory (created on first start).
func dataBox(c *config.Config) (*token.Box, error) {
	if c.SecretKey != "" {
		k, _ := base64.StdEncoding.DecodeString(c.SecretKey) // checked by Validate
		return token.NewBox(k)
	}
	path := filepath.Join(c.Data, "secret.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := make([]byte, 32)
		rand.Read(k)
		enc := base64.StdEncoding.EncodeToString(k) + "\n"
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		if _, err := f.WriteString(enc); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		b = []byte(enc)
	} else if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("secret key %s: not 32 bytes of base64", path)
	}
	return token.NewBox(k)
}

// newPublicKey returns a tenant public key. It is not a secret (browsers
// send it), only an unguessable name.
func newPublicKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "pk_" + base64.RawURLEncoding.EncodeToString(b)
}

// BackendAddr returns the bound address of the backend listener.
func (m *Main) BackendAddr() string { return m.listeners[0].BoundAddr() }

// PublicAddr returns the bound address of the public listener.
func (m *Main) PublicAddr() string { return m.listeners[1].BoundAddr() }

// ThunderAddr returns the bound address of the Thunder listener, or "".
func (m *Main) ThunderAddr() string {
	if len(m.listeners) < 3 {
		return ""
	}
	return m.listeners[2].BoundAddr()
}

// Err delivers a listener's failure while serving.
func (m *Main) Err() <-chan error { return m.errc }

// Close drains in-flight requests (up to the shutdown timeout), stops the
// background jobs (a send in progress finishes or is retried later), then
// closes the store.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, l := range m.listeners {
		errs = append(errs, l.Shutdown(ctx))
	}
	if m.stop != nil {
		m.stop()
		m.jobs.Wait()
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
