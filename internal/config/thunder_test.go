package config_test

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/config"
)

// parseThunder runs kong as cmd/usher does: the Thunder file below
// Usher's file (usherPath, "" for none), the environment and flags.
func parseThunder(t *testing.T, thunderYAML, usherPath string, args ...string) (config.Config, *config.ThunderFile) {
	t.Helper()
	tf, err := config.LoadThunderFile(writeFile(t, thunderYAML), func(k string) (string, bool) {
		return map[string]string{"THUNDER_HMAC": "from-the-environment-32-bytes-xx", "EMPTY": ""}[k], k == "THUNDER_HMAC" || k == "EMPTY"
	})
	if err != nil {
		t.Fatalf("LoadThunderFile: %v", err)
	}
	var c cli
	opts := []kong.Option{
		kong.Name("usher"), kong.DefaultEnvars("USHER"), kong.Writers(io.Discard, io.Discard),
		kong.Exit(func(code int) { t.Fatalf("kong exited with %d", code) }),
		kong.Resolvers(tf),
	}
	if usherPath != "" {
		r, err := config.LoadFile(usherPath)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, kong.Resolvers(r))
	}
	parser, err := kong.New(&c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(args); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c.Config, tf
}

// A production Thunder file: DynamoDB, SES with message options, basic
// auth with two keys, strict properties, hashing options, OpenAPI text,
// both connectors, logging and metrics, and ${...} secrets.
const thunderProd = `
# Information to access DynamoDB
database:
  type: dynamodb
  endpoint: https://dynamodb.us-east-1.amazonaws.com
  region: us-east-1
  tableName: users

email:
  type: ses
  endpoint: https://email.us-east-1.amazonaws.com
  region: us-east-1
  fromAddress: noreply@example.com
  messageOptions:
    subject: Welcome to Acme
    bodyHtmlFilePath: /etc/thunder/verify.html
    bodyTextFilePath: /etc/thunder/verify.txt
    urlPlaceholderString: VERIFY-URL
    successHtmlFilePath: /etc/thunder/success.html

auth:
  type: basic
  keys:
    - application: web
      secret: ${THUNDER_HMAC}
    - application: batch
      secret: batch-secret

properties:
  allowSubset: false
  allowSuperset: false
  allowed:
    - name: uniqueID
      type: string
    - name: attributes
      type: list
    - name: untyped

passwordHash:
  algorithm: bcrypt
  serverSideHash: true
  headerCheck: false
  allowCommonMistakes: true

openApi:
  enabled: false
  title: Acme Users
  description: Acme's user API
  contact: Ops
  license: MIT

options:
  operationTimeout: 10s

emailAddressValidation:
  rules:
    - check: endswith
      value: "@example.com"

secrets:
  provider: secretsmanager
  endpoint: https://secretsmanager.us-east-1.amazonaws.com
  region: us-east-1

server:
  applicationConnectors:
    - type: http
      port: 9080
    - type: https
      port: 9443
      keyStorePath: /etc/thunder/ks.jks
  adminConnectors:
    - type: http
      bindHost: 127.0.0.1
      port: 9081
  requestLog:
    appenders:
      - type: console

logging:
  level: INFO

metrics:
  frequency: 1 minute
`

func TestThunderFileProduction(t *testing.T) {
	c, tf := parseThunder(t, thunderProd, "")
	got := map[string]any{
		"auth": c.ThunderAuth, "apps": c.ThunderApps, "props": c.ThunderProperties,
		"subset": c.ThunderAllowSubset, "superset": c.ThunderAllowSuperset,
		"headerCheck": c.ThunderHeaderCheck, "mistakes": c.ThunderCommonMistakes,
		"email": c.ThunderEmail, "from": c.MailFrom, "subject": c.ThunderMailSubject,
		"html": c.ThunderMailBodyHTML, "text": c.ThunderMailBodyText, "placeholder": c.ThunderMailURLPlaceholder,
		"success": c.ThunderSuccessPage, "openapi": c.OpenAPI, "title": c.ThunderOpenAPITitle,
		"description": c.ThunderOpenAPIDescription, "addr": c.ThunderAddr, "admin": c.ThunderAdminAddr,
	}
	want := map[string]any{
		"auth": "basic", "apps": []string{"web:from-the-environment-32-bytes-xx", "batch:batch-secret"},
		"props":  []string{"uniqueID:string", "attributes:list", "untyped:string"},
		"subset": false, "superset": false, "headerCheck": false, "mistakes": true,
		"email": true, "from": "noreply@example.com", "subject": "Welcome to Acme",
		"html": "/etc/thunder/verify.html", "text": "/etc/thunder/verify.txt", "placeholder": "VERIFY-URL",
		"success": "/etc/thunder/success.html", "openapi": false, "title": "Acme Users",
		"description": "Acme's user API", "addr": ":9080", "admin": "127.0.0.1:9081",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	var ignored []string
	for _, ig := range tf.Ignored {
		ignored = append(ignored, ig.Setting)
		if ig.Reason == "" {
			t.Errorf("%s: no reason", ig.Setting)
		}
	}
	wantIgnored := []string{
		"passwordHash.algorithm", "passwordHash.serverSideHash",
		"email.endpoint", "email.region",
		"openApi.contact", "openApi.license",
		"server.applicationConnectors[1]", "server.requestLog",
		"database.endpoint", "database.region", "database.tableName", "database.type",
		"emailAddressValidation", "logging", "metrics", "options", "secrets",
	}
	if diff := cmp.Diff(wantIgnored, ignored); diff != "" {
		t.Errorf("ignored (-want +got):\n%s", diff)
	}
	for _, ig := range tf.Ignored {
		for _, secret := range []string{"batch-secret", "from-the-environment", "amazonaws.com"} {
			if strings.Contains(ig.Setting+ig.Reason, secret) {
				t.Errorf("a note shows a value: %+v", ig)
			}
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// The file of Thunder's OAuth suite, in the shape its docs give.
const thunderOAuth = `
database:
  type: memory
  maxMemoryPercentage: 50
auth:
  type: oauth
  hmacSecret: ${THUNDER_HMAC}
  issuer: thunder-oauth-issuer
  audience: thunder
  rsaPublicKeyFilePath: /home/config/test-rsa-public-key.der
server:
  applicationConnectors:
    - type: http
      port: 8080
  adminConnectors:
    - type: http
      port: 8081
`

func TestThunderFileOAuth(t *testing.T) {
	c, tf := parseThunder(t, thunderOAuth, "")
	if c.ThunderAuth != "oauth" || c.ThunderOAuthHMACKey != "from-the-environment-32-bytes-xx" || c.ThunderOAuthIssuer != "thunder-oauth-issuer" ||
		c.ThunderOAuthAudience != "thunder" || c.ThunderOAuthRSAKey != "/home/config/test-rsa-public-key.der" {
		t.Errorf("oauth settings: %+v", c)
	}
	// No email section: Thunder's email is off.
	if c.ThunderEmail || c.ThunderAddr != ":8080" || c.ThunderAdminAddr != ":8081" || len(c.ThunderApps) != 0 {
		t.Errorf("email %v, addr %q, admin %q, apps %v", c.ThunderEmail, c.ThunderAddr, c.ThunderAdminAddr, c.ThunderApps)
	}
	if !c.OpenAPI || c.ThunderOpenAPITitle != "Thunder API" {
		t.Errorf("openApi defaults: %v %q", c.OpenAPI, c.ThunderOpenAPITitle)
	}
	var ignored []string
	for _, ig := range tf.Ignored {
		ignored = append(ignored, ig.Setting)
	}
	if diff := cmp.Diff([]string{"database.maxMemoryPercentage", "database.type"}, ignored); diff != "" {
		t.Errorf("ignored (-want +got):\n%s", diff)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestThunderFilePrecedence: Usher's file, the environment and flags each
// override the Thunder file.
func TestThunderFilePrecedence(t *testing.T) {
	usherFile := writeFile(t, "thunder:\n  addr: 127.0.0.1:7000\n  header-check: true\n")
	t.Setenv("USHER_THUNDER_ALLOW_SUBSET", "true")
	c, _ := parseThunder(t, thunderProd, usherFile, "--thunder-admin-addr", "127.0.0.1:0", "--thunder-app", "cli:cli-secret")
	if c.ThunderAddr != "127.0.0.1:7000" || !c.ThunderHeaderCheck {
		t.Errorf("Usher's file lost: addr %q, header check %v", c.ThunderAddr, c.ThunderHeaderCheck)
	}
	if !c.ThunderAllowSubset {
		t.Error("the environment lost to the Thunder file")
	}
	if c.ThunderAdminAddr != "127.0.0.1:0" || !slices.Equal(c.ThunderApps, []string{"cli:cli-secret"}) {
		t.Errorf("flags lost: admin %q, apps %v", c.ThunderAdminAddr, c.ThunderApps)
	}
	// What nothing overrides still comes from the Thunder file.
	if c.ThunderAllowSuperset || !c.ThunderCommonMistakes {
		t.Errorf("Thunder file lost: superset %v, mistakes %v", c.ThunderAllowSuperset, c.ThunderCommonMistakes)
	}
}

// keyA is an auth section: a listener without an application is refused.
const keyA = "auth:\n  keys:\n    - application: a\n      secret: s\n"

func TestThunderFileMinimalAndSmallShapes(t *testing.T) {
	tests := []struct {
		name, yaml string
		check      func(c config.Config) bool
	}{
		{"email type none", keyA + "email:\n  type: none\n", func(c config.Config) bool { return !c.ThunderEmail }},
		{"auth only", keyA, func(c config.Config) bool { return !c.ThunderEmail && c.ThunderAuth == "basic" }},
		{"default port", keyA + "server:\n  applicationConnectors:\n    - type: http\n", func(c config.Config) bool { return c.ThunderAddr == ":8080" }},
		{"simple server", keyA + "server:\n  type: simple\n  connector:\n    type: http\n    port: 7070\n", func(c config.Config) bool { return c.ThunderAddr == ":7070" }},
		{"variable default", "auth:\n  keys:\n    - application: a\n      secret: ${NOT_SET:-fallback}\n", func(c config.Config) bool {
			return slices.Equal(c.ThunderApps, []string{"a:fallback"})
		}},
		{"escaped dollar", "auth:\n  keys:\n    - application: a\n      secret: $${LITERAL}\n", func(c config.Config) bool {
			return slices.Equal(c.ThunderApps, []string{"a:${LITERAL}"})
		}},
		{"unset variable in an ignored section", keyA + "database:\n  type: mongodb\n  connectionString: ${MONGO_URL_NOT_SET}\n", func(c config.Config) bool { return c.ThunderAuth == "basic" }},
		{"no server section: Dropwizard's ports, Usher's own listeners moved", keyA, func(c config.Config) bool {
			return c.ThunderAddr == ":8080" && c.ThunderAdminAddr == ":8081" && c.PublicAddr == "127.0.0.1:8180" && c.BackendAddr == "127.0.0.1:8181"
		}},
		{"other ports: Usher's own listeners stay", keyA + "server:\n  applicationConnectors:\n    - type: http\n      port: 9080\n  adminConnectors:\n    - type: http\n      port: 9081\n", func(c config.Config) bool {
			return c.PublicAddr == "127.0.0.1:8080" && c.BackendAddr == "127.0.0.1:8081"
		}},
		{"simple server has no admin port", keyA + "server:\n  type: simple\n  connector:\n    type: http\n    port: 8081\n", func(c config.Config) bool {
			return c.ThunderAdminAddr == "" && c.PublicAddr == "127.0.0.1:8080" && c.BackendAddr == "127.0.0.1:8181"
		}},
		{"booleans as strings", keyA + "passwordHash:\n  headerCheck: \"false\"\n", func(c config.Config) bool { return !c.ThunderHeaderCheck }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := parseThunder(t, tc.yaml, "")
			if !tc.check(c) {
				t.Errorf("settings: %+v", c)
			}
		})
	}
}

// A flag or variable that places Usher's own listeners wins over the move,
// and each move is reported for the start-up log.
func TestThunderFileMovesOnlyDefaults(t *testing.T) {
	t.Setenv("USHER_BACKEND_ADDR", "127.0.0.1:9999")
	c, tf := parseThunder(t, keyA, "", "--public-addr", "127.0.0.1:7777")
	if c.PublicAddr != "127.0.0.1:7777" || c.BackendAddr != "127.0.0.1:9999" {
		t.Errorf("public %q, backend %q: explicit addresses lost to the move", c.PublicAddr, c.BackendAddr)
	}
	var moved []string
	for _, m := range tf.Moved {
		moved = append(moved, m.Setting)
	}
	if !slices.Equal(moved, []string{"public-addr", "backend-addr"}) {
		t.Errorf("Moved = %v", moved)
	}
}

func TestThunderFileRefused(t *testing.T) {
	lookup := func(string) (string, bool) { return "", false }
	for name, yaml := range map[string]string{
		"unknown auth type":     "auth:\n  type: saml\n",
		"unknown email type":    "email:\n  type: sendgrid\n",
		"unset variable":        "auth:\n  keys:\n    - application: a\n      secret: ${NOPE}\n",
		"key without secret":    "auth:\n  keys:\n    - application: a\n",
		"bad port":              "server:\n  applicationConnectors:\n    - port: http\n",
		"bad boolean":           "passwordHash:\n  headerCheck: maybe\n",
		"properties not list":   "properties:\n  allowed: uniqueID\n",
		"section not a map":     "auth: basic\n",
		"not YAML":              "auth: [\n",
		"property without name": "properties:\n  allowed:\n    - type: string\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := config.LoadThunderFile(writeFile(t, yaml), lookup); err == nil {
				t.Error("accepted")
			} else if strings.Contains(err.Error(), "secret:") {
				t.Errorf("the error shows the file's text: %v", err)
			}
		})
	}
	if _, err := config.LoadThunderFile("/nonexistent/thunder.yaml", lookup); err == nil {
		t.Error("a missing file was accepted")
	}
}

func TestThunderFilePath(t *testing.T) {
	t.Setenv("USHER_THUNDER_CONFIG", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--thunder-config", "a.yaml"}, "a.yaml"},
		{[]string{"serve", "--thunder-config=b.yaml"}, "b.yaml"},
		{[]string{"serve", "--", "--thunder-config=c.yaml"}, ""},
	} {
		if got := config.ThunderFilePath(tc.args, nil); got != tc.want {
			t.Errorf("ThunderFilePath(%v) = %q, want %q", tc.args, got, tc.want)
		}
	}
	r, err := config.LoadFile(writeFile(t, "thunder-config: from-usher-file.yaml\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := config.ThunderFilePath([]string{"serve"}, r); got != "from-usher-file.yaml" {
		t.Errorf("from Usher's file: %q", got)
	}
	t.Setenv("USHER_THUNDER_CONFIG", "env.yaml")
	if got := config.ThunderFilePath([]string{"serve"}, r); got != "env.yaml" {
		t.Errorf("env: %q", got)
	}
}

func TestValidateThunderSettings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(c *config.Config)
		setting string // named in the error; "" for valid
	}{
		{"oauth with a secret", func(c *config.Config) { c.ThunderAuth, c.ThunderOAuthHMACKey, c.ThunderOAuthIssuer = "oauth", "k", "i" }, ""},
		{"oauth without keys", func(c *config.Config) { c.ThunderAuth, c.ThunderOAuthIssuer = "oauth", "i" }, "thunder-oauth-hmac-secret"},
		{"oauth without issuer", func(c *config.Config) { c.ThunderAuth, c.ThunderOAuthRSAKey = "oauth", "k.der" }, "thunder-oauth-issuer"},
		{"oauth needs no app", func(c *config.Config) {
			c.ThunderAuth, c.ThunderOAuthHMACKey, c.ThunderOAuthIssuer, c.ThunderAddr = "oauth", "k", "i", "127.0.0.1:0"
		}, ""},
		{"admin addr", func(c *config.Config) { c.ThunderAdminAddr = "nope" }, "thunder-admin-addr"},
		{"admin allow", func(c *config.Config) { c.ThunderAdminAllow = []string{"10.0.0.0/8", "not-an-ip"} }, "thunder-admin-allow"},
		{"empty placeholder with a body", func(c *config.Config) { c.ThunderMailBodyText, c.ThunderMailURLPlaceholder = "b.txt", "" }, "thunder-mail-url-placeholder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaults(t)
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.setting == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.setting != "" && (err == nil || !strings.Contains(err.Error(), "invalid setting "+tc.setting)):
				t.Errorf("Validate = %v, want it to name %s", err, tc.setting)
			}
		})
	}
	c := defaults(t)
	allow, err := c.AdminAllow()
	if err != nil || len(allow) != 2 || allow[0].String() != "127.0.0.0/8" || allow[1].String() != "::1/128" {
		t.Errorf("default admin allow-list %v, %v", allow, err)
	}
}

// Scalars are read as written, as Thunder (Jackson) reads them into its
// string settings: a secret of digits keeps its leading zeros, and no
// secret is turned into a number and printed back differently.
func TestThunderFileScalarsKeepTheirText(t *testing.T) {
	long := "123456789012345678901234567890"
	c, _ := parseThunder(t, "auth:\n  keys:\n    - application: 007\n      secret: 00123\n    - application: b\n      secret: "+long+"\n    - application: c\n      secret: 1e3\n", "")
	if want := []string{"007:00123", "b:" + long, "c:1e3"}; !slices.Equal(c.ThunderApps, want) {
		t.Errorf("thunder-app = %q, want %q", c.ThunderApps, want)
	}
	c, _ = parseThunder(t, "auth:\n  type: oauth\n  hmacSecret: 0x1F2E3D4C5B6A79880011223344556677\n  issuer: 1.10\n  audience: .inf\n", "")
	if c.ThunderOAuthHMACKey != "0x1F2E3D4C5B6A79880011223344556677" || c.ThunderOAuthIssuer != "1.10" || c.ThunderOAuthAudience != ".inf" {
		t.Errorf("oauth settings: secret %q, issuer %q, audience %q", c.ThunderOAuthHMACKey, c.ThunderOAuthIssuer, c.ThunderOAuthAudience)
	}
	// Anchors, aliases and merge keys still work; a key given explicitly
	// wins over a merged one.
	c, _ = parseThunder(t, "x-base: &base\n  type: basic\n  keys:\n    - &k {application: a, secret: s1}\nauth:\n  <<: *base\n  keys: [*k, {application: b, secret: s2}]\n", "")
	if want := []string{"a:s1", "b:s2"}; !slices.Equal(c.ThunderApps, want) || c.ThunderAuth != "basic" {
		t.Errorf("aliases: auth %q, apps %q, want %q", c.ThunderAuth, c.ThunderApps, want)
	}
}

// A key given twice is refused rather than one copy silently winning
// (passwordHash.headerCheck twice must not quietly turn the check off).
func TestThunderFileDuplicateKeysAndAliasBombs(t *testing.T) {
	lookup := func(string) (string, bool) { return "", false }
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for _, n := range "bcdefghij" {
		prev := string(n - 1)
		bomb += string(n) + ": &" + string(n) + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
	}
	for name, doc := range map[string]string{
		"duplicate key":  "passwordHash:\n  headerCheck: true\n  headerCheck: false\n",
		"alias bomb":     bomb,
		"recursive list": "auth: &a\n  keys: [*a]\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := config.LoadThunderFile(writeFile(t, doc), lookup); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// A file larger than any Thunder configuration (or a device that never
// ends) is refused before it is read whole.
func TestThunderFileTooLarge(t *testing.T) {
	lookup := func(string) (string, bool) { return "", false }
	big := keyA + "# " + strings.Repeat("x", config.MaxThunderFileSize) + "\n"
	if _, err := config.LoadThunderFile(writeFile(t, big), lookup); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a file over the limit: %v, want refused", err)
	}
	if _, err := config.LoadThunderFile("/dev/zero", lookup); err == nil {
		t.Error("/dev/zero was accepted")
	}
}
