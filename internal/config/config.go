// Package config holds Usher's configuration: one typed struct with
// defaults, loaded from a YAML file, then USHER_* environment variables,
// then command-line flags (each overriding the one before), and checked by
// Validate.
package config

import (
	"errors"
	"fmt"
	"net"
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

	SQLiteSynchronous string `name:"sqlite-synchronous" default:"FULL" enum:"FULL,NORMAL" help:"SQLite synchronous mode: FULL loses no acknowledged write, even on power loss; NORMAL is faster and may lose the last commits on power loss."`

	PasswordMin int `name:"password-min" default:"8" help:"Shortest accepted password, in Unicode code points."`
	PasswordMax int `name:"password-max" default:"128" help:"Longest accepted password, in Unicode code points (32 matches seed 000 strictly)."`

	LockoutMax    int           `name:"lockout-max" default:"10" help:"Failed password checks that lock an account (0 turns lockout off)."`
	LockoutWindow time.Duration `name:"lockout-window" default:"15m" help:"Window in which failed checks count; the lock lifts when it has passed."`

	HashWorkers int           `name:"hash-workers" default:"0" help:"Password hashes computed at once (0: one per CPU, GOMAXPROCS)."`
	HashQueue   int           `name:"hash-queue" default:"64" help:"Requests that may wait for a hashing worker; more get 503 at once."`
	HashMaxWait time.Duration `name:"hash-max-wait" default:"2s" help:"Longest wait for a hashing worker before 503 + Retry-After."`

	ReadHeaderTimeout time.Duration `name:"http-read-header-timeout" default:"5s" help:"Time to read request headers."`
	ReadTimeout       time.Duration `name:"http-read-timeout" default:"30s" help:"Time to read a whole request."`
	WriteTimeout      time.Duration `name:"http-write-timeout" default:"30s" help:"Time to write a response."`
	IdleTimeout       time.Duration `name:"http-idle-timeout" default:"120s" help:"Time a keep-alive connection may idle."`
	ShutdownTimeout   time.Duration `name:"shutdown-timeout" default:"20s" help:"Time in-flight requests get to finish on SIGTERM."`

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
	if c.TLSCert != "" && c.ClientCA == "" {
		bad("client-ca", "required with tls-cert: clients must be verified against your own CA")
	}
	if c.PasswordMin < 1 {
		bad("password-min", "must be at least 1, not %d", c.PasswordMin)
	}
	if c.PasswordMax < c.PasswordMin || c.PasswordMax > 4096 {
		bad("password-max", "must be between password-min (%d) and 4096, not %d", c.PasswordMin, c.PasswordMax)
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
	return errors.Join(errs...)
}
