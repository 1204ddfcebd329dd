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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apidoc"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/api/public"
	"github.com/usherhq/usher/internal/api/thunder"
	"github.com/usherhq/usher/internal/api/thunderadmin"
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
	// ThunderIgnored are the settings of --thunder-config that Usher does
	// not apply; Start logs one line each.
	ThunderIgnored []config.Ignored
	// ThunderMoved are Usher's own listeners that --thunder-config's ports
	// pushed off their default addresses; Start logs one line each.
	ThunderMoved []config.Ignored

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
	thunderAdmin             *server.Listener // nil when off
	thunderConf              thunder.Config   // the Thunder surface's settings, read at start
	thunderMetrics           *thunderadmin.Registry
	mailFailing              atomic.Bool      // the last delivery attempt failed (the admin's Email check)
	surfaces                 []api.Surface    // what the listeners serve
	proxies                  []netip.Prefix   // trusted-proxies, parsed once
	admin                    *server.Listener // nil when the console is off
	installToken             string           // the first admin's install link, on a fresh install

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
	for _, ig := range m.ThunderIgnored {
		m.Log.Info("thunder setting ignored", "event", "thunder_config_ignored", "setting", ig.Setting, "reason", ig.Reason)
	}
	for _, mv := range m.ThunderMoved {
		m.Log.Warn("listener moved for the Thunder file's ports", "event", "thunder_config_moved", "setting", mv.Setting, "reason", mv.Reason)
	}
	if err := m.readThunder(); err != nil {
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
	if err := thunderMessages(c, templates); err != nil {
		return err
	}
	var sender mail.Sender = mail.NewLogSender(m.Out)
	if c.SMTPHost != "" {
		sender = mail.NewSMTPSender(mail.SMTP{
			Host: c.SMTPHost, Port: c.SMTPPort, Username: c.SMTPUsername, Password: c.SMTPPassword,
			TLS: c.SMTPTLS, From: c.MailFrom, Timeout: 30 * time.Second,
		})
	}
	m.Relay = outbox.New(m.Store, m.countDeliveries(mail.Deliver(k.Box, templates, sender)), m.Log, outbox.Config{
		MaxAttempts: c.MailMaxAttempts, RetryBase: c.MailRetryBase, RetryMax: c.MailRetryMax,
		PollInterval: c.MailPoll, SendTimeout: 30 * time.Second, Now: m.Now, Gather: mailGather,
	})
	m.Webhooks = m.newWebhookRelay()

	if err := m.buildHandlers(ctx); err != nil {
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
	if c.ThunderAdminAddr != "" {
		m.thunderAdmin = &server.Listener{Name: "thunder-admin", Addr: c.ThunderAdminAddr, Caps: caps}
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
	return m.listenAdmin(timeouts)
}

// listeners returns the listeners that are configured.
func (m *Main) listeners() []*server.Listener {
	var ls []*server.Listener
	for _, l := range []*server.Listener{m.backend, m.public, m.thunder, m.thunderAdmin, m.admin} {
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
func (m *Main) buildHandlers(ctx context.Context) error {
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
	backendSurface := api.Surface{Name: "backend", Routes: backendRoutes, Trusted: proxies}
	// The backend's documents are behind mutual TLS like the rest of it.
	withDocs(c, &backendSurface, backend.OpenAPI(), api.ClientCert, apidoc.Info{})
	if err := build(m.backend, backendSurface); err != nil {
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
	publicSurface := api.Surface{
		Name: "public", Routes: pub.Routes(),
		Limit:      api.NewLimiter(c.RatePublic, time.Minute),
		Middleware: []func(http.Handler) http.Handler{corsMiddleware},
		Trusted:    proxies,
	}
	// The public documents need no key: they describe the API, they open
	// nothing, and a developer reads them before having a key.
	withDocs(c, &publicSurface, public.OpenAPI(), api.Open, apidoc.Info{})
	err := build(m.public, publicSurface)
	if err != nil {
		return err
	}
	if m.admin != nil {
		con, err := m.buildConsole(ctx)
		if err != nil {
			return err
		}
		s := con.Surface()
		s.Trusted = proxies
		if err := build(m.admin, s); err != nil {
			return err
		}
	}
	if m.thunderAdmin != nil {
		if err := build(m.thunderAdmin, m.thunderAdminSurface()); err != nil {
			return err
		}
	}
	if m.thunder == nil {
		return nil
	}
	tc := m.thunderConf
	if err := m.bindThunderApps(&tc); err != nil {
		return err
	}
	th := thunder.New(m.Accounts, m.Tenant.ID, tc)
	s := th.Surface()
	s.Trusted = proxies
	// Thunder serves its documents at its root, without credentials.
	info := apidoc.Info{Title: c.ThunderOpenAPITitle, Description: c.ThunderOpenAPIDescription}
	if !c.ThunderEmail {
		info.Omit = []string{"/verify"} // absent with email off, as in Thunder
	}
	withDocs(c, &s, thunder.OpenAPI(), api.Open, info)
	// Thunder meters its Swagger UI page (not the documents or assets).
	for i, r := range s.Routes {
		if r.Pattern == "GET "+apidoc.PathSwagger {
			s.Routes[i].Handler = th.Metered(thunder.MeterSwagger, r.Handler)
		}
	}
	return build(m.thunder, s)
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
	if addr := m.ThunderAdminAddr(); addr != "" {
		fmt.Fprintf(m.Out, "  Thunder admin: http://%s/healthcheck\n", addr)
	}
	if m.admin != nil {
		fmt.Fprintf(m.Out, "  Admin console: %s\n", m.adminURL())
		if m.installToken != "" {
			// Printed, never logged: whoever holds it creates the first admin.
			fmt.Fprintf(m.Out, "  No admin exists yet. Create the first one (this link works until one exists; usher admin create EMAIL also does):\n    %s/install?token=%s\n",
				m.adminURL(), m.installToken)
		}
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

// ThunderAdminAddr returns the bound address of the Thunder admin
// listener, or "".
func (m *Main) ThunderAdminAddr() string {
	if m.thunderAdmin == nil {
		return ""
	}
	return m.thunderAdmin.BoundAddr()
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

// mailGather is how long the mail relay waits after an email is queued
// before it looks (outbox.Config.Gather): emails queued within it go out in
// one claim and are recorded sent in one write. Under a burst of sign-ups
// that saves two durable commits for each email that shares a batch
// (600 -> 463 fsyncs for 200 registers at about 26 a second); the
// recipient waits 50 ms more.
const mailGather = 50 * time.Millisecond
