// Package config holds Usher's configuration: one typed struct with
// defaults, loaded from a YAML file, then USHER_* environment variables,
// then command-line flags (each overriding the one before), and checked by
// Validate.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Config is every setting of `usher serve`. Kong reads the tags: each field
// is a flag (--password-min), an environment variable (USHER_PASSWORD_MIN)
// and a config-file key (password.min or password-min).
type Config struct {
	ConfigFile string `name:"config" type:"path" placeholder:"FILE" help:"YAML configuration file. Its keys are the flag names, nested or dotted (password: {min: 8} or password.min: 8)."`

	Data string `name:"data" default:"./usher-data" placeholder:"DIR" help:"Data directory: the SQLite database and the development certificates."`
	DB   string `name:"db" placeholder:"URL" help:"Database: empty for SQLite in the data directory, or a PostgreSQL URL (postgres://user:password@host:5432/dbname)."`

	DBTimeout          time.Duration `name:"db-timeout" default:"3s" help:"Longest a single database operation may take (waits for a connection included) before the request gets 503."`
	DBMaxOpen          int           `name:"db-max-open" default:"20" help:"PostgreSQL: most open connections per node."`
	DBMaxIdle          int           `name:"db-max-idle" default:"10" help:"PostgreSQL: most idle connections kept per node."`
	DBConnMaxLifetime  time.Duration `name:"db-conn-max-lifetime" default:"30m" help:"PostgreSQL: connections are replaced after this long (0: never)."`
	DBStatementTimeout time.Duration `name:"db-statement-timeout" default:"5s" help:"PostgreSQL: server-side statement_timeout (0: none)."`

	BackendAddr string `name:"backend-addr" default:"127.0.0.1:8081" help:"Address of the backend (mutual TLS) listener."`
	PublicAddr  string `name:"public-addr" default:"127.0.0.1:8080" help:"Address of the public listener."`

	TLSCert  string `name:"tls-cert" type:"path" placeholder:"FILE" help:"Server certificate (PEM) of the backend listener. Empty: the development certificate in the data directory."`
	TLSKey   string `name:"tls-key" type:"path" placeholder:"FILE" help:"Private key (PEM) of --tls-cert."`
	ClientCA string `name:"client-ca" type:"path" placeholder:"FILE" help:"CA certificate(s) (PEM) that sign accepted client certificates. Empty: the development CA."`

	PublicTLSCert string `name:"public-tls-cert" type:"path" placeholder:"FILE" help:"Certificate (PEM, full chain) of the public listener, which then speaks HTTPS. Empty: plain HTTP (put a TLS-terminating proxy in front in production)."`
	PublicTLSKey  string `name:"public-tls-key" type:"path" placeholder:"FILE" help:"Private key (PEM) of --public-tls-cert."`

	AdminConsole       bool          `name:"admin-console" default:"true" negatable:"" help:"Serve the admin console on admin-addr (--no-admin-console turns it off)."`
	AdminAddr          string        `name:"admin-addr" default:"127.0.0.1:8083" help:"Address of the admin console. Plain HTTP only on a loopback address; any other needs admin-tls-cert."`
	AdminTLSCert       string        `name:"admin-tls-cert" type:"path" placeholder:"FILE" help:"Certificate (PEM, full chain) of the admin console, which then speaks HTTPS."`
	AdminTLSKey        string        `name:"admin-tls-key" type:"path" placeholder:"FILE" help:"Private key (PEM) of --admin-tls-cert."`
	AdminURL           string        `name:"admin-url" placeholder:"URL" help:"Base URL of the admin console as admins reach it (an SSH tunnel, a proxy); setup links are built from it (default: http(s):// + admin-addr)."`
	AdminSessionIdle   time.Duration `name:"admin-session-idle" default:"30m" help:"A console session unused for this long ends."`
	AdminSessionMaxAge time.Duration `name:"admin-session-max-age" default:"12h" help:"A console session ends this long after sign-in, however it is used."`
	AdminSetupTTL      time.Duration `name:"admin-setup-ttl" default:"24h" help:"Lifetime of an admin's one-time setup link."`
	AdminRequireTOTP   bool          `name:"admin-require-totp" help:"Admins must turn on two-factor sign-in (TOTP) before they can use the console."`
	AdminRate          int           `name:"admin-rate-auth" default:"30" help:"Console sign-in and setup requests per minute per client IP (0: no limit)."`

	SQLiteSynchronous string `name:"sqlite-synchronous" default:"FULL" enum:"FULL,NORMAL" help:"SQLite synchronous mode: FULL loses no acknowledged write, even on power loss; NORMAL is faster and may lose the last commits on power loss."`

	PasswordMin int `name:"password-min" default:"8" help:"Shortest accepted password, in Unicode code points."`
	PasswordMax int `name:"password-max" default:"128" help:"Longest accepted password, in Unicode code points (32 matches seed 000 strictly)."`

	PasswordAllowCommon bool `name:"password-allow-common" help:"Accept passwords from the list of the 30,000 most common ones (refused by default)."`

	LockoutMax        int           `name:"lockout-max" default:"10" help:"Failed password checks from one client address that lock an account for that address (0 turns lockout off)."`
	LockoutAccountMax int           `name:"lockout-account-max" default:"100" help:"Failed password checks from all addresses together that lock an account for everyone."`
	LockoutWindow     time.Duration `name:"lockout-window" default:"15m" help:"Window in which failed checks count; the lock lifts when it has passed."`

	HashWorkers  int           `name:"hash-workers" default:"0" help:"Password hashes computed at once (0: one per CPU)."`
	HashPriority string        `name:"hash-priority" default:"idle" enum:"low,idle,normal" help:"idle: hash in a child process whose threads run under Linux's SCHED_IDLE, so other requests take a CPU from hashing at once; low: the same at nice 19; normal: hash in Usher's own process. idle and low are Linux only (elsewhere: normal)."`
	HashQueue    int           `name:"hash-queue" default:"64" help:"Requests that may wait for a hashing worker; more get 503 at once."`
	HashMaxWait  time.Duration `name:"hash-max-wait" default:"5s" help:"Longest wait for a hashing worker; a request whose expected wait is longer gets 503 + Retry-After at once."`

	ReadHeaderTimeout time.Duration `name:"http-read-header-timeout" default:"5s" help:"Time to read request headers."`
	ReadTimeout       time.Duration `name:"http-read-timeout" default:"30s" help:"Time to read a whole request."`
	WriteTimeout      time.Duration `name:"http-write-timeout" default:"30s" help:"Time to write a response."`
	IdleTimeout       time.Duration `name:"http-idle-timeout" default:"120s" help:"Time a keep-alive connection to the backend and Thunder listeners may idle."`
	PublicIdleTimeout time.Duration `name:"public-idle-timeout" default:"30s" help:"Time a keep-alive connection to the public listener (the internet's side) may idle."`
	MaxConns          int           `name:"max-conns" default:"4096" help:"Open connections per listener; a connection over the cap is closed at once (0: no cap)."`
	MaxConnsPerIP     int           `name:"max-conns-per-ip" default:"128" help:"Open connections per client address (an IPv6 /64 counts as one) per listener, trusted proxies excepted; a connection over the cap is closed at once (0: no cap)."`
	ShutdownTimeout   time.Duration `name:"shutdown-timeout" default:"20s" help:"Time in-flight requests get to finish on SIGTERM."`

	PublicURL      string        `name:"public-url" placeholder:"URL" help:"Base URL of the public surface as users reach it; links in emails are built from it (default: http:// + public-addr)."`
	TokenIssuer    string        `name:"token-issuer" placeholder:"URL" help:"The iss claim of access tokens (default: public-url)."`
	TokenTTL       time.Duration `name:"token-ttl" default:"12h" help:"Lifetime of access tokens and their sessions."`
	AccessTokenTTL time.Duration `name:"access-token-ttl" default:"15m" help:"Lifetime of the access tokens of POST /token (refresh-token sessions)."`
	SessionIdle    time.Duration `name:"session-idle-timeout" default:"168h" help:"A refresh-token session that is not refreshed for this long ends."`
	SessionMaxAge  time.Duration `name:"session-max-age" default:"720h" help:"A refresh-token session ends this long after sign-in, however it is used."`
	TokenCacheSize int           `name:"token-cache-size" default:"10000" help:"Verified tokens kept in memory, so a repeated token skips signature verification (0: off)."`
	SecretKey      string        `name:"secret-key" placeholder:"BASE64" help:"32-byte data key (base64) that seals signing keys and pending email at rest. Default: data-dir/secret.key, created on first start. Every node of one database needs the same key."`

	CORSOrigins    []string `name:"cors-origins" default:"*" sep:"," help:"Origins allowed to call the public surface from a browser (comma-separated; * for any)."`
	RateAuth       int      `name:"rate-auth" default:"60" help:"Requests per minute per client IP to register, login and password reset (0: no limit)."`
	RatePublic     int      `name:"rate-public" default:"1200" help:"Requests per minute per client IP to the whole public surface (0: no limit)."`
	TrustedProxies []string `name:"trusted-proxies" sep:"," placeholder:"CIDR,..." help:"Proxies whose X-Forwarded-For is believed for the client IP (ignored from anyone else)."`

	ResetTTL        time.Duration `name:"reset-ttl" default:"30m" help:"Lifetime of a password reset code."`
	ResetMaxTries   int           `name:"reset-max-tries" default:"5" help:"Tries of one reset code from one client address; a code dies after ten times as many wrong tries in all."`
	ResetPerHour    int           `name:"reset-per-hour" default:"5" help:"Reset emails per address per client address per hour (further requests get 429, for known and unknown addresses alike)."`
	ResetPerHourAll int           `name:"reset-per-hour-all" default:"20" help:"Reset emails per address per hour from all client addresses together."`

	VerifyTTL        time.Duration `name:"verify-ttl" default:"24h" help:"Lifetime of an email verification token."`
	VerifyOnRegister bool          `name:"verify-on-register" default:"true" negatable:"" help:"Send a verification email on public registration."`

	ThunderAddr          string   `name:"thunder-addr" placeholder:"HOST:PORT" help:"Address of the Thunder-compatible listener (off when empty)."`
	ThunderApps          []string `name:"thunder-app" sep:"none" placeholder:"NAME:SECRET" help:"An application allowed on the Thunder surface (HTTP Basic); repeatable."`
	ThunderAppTenants    []string `name:"thunder-app-tenant" sep:"none" placeholder:"NAME=TENANT" help:"Bind a Thunder application to a tenant (its name or id); its calls act there instead of in the default tenant. Repeatable."`
	ThunderHeaderCheck   bool     `name:"thunder-header-check" default:"true" negatable:"" help:"Require the user's password in the password header (Thunder's headerCheck)."`
	ThunderProperties    []string `name:"thunder-property" sep:"none" placeholder:"NAME:TYPE" help:"An allowed custom property (types: string, integer, double, boolean, list, map); repeatable."`
	ThunderAllowSubset   bool     `name:"thunder-allow-subset" default:"true" negatable:"" help:"Accept users that lack some allowed properties (Thunder's allowSubset)."`
	ThunderAllowSuperset bool     `name:"thunder-allow-superset" default:"true" negatable:"" help:"Accept properties that are not listed (Thunder's allowSuperset)."`

	ThunderConfig string `name:"thunder-config" type:"path" placeholder:"FILE" help:"A Thunder config.yaml to read unchanged: its auth, properties, passwordHash, email, openApi and server sections become the thunder-* settings below (environment, Usher's config file and flags override it); what has no meaning for Usher is logged at start and ignored."`

	ThunderAuth           string `name:"thunder-auth" default:"basic" enum:"basic,oauth" help:"How applications authenticate on the Thunder surface: basic (thunder-app) or oauth (a JWT bearer token, Thunder's auth.type oauth)."`
	ThunderOAuthHMACKey   string `name:"thunder-oauth-hmac-secret" placeholder:"SECRET" help:"OAuth mode: the secret that verifies HS256, HS384 and HS512 tokens (Thunder's hmacSecret)."`
	ThunderOAuthRSAKey    string `name:"thunder-oauth-rsa-public-key" type:"path" placeholder:"FILE" help:"OAuth mode: the RSA public key (PEM or DER) that verifies RS256, RS384 and RS512 tokens (Thunder's rsaPublicKeyFilePath)."`
	ThunderOAuthIssuer    string `name:"thunder-oauth-issuer" help:"OAuth mode: the iss every token must carry (required)."`
	ThunderOAuthAudience  string `name:"thunder-oauth-audience" help:"OAuth mode: an aud every token must carry (empty: the audience is not checked, as in Thunder)."`
	ThunderCommonMistakes bool   `name:"thunder-password-allow-common-mistakes" help:"The password header also matches the password with its case inverted, its first letter's case flipped, or one extra character before or after it (Thunder's allowCommonMistakes; weakens the check)."`
	ThunderEmail          bool   `name:"thunder-email" default:"true" negatable:"" help:"Serve Thunder's /verify routes (off: they answer 404, as in Thunder with email disabled)."`

	ThunderMailSubject        string `name:"thunder-mail-subject" help:"Subject of verification emails (Thunder's messageOptions.subject; default: the mail templates')."`
	ThunderMailBodyHTML       string `name:"thunder-mail-body-html" type:"path" placeholder:"FILE" help:"HTML body of verification emails, used as written with the link put in place of thunder-mail-url-placeholder (Thunder's bodyHtmlFilePath)."`
	ThunderMailBodyText       string `name:"thunder-mail-body-text" type:"path" placeholder:"FILE" help:"Text body of verification emails, likewise (Thunder's bodyTextFilePath)."`
	ThunderMailURLPlaceholder string `name:"thunder-mail-url-placeholder" default:"CODEGEN-URL" help:"The text in thunder-mail-body-html and -text that the verification link replaces (Thunder's urlPlaceholderString)."`
	ThunderSuccessPage        string `name:"thunder-success-page" type:"path" placeholder:"FILE" help:"HTML page of the Thunder surface's GET /verify/success (Thunder's successHtmlFilePath; default: Usher's page)."`

	OpenAPI                   bool   `name:"openapi" default:"true" negatable:"" help:"Serve each surface's OpenAPI document (/openapi.json, /openapi.yaml) and Swagger UI (/swagger); --no-openapi turns all three off on every surface (Thunder's openApi.enabled: false)."`
	ThunderOpenAPITitle       string `name:"thunder-openapi-title" default:"Thunder API" help:"Title of the Thunder surface's OpenAPI document (Thunder's openApi.title)."`
	ThunderOpenAPIDescription string `name:"thunder-openapi-description" default:"A fully customizable user management REST API" help:"Description of the Thunder surface's OpenAPI document (Thunder's openApi.description)."`

	ThunderAdminAddr  string   `name:"thunder-admin-addr" placeholder:"HOST:PORT" help:"Address of Thunder's admin listener: /healthcheck, /ping and /metrics in Dropwizard's formats (off when empty)."`
	ThunderAdminAllow []string `name:"thunder-admin-allow" default:"127.0.0.0/8,::1/128" sep:"," placeholder:"CIDR,..." help:"Client addresses the Thunder admin listener answers (the connection's own address; X-Forwarded-For is not believed); others get 403."`

	SMTPHost        string        `name:"smtp-host" help:"SMTP server. Empty: emails are printed to the terminal (development)."`
	SMTPPort        int           `name:"smtp-port" default:"587" help:"SMTP port."`
	SMTPUsername    string        `name:"smtp-username" help:"SMTP user (empty: no authentication)."`
	SMTPPassword    string        `name:"smtp-password" help:"SMTP password."`
	SMTPTLS         string        `name:"smtp-tls" default:"starttls" enum:"starttls,implicit,none" help:"starttls (required), implicit (TLS from the start, port 465) or none (a relay on localhost only)."`
	MailFrom        string        `name:"mail-from" default:"Usher <no-reply@localhost>" help:"From address of Usher's emails."`
	MailTemplates   string        `name:"mail-templates" type:"path" placeholder:"DIR" help:"Directory of templates overriding the defaults (KIND.subject, KIND.txt, KIND.html)."`
	MailMaxAttempts int           `name:"mail-max-attempts" default:"10" help:"Send attempts before an email is abandoned."`
	MailRetryBase   time.Duration `name:"mail-retry-base" default:"10s" help:"Delay before the first retry; it doubles with each attempt."`
	MailRetryMax    time.Duration `name:"mail-retry-max" default:"1h" help:"Longest delay between retries."`
	MailPoll        time.Duration `name:"mail-poll" default:"2s" help:"How often the relay looks for email queued by other nodes."`

	EventRetention      time.Duration `name:"event-retention" default:"2160h" help:"How long the audit log keeps an event (0: for ever)."`
	WebhookAllowPrivate bool          `name:"webhook-allow-private" help:"Let webhooks reach private, loopback and link-local addresses (refused by default: SSRF)."`
	WebhookTimeout      time.Duration `name:"webhook-timeout" default:"10s" help:"Time one webhook request may take."`
	WebhookMaxAttempts  int           `name:"webhook-max-attempts" default:"12" help:"Attempts before a webhook delivery is given up."`
	WebhookRetryBase    time.Duration `name:"webhook-retry-base" default:"10s" help:"Delay before a delivery's first retry; it doubles with each attempt."`
	WebhookRetryMax     time.Duration `name:"webhook-retry-max" default:"1h" help:"Longest delay between a delivery's retries."`
	WebhookWorkers      int           `name:"webhook-workers" default:"8" help:"Webhook requests in flight at once on this node."`

	LogLevel    string `name:"log-level" default:"info" enum:"debug,info,warn,error" help:"Log level."`
	LogRequests bool   `name:"log-requests" default:"true" negatable:"" help:"Log one line per HTTP request."`
}

// Validate checks settings that flags' types cannot, naming the bad one.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("invalid setting %s: %s", name, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(c.Data) == "" {
		bad("data", "must not be empty")
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		bad("db", "must be empty (SQLite) or a postgres:// URL")
	}
	if c.DBTimeout <= 0 {
		bad("db-timeout", "must be positive")
	}
	if c.DBMaxOpen < 1 {
		bad("db-max-open", "must be at least 1")
	}
	if c.DBMaxIdle < 0 || c.DBMaxIdle > c.DBMaxOpen {
		bad("db-max-idle", "must be between 0 and db-max-open")
	}
	for name, v := range map[string]int{"max-conns": c.MaxConns, "max-conns-per-ip": c.MaxConnsPerIP} {
		if v < 0 {
			bad(name, "must not be negative")
		}
	}
	if c.PublicIdleTimeout <= 0 {
		bad("public-idle-timeout", "must be positive")
	}
	if c.DBConnMaxLifetime < 0 {
		bad("db-conn-max-lifetime", "must not be negative")
	}
	if c.DBStatementTimeout < 0 {
		bad("db-statement-timeout", "must not be negative")
	}
	for name, addr := range map[string]string{"backend-addr": c.BackendAddr, "public-addr": c.PublicAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(name, "%q is not host:port", addr)
		}
	}
	if c.BackendAddr == c.PublicAddr && !strings.HasSuffix(c.BackendAddr, ":0") {
		bad("public-addr", "must differ from backend-addr")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls-cert", "tls-cert and tls-key must be given together")
	}
	if (c.PublicTLSCert == "") != (c.PublicTLSKey == "") {
		bad("public-tls-cert", "public-tls-cert and public-tls-key must be given together")
	}
	if c.TLSCert != "" && c.ClientCA == "" {
		bad("client-ca", "required with tls-cert: clients must be verified against your own CA")
	}
	if c.PasswordMin < 1 {
		bad("password-min", "must be at least 1, not %d", c.PasswordMin)
	}
	if c.PasswordMax < c.PasswordMin || c.PasswordMax > 4096 {
		bad("password-max", "must be between password-min (%d) and 4096, not %d", c.PasswordMin, c.PasswordMax)
	}
	if c.LockoutAccountMax < c.LockoutMax {
		bad("lockout-account-max", "must be at least lockout-max")
	}
	if c.ResetPerHourAll < c.ResetPerHour {
		bad("reset-per-hour-all", "must be at least reset-per-hour")
	}
	if c.LockoutMax < 0 {
		bad("lockout-max", "must not be negative")
	}
	if c.LockoutMax > 0 && c.LockoutWindow <= 0 {
		bad("lockout-window", "must be positive")
	}
	if c.HashWorkers < 0 || c.HashWorkers > 1024 {
		bad("hash-workers", "must be between 0 and 1024")
	}
	if c.HashQueue < 0 || c.HashQueue > 100000 {
		bad("hash-queue", "must be between 0 and 100000")
	}
	if c.HashMaxWait <= 0 {
		bad("hash-max-wait", "must be positive")
	}
	for name, d := range map[string]time.Duration{
		"http-read-header-timeout": c.ReadHeaderTimeout, "http-read-timeout": c.ReadTimeout,
		"http-write-timeout": c.WriteTimeout, "http-idle-timeout": c.IdleTimeout, "shutdown-timeout": c.ShutdownTimeout,
	} {
		if d <= 0 {
			bad(name, "must be positive")
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("public-url", "%q is not an http(s) URL", c.PublicURL)
		}
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 24*time.Hour {
		bad("access-token-ttl", "must be between 1m and 24h")
	}
	if c.SessionIdle < c.AccessTokenTTL {
		bad("session-idle-timeout", "must be at least access-token-ttl")
	}
	if c.SessionMaxAge < c.SessionIdle || c.SessionMaxAge > 365*24*time.Hour {
		bad("session-max-age", "must be at least session-idle-timeout and at most 8760h")
	}
	if c.TokenTTL < time.Minute || c.TokenTTL > 90*24*time.Hour {
		bad("token-ttl", "must be between 1m and 2160h")
	}
	if c.TokenCacheSize < 0 {
		bad("token-cache-size", "must not be negative")
	}
	if c.SecretKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.SecretKey); err != nil || len(k) != 32 {
			bad("secret-key", "must be 32 bytes in base64 (try: openssl rand -base64 32)")
		}
	}
	if _, err := c.Proxies(); err != nil {
		bad("trusted-proxies", "%v", err)
	}
	if c.RateAuth < 0 || c.RatePublic < 0 {
		bad("rate-auth", "rates must not be negative")
	}
	if c.ResetTTL < time.Minute || c.ResetMaxTries < 1 || c.ResetPerHour < 1 {
		bad("reset-ttl", "reset-ttl must be at least 1m, reset-max-tries and reset-per-hour at least 1")
	}
	if c.SMTPHost != "" && (c.SMTPPort < 1 || c.SMTPPort > 65535) {
		bad("smtp-port", "must be a port number")
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		bad("mail-from", "%q is not an email address", c.MailFrom)
	}
	if c.EventRetention < 0 {
		bad("event-retention", "must not be negative")
	}
	if c.WebhookTimeout <= 0 {
		bad("webhook-timeout", "must be positive")
	}
	if c.WebhookMaxAttempts < 1 {
		bad("webhook-max-attempts", "must be at least 1")
	}
	if c.WebhookRetryBase <= 0 {
		bad("webhook-retry-base", "must be positive")
	}
	if c.WebhookRetryMax < c.WebhookRetryBase {
		bad("webhook-retry-max", "must be at least webhook-retry-base")
	}
	if c.WebhookWorkers < 1 {
		bad("webhook-workers", "must be at least 1")
	}
	if c.MailMaxAttempts < 1 || c.MailRetryBase <= 0 || c.MailRetryMax < c.MailRetryBase || c.MailPoll <= 0 {
		bad("mail-max-attempts", "mail-max-attempts must be at least 1, mail-retry-base and mail-poll positive, mail-retry-max at least mail-retry-base")
	}
	if c.VerifyTTL < time.Minute {
		bad("verify-ttl", "must be at least 1m")
	}
	c.validateAdmin(bad)
	if c.ThunderAddr != "" {
		if _, _, err := net.SplitHostPort(c.ThunderAddr); err != nil {
			bad("thunder-addr", "%q is not host:port", c.ThunderAddr)
		}
		if len(c.ThunderApps) == 0 && c.ThunderAuth != "oauth" {
			bad("thunder-app", "at least one NAME:SECRET is required with thunder-addr")
		}
	}
	if c.ThunderAdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.ThunderAdminAddr); err != nil {
			bad("thunder-admin-addr", "%q is not host:port", c.ThunderAdminAddr)
		}
	}
	if _, err := c.AdminAllow(); err != nil {
		bad("thunder-admin-allow", "%v", err)
	}
	if c.ThunderAuth == "oauth" {
		if c.ThunderOAuthHMACKey == "" && c.ThunderOAuthRSAKey == "" {
			bad("thunder-oauth-hmac-secret", "oauth needs thunder-oauth-hmac-secret or thunder-oauth-rsa-public-key (or both)")
		}
		if strings.TrimSpace(c.ThunderOAuthIssuer) == "" {
			bad("thunder-oauth-issuer", "required with thunder-auth oauth")
		}
	}
	if c.ThunderMailURLPlaceholder == "" && (c.ThunderMailBodyHTML != "" || c.ThunderMailBodyText != "") {
		bad("thunder-mail-url-placeholder", "must not be empty with thunder-mail-body-html or -text")
	}
	if c.OpenAPI && strings.TrimSpace(c.ThunderOpenAPITitle) == "" {
		bad("thunder-openapi-title", "must not be empty (an OpenAPI document needs a title)")
	}
	for _, p := range c.ThunderProperties {
		name, typ, ok := strings.Cut(p, ":")
		switch strings.ToLower(strings.TrimSpace(typ)) {
		case "string", "integer", "double", "boolean", "list", "map":
		default:
			ok = false
		}
		if !ok || strings.TrimSpace(name) == "" {
			bad("thunder-property", "%q is not NAME:TYPE with TYPE string, integer, double, boolean, list or map", p)
		}
	}
	seen := map[string]bool{}
	for _, a := range c.ThunderApps {
		// Never echo a secret in these messages; the name is not secret.
		name, secret, ok := strings.Cut(a, ":")
		switch {
		case !ok || name == "" || secret == "":
			bad("thunder-app", "each application must be NAME:SECRET")
		case severalApps.MatchString(secret):
			bad("thunder-app", "the value for application %q holds several NAME:SECRET pairs; "+
				"one value is one application (USHER_THUNDER_APP takes one): give --thunder-app once per application, "+
				"or list them in the config file (thunder: {app: [\"a:secret\", \"b:secret\"]})", name)
		case seen[name]:
			bad("thunder-app", "application %q is given twice", name)
		}
		seen[name] = true
	}
	bound := map[string]bool{}
	for _, b := range c.ThunderAppTenants {
		name, tenant, ok := strings.Cut(b, "=")
		switch {
		case !ok || name == "" || tenant == "":
			bad("thunder-app-tenant", "%q is not NAME=TENANT", b)
		case !seen[name]:
			bad("thunder-app-tenant", "%q names no application of thunder-app", name)
		case bound[name]:
			bad("thunder-app-tenant", "application %q is bound twice", name)
		}
		bound[name] = true
	}
	return errors.Join(errs...)
}

// severalApps matches a Thunder secret that is really the rest of a list
// of applications: a separator (comma, semicolon, whitespace) followed by
// NAME:. Kong gives one environment variable as one list element, so
// USHER_THUNDER_APP=a:s1,b:s2 would otherwise make one application "a"
// whose secret is "s1,b:s2", and "b" would be refused without a word.
var severalApps = regexp.MustCompile(`[,;\s]\s*[^,;:\s]+:`)

// Proxies parses TrustedProxies: CIDR prefixes or single addresses.
func (c *Config) Proxies() ([]netip.Prefix, error) {
	return prefixes(c.TrustedProxies)
}

// prefixes parses CIDR prefixes or single addresses; empty items are skipped.
func prefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR prefix", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// AdminAllow parses ThunderAdminAllow: CIDR prefixes or single addresses.
func (c *Config) AdminAllow() ([]netip.Prefix, error) {
	return prefixes(c.ThunderAdminAllow)
}

// PublicBaseURL returns public-url, or http:// (https:// with
// public-tls-cert) + the public address.
func (c *Config) PublicBaseURL(boundPublicAddr string) string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	if c.PublicTLSCert != "" {
		return "https://" + boundPublicAddr
	}
	return "http://" + boundPublicAddr
}
