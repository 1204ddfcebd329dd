package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
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
	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/transfer"
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
	Webhooks *outbox.WebhookRelay
	DevCA    server.DevFiles   // set when the development CA is in use
	events   *accountEvents    // the use cases' events, counted for /metrics
	hashProc *password.Offload // the hashing process (hash-priority low or idle); nil: hashing in this process

	backend, public, thunder *server.Listener // thunder is nil when off
	surfaces                 []api.Surface    // what the listeners serve
	proxies                  []netip.Prefix   // trusted-proxies, parsed once

	errc chan error
	stop context.CancelFunc
	jobs sync.WaitGroup
}

// Start binds every listener, opens the store and builds the core, then
// starts serving and the background jobs. It returns once Usher is ready;
// Close stops it.
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
	if err := m.listen(); err != nil {
		return err
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
	m.events = newAccountEvents()
	if m.HashParams == nil && c.HashPriority != "normal" {
		var err error
		if m.hashProc, err = startHashProcess(c); err != nil {
			m.Log.Warn("password hashing stays in this process, at the priority of everything else", "event", "config_warning",
				"setting", "hash-priority", "error", err.Error())
		}
	}
	k, err := openCore(ctx, c, coreOptions{HashParams: m.HashParams, Now: m.Now, Log: m.Log, Notify: m.notify, Issuer: issuer,
		Events: m.events, HashOffload: m.hashProc})
	if err != nil {
		return err
	}
	m.Store, m.Keys, m.Hasher, m.Accounts, m.Tenant = k.Store, k.Keys, k.Hasher, k.Accounts, k.Tenant

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
	m.Relay = outbox.New(m.Store, mail.Deliver(k.Box, templates, sender), m.Log, outbox.Config{
		MaxAttempts: c.MailMaxAttempts, RetryBase: c.MailRetryBase, RetryMax: c.MailRetryMax,
		PollInterval: c.MailPoll, SendTimeout: 30 * time.Second, Now: m.Now,
	})
	m.Webhooks = m.newWebhookRelay()

	if err := m.buildHandlers(); err != nil {
		return err
	}
	m.startJobs()
	m.errc = make(chan error, len(m.listeners()))
	for _, l := range m.listeners() {
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

// notify wakes the mail relay, once there is one.
func (m *Main) notify() {
	if m.Relay != nil {
		m.Relay.Notify()
	}
}

// listen binds the listeners (the backend's with mutual TLS).
func (m *Main) listen() error {
	c := &m.Config
	tlsConfig, err := m.backendTLS(m.Now().UTC())
	if err != nil {
		return err
	}
	m.proxies, _ = c.Proxies() // checked by Validate
	caps := server.Caps{Total: c.MaxConns, PerIP: c.MaxConnsPerIP, Trust: m.proxies}
	m.backend = &server.Listener{Name: "backend", Addr: c.BackendAddr, TLS: tlsConfig, Caps: caps}
	m.public = &server.Listener{Name: "public", Addr: c.PublicAddr, Caps: caps}
	if c.PublicTLSCert != "" {
		if m.public.TLS, err = server.ServerTLS(c.PublicTLSCert, c.PublicTLSKey); err != nil {
			return fmt.Errorf("public-tls-cert: %w", err)
		}
	}
	if c.ThunderAddr != "" {
		m.thunder = &server.Listener{Name: "thunder", Addr: c.ThunderAddr, Caps: caps}
	}
	timeouts := server.Timeouts{ReadHeader: c.ReadHeaderTimeout, Read: c.ReadTimeout, Write: c.WriteTimeout, Idle: c.IdleTimeout}
	for _, l := range m.listeners() {
		t := timeouts
		if l == m.public {
			t.Idle = c.PublicIdleTimeout
		}
		if err := l.Listen(t, m.Log); err != nil {
			return err
		}
	}
	return nil
}

// listeners returns the listeners that are configured.
func (m *Main) listeners() []*server.Listener {
	var ls []*server.Listener
	for _, l := range []*server.Listener{m.backend, m.public, m.thunder} {
		if l != nil {
			ls = append(ls, l)
		}
	}
	return ls
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

// buildHandlers builds each listener's surface.
func (m *Main) buildHandlers() error {
	c := &m.Config
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerHashMetrics(reg, m.Hasher)
	m.registerDataMetrics(reg)
	metrics := api.NewMetrics(reg)
	build := func(l *server.Listener, s api.Surface) error {
		h, err := s.Handler(m.Log, metrics, c.LogRequests)
		l.Handler = h
		m.surfaces = append(m.surfaces, s)
		return err
	}

	ready := func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		return m.Accounts.Ready(ctx)
	}
	backendRoutes := append(backend.New(m.Accounts, &transfer.Transfer{Accounts: m.Accounts}, m.Tenant.ID).Routes(),
		backend.Ops(ready, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))...)
	proxies := m.proxies
	if err := build(m.backend, api.Surface{Name: "backend", Routes: backendRoutes, Trusted: proxies}); err != nil {
		return err
	}

	jwks := func() ([]byte, error) { return m.Keys.JWKS(m.Now()) }
	pub := public.New(m.Accounts, m.Tenant.ID, jwks, api.NewLimiter(c.RateAuth, time.Minute))
	corsMiddleware := cors.New(cors.Options{
		AllowedOrigins: c.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowedHeaders: []string{"SB-PUBLIC-KEY", "Authorization", "Content-Type", "X-Request-ID"},
		ExposedHeaders: []string{"X-Request-ID", "Retry-After"},
		MaxAge:         600,
	}).Handler
	err := build(m.public, api.Surface{
		Name: "public", Routes: pub.Routes(),
		Limit:      api.NewLimiter(c.RatePublic, time.Minute),
		Middleware: []func(http.Handler) http.Handler{corsMiddleware},
		Trusted:    proxies,
	})
	if err != nil || m.thunder == nil {
		return err
	}
	tc, err := thunderConfig(c)
	if err != nil {
		return err
	}
	if err := m.bindThunderApps(&tc); err != nil {
		return err
	}
	s := thunder.New(m.Accounts, m.Tenant.ID, tc).Surface()
	s.Trusted = proxies
	return build(m.thunder, s)
}

// thunderConfig reads the Thunder surface's settings.
func thunderConfig(c *config.Config) (thunder.Config, error) {
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
			return tc, fmt.Errorf("invalid setting thunder-property: %w", err)
		}
		tc.Properties.Allowed = append(tc.Properties.Allowed, prop)
	}
	return tc, nil
}

// bindThunderApps puts each Thunder application in the tenant that
// thunder-app-tenant binds it to; an unknown tenant stops the start.
func (m *Main) bindThunderApps(tc *thunder.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, b := range m.Config.ThunderAppTenants {
		name, ref, _ := strings.Cut(b, "=") // checked by Validate
		t, err := m.Accounts.Tenant(ctx, ref)
		if err != nil {
			return fmt.Errorf("invalid setting thunder-app-tenant: tenant %q of application %q: %w", ref, name, err)
		}
		for i := range tc.Apps {
			if tc.Apps[i].Name == name {
				tc.Apps[i].Tenant = t.ID
			}
		}
	}
	return nil
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
	run("webhooks", m.Webhooks.Run)
	run("events-prune", m.pruneEvents)
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
	if addr := m.ThunderAddr(); addr != "" {
		fmt.Fprintf(m.Out, "  Thunder API: http://%s\n", addr)
	}
	if m.Config.SMTPHost == "" {
		fmt.Fprintln(m.Out, "  No SMTP server configured: emails are printed here.")
	}
}

// BackendAddr returns the bound address of the backend listener.
func (m *Main) BackendAddr() string { return m.backend.BoundAddr() }

// PublicAddr returns the bound address of the public listener.
func (m *Main) PublicAddr() string { return m.public.BoundAddr() }

// ThunderAddr returns the bound address of the Thunder listener, or "".
func (m *Main) ThunderAddr() string {
	if m.thunder == nil {
		return ""
	}
	return m.thunder.BoundAddr()
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
	for _, l := range m.listeners() {
		errs = append(errs, l.Shutdown(ctx))
	}
	if m.stop != nil {
		m.stop()
		m.jobs.Wait()
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	if m.hashProc != nil {
		errs = append(errs, m.hashProc.Close())
	}
	err := errors.Join(errs...)
	if err == nil && m.Log != nil {
		m.Log.Info("stopped", "event", "stopped")
	}
	return err
}
