package config_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/usherhq/usher/internal/config"
)

// cli is a small application over config.Config, as cmd/usher builds one.
type cli struct {
	config.Config `embed:""`
}

// parse runs kong over args with the file resolver at path ("" for none).
func parse(t *testing.T, path string, args ...string) (config.Config, error) {
	t.Helper()
	var c cli
	opts := []kong.Option{
		kong.Name("usher"),
		kong.DefaultEnvars("USHER"),
		kong.Writers(io.Discard, io.Discard),
		kong.Exit(func(code int) { t.Fatalf("kong exited with %d", code) }),
	}
	if path != "" {
		r, err := config.LoadFile(path)
		if err != nil {
			return config.Config{}, err
		}
		opts = append(opts, kong.Resolvers(r))
	}
	parser, err := kong.New(&c, opts...)
	if err != nil {
		t.Fatalf("kong.New: %v", err)
	}
	if _, err := parser.Parse(args); err != nil {
		return config.Config{}, err
	}
	return c.Config, nil
}

// defaults returns the configuration an empty command line gives.
func defaults(t *testing.T) config.Config {
	t.Helper()
	c, err := parse(t, "")
	if err != nil {
		t.Fatalf("parse(no args): %v", err)
	}
	return c
}

// writeFile writes a config file into a test directory and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "usher.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultsValid(t *testing.T) {
	c := defaults(t)
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: Validate() = %v; want nil", err)
	}
	if got, want := c.PasswordMin, 8; got != want {
		t.Errorf("default PasswordMin = %d; want %d", got, want)
	}
	if got, want := c.PasswordMax, 128; got != want {
		t.Errorf("default PasswordMax = %d; want %d", got, want)
	}
	if got, want := c.HashMaxWait, 5*time.Second; got != want {
		t.Errorf("default HashMaxWait = %v; want %v", got, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(c *config.Config)
		setting string // the name the error must mention; "" for valid
	}{
		{name: "defaults", mutate: func(c *config.Config) {}},
		{name: "password-min 0", mutate: func(c *config.Config) { c.PasswordMin = 0 }, setting: "password-min"},
		{name: "password-min negative", mutate: func(c *config.Config) { c.PasswordMin = -1 }, setting: "password-min"},
		{name: "password-max below min", mutate: func(c *config.Config) { c.PasswordMin, c.PasswordMax = 12, 11 }, setting: "password-max"},
		{name: "password-max equal to min", mutate: func(c *config.Config) { c.PasswordMin, c.PasswordMax = 12, 12 }},
		{name: "password-max 32", mutate: func(c *config.Config) { c.PasswordMax = 32 }},
		{name: "password-max too large", mutate: func(c *config.Config) { c.PasswordMax = 5000 }, setting: "password-max"},
		{name: "tls-cert without tls-key", mutate: func(c *config.Config) { c.TLSCert, c.ClientCA = "cert.pem", "ca.pem" }, setting: "tls-cert"},
		// The pair is reported under tls-cert, with a message naming both.
		{name: "tls-key without tls-cert", mutate: func(c *config.Config) { c.TLSKey = "key.pem" }, setting: "tls-cert"},
		{name: "tls-cert without client-ca", mutate: func(c *config.Config) { c.TLSCert, c.TLSKey = "cert.pem", "key.pem" }, setting: "client-ca"},
		{name: "tls complete", mutate: func(c *config.Config) { c.TLSCert, c.TLSKey, c.ClientCA = "cert.pem", "key.pem", "ca.pem" }},
		{name: "public-tls-cert without key", mutate: func(c *config.Config) { c.PublicTLSCert = "cert.pem" }, setting: "public-tls-cert"},
		{name: "public-tls-key without cert", mutate: func(c *config.Config) { c.PublicTLSKey = "key.pem" }, setting: "public-tls-cert"},
		{name: "public tls complete", mutate: func(c *config.Config) { c.PublicTLSCert, c.PublicTLSKey = "cert.pem", "key.pem" }},
		{name: "bad backend addr", mutate: func(c *config.Config) { c.BackendAddr = "localhost" }, setting: "backend-addr"},
		{name: "bad public addr", mutate: func(c *config.Config) { c.PublicAddr = "not an address" }, setting: "public-addr"},
		{name: "same addresses", mutate: func(c *config.Config) { c.PublicAddr = c.BackendAddr }, setting: "public-addr"},
		{name: "both on port 0", mutate: func(c *config.Config) { c.BackendAddr, c.PublicAddr = "127.0.0.1:0", "127.0.0.1:0" }},
		{name: "negative lockout", mutate: func(c *config.Config) { c.LockoutMax = -1 }, setting: "lockout-max"},
		{name: "lockout off", mutate: func(c *config.Config) { c.LockoutMax, c.LockoutWindow = 0, 0 }},
		{name: "lockout without window", mutate: func(c *config.Config) { c.LockoutWindow = 0 }, setting: "lockout-window"},
		{name: "zero hash-max-wait", mutate: func(c *config.Config) { c.HashMaxWait = 0 }, setting: "hash-max-wait"},
		{name: "negative hash-max-wait", mutate: func(c *config.Config) { c.HashMaxWait = -time.Second }, setting: "hash-max-wait"},
		{name: "negative hash-workers", mutate: func(c *config.Config) { c.HashWorkers = -1 }, setting: "hash-workers"},
		{name: "negative hash-queue", mutate: func(c *config.Config) { c.HashQueue = -1 }, setting: "hash-queue"},
		{name: "empty data", mutate: func(c *config.Config) { c.Data = " " }, setting: "data"},
		{name: "non-postgres db", mutate: func(c *config.Config) { c.DB = "mysql://x" }, setting: "db"},
		{name: "postgres db", mutate: func(c *config.Config) { c.DB = "postgres://u@h/db" }},
		{name: "zero db-timeout", mutate: func(c *config.Config) { c.DBTimeout = 0 }, setting: "db-timeout"},
		{name: "db-max-idle over open", mutate: func(c *config.Config) { c.DBMaxIdle = c.DBMaxOpen + 1 }, setting: "db-max-idle"},
		{name: "zero read timeout", mutate: func(c *config.Config) { c.ReadTimeout = 0 }, setting: "http-read-timeout"},
		{name: "zero shutdown timeout", mutate: func(c *config.Config) { c.ShutdownTimeout = 0 }, setting: "shutdown-timeout"},
		{name: "empty thunder-openapi-title", mutate: func(c *config.Config) { c.ThunderOpenAPITitle = " " }, setting: "thunder-openapi-title"},
		{name: "empty thunder-openapi-title, openapi off", mutate: func(c *config.Config) { c.ThunderOpenAPITitle, c.OpenAPI = "", false }},
		{name: "empty thunder-openapi-description", mutate: func(c *config.Config) { c.ThunderOpenAPIDescription = "" }},
		{name: "admin on all interfaces without TLS", mutate: func(c *config.Config) { c.AdminAddr = ":8083" }, setting: "admin-addr"},
		{name: "admin on a public address without TLS", mutate: func(c *config.Config) { c.AdminAddr = "192.0.2.1:8083" }, setting: "admin-addr"},
		{name: "admin on IPv6 loopback", mutate: func(c *config.Config) { c.AdminAddr = "[::1]:8083" }},
		{name: "admin on localhost", mutate: func(c *config.Config) { c.AdminAddr = "localhost:8083" }},
		{name: "admin with TLS anywhere", mutate: func(c *config.Config) { c.AdminAddr, c.AdminTLSCert, c.AdminTLSKey = ":8083", "c.pem", "k.pem" }},
		{name: "admin off anywhere", mutate: func(c *config.Config) { c.AdminAddr, c.AdminConsole = ":8083", false }},
		{name: "admin-tls-cert without key", mutate: func(c *config.Config) { c.AdminTLSCert = "c.pem" }, setting: "admin-tls-cert"},
		{name: "admin on the public address", mutate: func(c *config.Config) { c.AdminAddr = c.PublicAddr }, setting: "admin-addr"},
		{name: "admin idle too short", mutate: func(c *config.Config) { c.AdminSessionIdle = time.Second }, setting: "admin-session-idle"},
		{name: "admin max age below idle", mutate: func(c *config.Config) { c.AdminSessionMaxAge = time.Minute }, setting: "admin-session-max-age"},
		{name: "admin-url not a URL", mutate: func(c *config.Config) { c.AdminURL = "ftp://x" }, setting: "admin-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaults(t)
			tt.mutate(&c)
			err := c.Validate()
			if tt.setting == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil; want an error naming %s", tt.setting)
			}
			// The point here is that the message names the setting.
			if !strings.Contains(err.Error(), "invalid setting "+tt.setting+":") {
				t.Errorf("Validate() = %q; want it to name %q", err, tt.setting)
			}
		})
	}
}

func TestValidateNamesEveryBadSetting(t *testing.T) {
	c := defaults(t)
	c.PasswordMin = 0
	c.HashMaxWait = 0
	c.LockoutMax = -1
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil; want an error")
	}
	for _, name := range []string{"password-min", "hash-max-wait", "lockout-max"} {
		if !strings.Contains(err.Error(), "invalid setting "+name+":") {
			t.Errorf("Validate() = %q; want it to name %q", err, name)
		}
	}
}

func TestFileResolver(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		args    []string
		env     map[string]string
		check   func(c config.Config) (got, want any)
		wantErr string // a setting the error must name; "" for success
	}{
		{
			name:  "nested",
			file:  "password:\n  min: 12\n  max: 64\n",
			check: func(c config.Config) (any, any) { return [2]int{c.PasswordMin, c.PasswordMax}, [2]int{12, 64} },
		},
		{
			name:  "dotted",
			file:  "password.min: 12\n",
			check: func(c config.Config) (any, any) { return c.PasswordMin, 12 },
		},
		{
			name:  "hyphenated",
			file:  "password-min: 12\n",
			check: func(c config.Config) (any, any) { return c.PasswordMin, 12 },
		},
		{
			name:  "underscore",
			file:  "backend_addr: 127.0.0.1:9999\n",
			check: func(c config.Config) (any, any) { return c.BackendAddr, "127.0.0.1:9999" },
		},
		{
			name:  "deeply nested",
			file:  "db:\n  conn:\n    max:\n      lifetime: 1h\n",
			check: func(c config.Config) (any, any) { return c.DBConnMaxLifetime, time.Hour },
		},
		{
			name: "duration and bool",
			file: "hash-max-wait: 5s\nlog-requests: false\n",
			check: func(c config.Config) (any, any) {
				return [2]any{c.HashMaxWait, c.LogRequests}, [2]any{5 * time.Second, false}
			},
		},
		{
			name:  "unmentioned settings keep defaults",
			file:  "password.min: 12\n",
			check: func(c config.Config) (any, any) { return c.PasswordMax, 128 },
		},
		{
			name:  "empty file",
			file:  "",
			check: func(c config.Config) (any, any) { return c.PasswordMin, 8 },
		},
		{
			name:  "file then env",
			file:  "password.min: 12\n",
			env:   map[string]string{"USHER_PASSWORD_MIN": "14"},
			check: func(c config.Config) (any, any) { return c.PasswordMin, 14 },
		},
		{
			name:  "file then env then flag",
			file:  "password.min: 12\n",
			env:   map[string]string{"USHER_PASSWORD_MIN": "14"},
			args:  []string{"--password-min=16"},
			check: func(c config.Config) (any, any) { return c.PasswordMin, 16 },
		},
		{
			name:  "file then flag",
			file:  "password.min: 12\n",
			args:  []string{"--password-min", "16"},
			check: func(c config.Config) (any, any) { return c.PasswordMin, 16 },
		},
		{
			name:  "env for another setting leaves the file's",
			file:  "password.min: 12\n",
			env:   map[string]string{"USHER_PASSWORD_MAX": "20"},
			check: func(c config.Config) (any, any) { return [2]int{c.PasswordMin, c.PasswordMax}, [2]int{12, 20} },
		},
		{name: "unknown key", file: "password.min: 12\npasword.max: 20\n", wantErr: "pasword-max"},
		{name: "unknown nested key", file: "password:\n  minimum: 12\n", wantErr: "password-minimum"},
		{name: "config key", file: "config: other.yaml\n", wantErr: "setting(s): config"},
		{name: "key twice dotted and nested", file: "password.min: 12\npassword:\n  min: 13\n", wantErr: "password-min"},
		{name: "key twice underscore and hyphen", file: "backend_addr: 127.0.0.1:1\nbackend-addr: 127.0.0.1:2\n", wantErr: "backend-addr"},
		{name: "key twice literally", file: "password-min: 12\npassword-min: 13\n", wantErr: "password-min"},
		{name: "bad value", file: "password.min: twelve\n", wantErr: "password-min"},
		{name: "invalid after merge", file: "password.min: 0\n", wantErr: "password-min"},
		{name: "not a mapping", file: "- a\n- b\n", wantErr: "usher.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := parse(t, writeFile(t, tt.file), tt.args...)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("parse = nil error; want one naming %q", tt.wantErr)
				}
				// The point here is that the message names the setting.
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parse error %q; want it to name %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse error %v; want nil", err)
			}
			if got, want := tt.check(c); got != want {
				t.Errorf("got %v; want %v", got, want)
			}
		})
	}
}

func TestLoadFileMissing(t *testing.T) {
	if _, err := config.LoadFile(filepath.Join(t.TempDir(), "absent.yaml")); err == nil {
		t.Errorf("LoadFile(absent) = nil error; want one")
	}
}

func TestFilePath(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string
		want string
	}{
		{name: "none", args: nil, want: ""},
		{name: "separate", args: []string{"--config", "a.yaml"}, want: "a.yaml"},
		{name: "equals", args: []string{"--config=b.yaml"}, want: "b.yaml"},
		{name: "after subcommand", args: []string{"serve", "--password-min=9", "--config", "c.yaml"}, want: "c.yaml"},
		{name: "env", args: []string{"serve"}, env: "d.yaml", want: "d.yaml"},
		{name: "flag over env", args: []string{"--config=e.yaml"}, env: "d.yaml", want: "e.yaml"},
		{name: "after double dash", args: []string{"--", "--config", "f.yaml"}, want: ""},
		{name: "flag without value", args: []string{"--config"}, env: "g.yaml", want: "g.yaml"},
		{name: "similar flag", args: []string{"--configuration=h.yaml"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("USHER_CONFIG", tt.env)
			} else {
				t.Setenv("USHER_CONFIG", "")
				os.Unsetenv("USHER_CONFIG")
			}
			if got := config.FilePath(tt.args); got != tt.want {
				t.Errorf("FilePath(%q) = %q; want %q", tt.args, got, tt.want)
			}
		})
	}
}

// Several Thunder applications in one value (the environment gives one
// value) are refused with a message that names the way to give several,
// never the secret; one application, several flags and the config file's
// list are accepted.
func TestThunderApps(t *testing.T) {
	tests := []struct {
		name    string
		env     string // USHER_THUNDER_APP; "" for unset
		args    []string
		file    string
		want    []string // the apps parsed, when valid
		wantErr string   // in Validate's error; "" for valid
	}{
		{name: "one in the environment", env: "myapp:a-long-secret", want: []string{"myapp:a-long-secret"}},
		{name: "secret with a colon", env: "myapp:a:b", want: []string{"myapp:a:b"}},
		{name: "secret with a comma but no second name", env: "myapp:a,b", want: []string{"myapp:a,b"}},
		{name: "two in the environment, comma", env: "one:s1,two:s2", want: []string{"one:s1,two:s2"}, wantErr: "several NAME:SECRET pairs"},
		{name: "two in the environment, space", env: "one:s1 two:s2", want: []string{"one:s1 two:s2"}, wantErr: "several NAME:SECRET pairs"},
		{name: "two in the environment, semicolon", env: "one:s1; two:s2", want: []string{"one:s1; two:s2"}, wantErr: "several NAME:SECRET pairs"},
		{name: "two flags", args: []string{"--thunder-app", "one:s1", "--thunder-app", "two:s2"}, want: []string{"one:s1", "two:s2"}},
		{name: "two in one flag", args: []string{"--thunder-app", "one:s1,two:s2"}, want: []string{"one:s1,two:s2"}, wantErr: "several NAME:SECRET pairs"},
		{name: "config file list", file: "thunder:\n  app: [\"one:s1\", \"two:s2\"]\n", want: []string{"one:s1", "two:s2"}},
		{name: "same name twice", args: []string{"--thunder-app", "one:s1", "--thunder-app", "one:s2"}, want: []string{"one:s1", "one:s2"}, wantErr: `application "one" is given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("USHER_THUNDER_APP", tt.env)
			}
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			// kong runs Validate as it parses.
			c, err := parse(t, path, append([]string{"--thunder-addr", "127.0.0.1:0"}, tt.args...)...)
			if err == nil && strings.Join(c.ThunderApps, "|") != strings.Join(tt.want, "|") {
				t.Errorf("apps: got %q, want %q", c.ThunderApps, tt.want)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "invalid setting thunder-app:") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v; want thunder-app refused with %q", err, tt.wantErr)
			}
			for _, secret := range []string{"s1", "s2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Validate() = %q: it shows a secret", err)
				}
			}
		})
	}
}

func TestThunderAppTenants(t *testing.T) {
	apps := []string{"--thunder-addr", "127.0.0.1:0", "--thunder-app", "one:s1", "--thunder-app", "two:s2"}
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" for valid
	}{
		{name: "one bound", args: []string{"--thunder-app-tenant", "one=acme"}},
		{name: "both bound", args: []string{"--thunder-app-tenant", "one=acme", "--thunder-app-tenant", "two=0190aaaa-bbbb-7ccc-8ddd-eeeeffff0001"}},
		{name: "no equals sign", args: []string{"--thunder-app-tenant", "one:acme"}, wantErr: `"one:acme" is not NAME=TENANT`},
		{name: "no tenant", args: []string{"--thunder-app-tenant", "one="}, wantErr: "is not NAME=TENANT"},
		{name: "unknown application", args: []string{"--thunder-app-tenant", "three=acme"}, wantErr: `"three" names no application`},
		{name: "bound twice", args: []string{"--thunder-app-tenant", "one=a", "--thunder-app-tenant", "one=b"}, wantErr: `"one" is bound twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, "", append(append([]string{}, apps...), tt.args...)...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				if len(c.ThunderAppTenants) != len(tt.args)/2 {
					t.Errorf("bindings: got %q", c.ThunderAppTenants)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "invalid setting thunder-app-tenant:") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v; want thunder-app-tenant refused with %q", err, tt.wantErr)
			}
		})
	}
}

// TestOpenAPISettings: the documents are on by default with Thunder's
// title and description; each way of setting them works (the names are
// the ones the Thunder configuration file maps onto).
func TestOpenAPISettings(t *testing.T) {
	c := defaults(t)
	if !c.OpenAPI || c.ThunderOpenAPITitle != "Thunder API" || c.ThunderOpenAPIDescription != "A fully customizable user management REST API" {
		t.Errorf("defaults: got %v, %q, %q", c.OpenAPI, c.ThunderOpenAPITitle, c.ThunderOpenAPIDescription)
	}
	c, err := parse(t, "", "--no-openapi", "--thunder-openapi-title", "Acme", "--thunder-openapi-description", "Acme's users")
	if err != nil {
		t.Fatal(err)
	}
	if c.OpenAPI || c.ThunderOpenAPITitle != "Acme" || c.ThunderOpenAPIDescription != "Acme's users" {
		t.Errorf("flags: got %v, %q, %q", c.OpenAPI, c.ThunderOpenAPITitle, c.ThunderOpenAPIDescription)
	}
	path := writeFile(t, "openapi: false\nthunder:\n  openapi-title: From the file\n")
	if c, err = parse(t, path); err != nil || c.OpenAPI || c.ThunderOpenAPITitle != "From the file" {
		t.Errorf("file: got %v, %q, %v", c.OpenAPI, c.ThunderOpenAPITitle, err)
	}
	t.Setenv("USHER_OPENAPI", "false")
	if c, err = parse(t, ""); err != nil || c.OpenAPI {
		t.Errorf("USHER_OPENAPI=false: got %v, %v", c.OpenAPI, err)
	}
}
