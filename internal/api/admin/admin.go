// Package admin serves the admin console: a listener of its own where
// operators, signed in with admin accounts, manage users, tenants, signing
// keys and email. Pages are rendered on the server from embedded templates;
// one small script of our own adds an import progress bar and live JSON
// checks, and every page works without it. Sessions live in HttpOnly,
// SameSite=Strict cookies; every state change carries the session's CSRF
// token and must come from the console's own origin.
package admin

import (
	"context"
	"crypto/subtle"
	"embed"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/usher"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Transfer streams users in and out as JSON lines (internal/transfer).
type Transfer interface {
	Import(ctx context.Context, tenantID string, r io.Reader, opts account.ImportOptions, report func(account.ImportResult)) (account.ImportSummary, error)
	Export(ctx context.Context, tenantID string, w io.Writer, withHashes bool) (int, error)
}

// Key is one token signing key as the keys page shows it.
type Key struct {
	KID       string
	CreatedAt time.Time
	RetiredAt time.Time // zero while it signs
}

// Keys lists and rotates the token signing keys (the keyring).
type Keys interface {
	List(ctx context.Context) ([]Key, error)
	Rotate(ctx context.Context) (string, error)
}

// PoolLoad is the password hashing pool's load now.
type PoolLoad struct {
	Workers, Running, Queued int
}

// Config is what the console needs besides the use cases.
type Config struct {
	Accounts *account.Service
	Transfer Transfer
	Keys     Keys
	Pool     func() PoolLoad
	// Secure is set when browsers reach the console over TLS (its own, or
	// a TLS proxy's): cookies get the Secure flag and the __Host- prefix.
	// Plain HTTP is allowed on loopback only.
	Secure bool
	// Origin is the console's origin as browsers see it (scheme://host),
	// when a proxy in front may make it differ from the listener's own;
	// state changes from it are accepted as well. "": the listener's only.
	Origin string
	// InstallToken lets the first admin of a fresh install sign up; "" once
	// an admin exists.
	InstallToken string
	// RateAuth limits sign-in posts and setup and install pages and posts,
	// together, per client IP per minute (0: no limit).
	RateAuth int
	Log      *slog.Logger
	Now      func() time.Time
}

// Console serves the admin console.
type Console struct {
	c       Config
	pages   *pages
	imports chan struct{}
}

// maxImports bounds the console imports one node runs at once.
const maxImports = 1

// New returns a Console.
func New(c Config) (*Console, error) {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	return &Console{c: c, pages: p, imports: make(chan struct{}, maxImports)}, nil
}

// Surface is the console's listener surface.
func (c *Console) Surface() api.Surface {
	return api.Surface{
		Name:       "admin",
		Routes:     c.Routes(),
		Render:     c.renderError,
		NoRoute:    c.noRoute,
		Middleware: []func(http.Handler) http.Handler{securityHeaders},
	}
}

// Routes is the console's route table. Each row names its guard: open
// (sign-in, setup, assets) or a live session; state changes also check
// the CSRF token and the origin (csrf below).
func (c *Console) Routes() []api.Route {
	auth := api.NewLimiter(c.c.RateAuth, time.Minute)
	s := c.session()
	return []api.Route{
		{Pattern: "GET /assets/{file}", Guard: api.Open, Handler: serveAsset, Exempt: true},
		{Pattern: "GET /healthz", Guard: api.Open, Handler: healthz, Exempt: true},
		{Pattern: "GET /login", Guard: api.Open, Handler: c.loginPage},
		{Pattern: "POST /login", Guard: c.preSession(), Limit: auth, Handler: c.login},
		// The setup and install pages look their link up (the setup link in
		// a write transaction): limited like the posts, being open.
		{Pattern: "GET /setup", Guard: api.Open, Limit: auth, Handler: c.setupPage},
		{Pattern: "POST /setup", Guard: c.preSession(), Limit: auth, Handler: c.setup},
		{Pattern: "GET /install", Guard: api.Open, Limit: auth, Handler: c.installPage},
		{Pattern: "POST /install", Guard: c.preSession(), Limit: auth, Handler: c.install},
		// Signing out needs no second factor: an admin the server still
		// waits on to turn one on must be able to end the session.
		{Pattern: "POST /logout", Guard: c.sessionAllowingNoTOTP(), Handler: c.logout},

		{Pattern: "GET /{$}", Guard: s, Handler: redirectTo("/users")},
		{Pattern: "GET /account", Guard: c.sessionAllowingNoTOTP(), Handler: c.accountPage},
		{Pattern: "POST /account/totp", Guard: c.sessionAllowingNoTOTP(), Handler: c.enrollTOTP},
		{Pattern: "POST /account/totp/confirm", Guard: c.sessionAllowingNoTOTP(), Handler: c.confirmTOTP},

		{Pattern: "GET /users", Guard: s, Handler: c.usersPage},
		{Pattern: "GET /users/{id}", Guard: s, Handler: c.userPage},
		{Pattern: "POST /users/{id}/email", Guard: s, Handler: c.userAction(c.setEmail)},
		{Pattern: "POST /users/{id}/enabled", Guard: s, Handler: c.userAction(c.setEnabled)},
		{Pattern: "POST /users/{id}/confirmed", Guard: s, Handler: c.userAction(c.setConfirmed)},
		{Pattern: "POST /users/{id}/verification", Guard: s, Handler: c.userAction(c.sendVerification)},
		{Pattern: "POST /users/{id}/reset", Guard: s, Handler: c.userAction(c.sendReset)},
		{Pattern: "POST /users/{id}/unlock", Guard: s, Handler: c.userAction(c.unlock)},
		{Pattern: "POST /users/{id}/sessions/end", Guard: s, Handler: c.userAction(c.endSessions)},
		{Pattern: "POST /users/{id}/data", Guard: s, Handler: c.setData},
		{Pattern: "POST /users/{id}/delete", Guard: s, Handler: c.deleteUser},

		{Pattern: "GET /import", Guard: s, Handler: c.importPage},
		{Pattern: "POST /import", Guard: c.sessionMultipart(), Handler: c.importUsers},
		{Pattern: "GET /export", Guard: s, Handler: c.exportUsers},

		{Pattern: "GET /tenants", Guard: s, Handler: c.tenantsPage},
		{Pattern: "POST /tenants", Guard: s, Handler: c.createTenant},
		{Pattern: "POST /tenants/{id}/rotate", Guard: s, Handler: c.rotateTenantKey},
		{Pattern: "POST /tenants/{id}/delete", Guard: s, Handler: c.deleteTenant},
		{Pattern: "GET /keys", Guard: s, Handler: c.keysPage},
		{Pattern: "POST /keys/rotate", Guard: s, Handler: c.rotateKey},
		{Pattern: "GET /email", Guard: s, Handler: c.emailPage},
		{Pattern: "POST /email/{id}/retry", Guard: s, Handler: c.retryEmail},
		{Pattern: "POST /email/{id}/discard", Guard: s, Handler: c.discardEmail},
		{Pattern: "GET /activity", Guard: s, Handler: c.activityPage},
	}
}

func healthz(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := io.WriteString(w, "ok\n")
	return err
}

func redirectTo(path string) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		http.Redirect(w, r, path, http.StatusSeeOther)
		return nil
	}
}

// securityHeaders sets the headers every console response carries: a
// strict Content-Security-Policy (our own script and style only, no inline
// script or style), no framing, no sniffing, and no referrer to other
// sites. Referrer-Policy is same-origin, not no-referrer: under no-referrer
// browsers send "Origin: null" on the console's own form posts, and the
// origin check needs the real one.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// equal compares secrets in constant time.
func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// actor names an admin in the audit log.
func actor(a usher.Admin) string { return "admin:" + a.ID }
