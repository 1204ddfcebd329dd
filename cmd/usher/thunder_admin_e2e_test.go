package main

// End-to-end tests of a Thunder deployment moved to Usher: `usher serve
// --thunder-config` on a Thunder config.yaml as Thunder's users write it,
// run as a child process, called over HTTP with real signed tokens, and
// watched through the Thunder admin listener.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// thunderHMAC is the OAuth secret, given to the child through the
// environment as Thunder's ${...} secrets are. 32 bytes signing HS512, as
// Thunder's own deployments do.
const thunderHMAC = "e2e-hmac-secret-of-32-bytes-long"

// thunderE2EFile is a Thunder config.yaml covering every section Usher
// reads and several it ignores.
func thunderE2EFile(t *testing.T, dir string, rsaDER []byte) string {
	t.Helper()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyPath := filepath.Join(dir, "public-key.der")
	if err := os.WriteFile(keyPath, rsaDER, 0o600); err != nil {
		t.Fatal(err)
	}
	text := write("verification.txt", "Welcome! Confirm your address here: VERIFY-URL\n")
	success := write("success.html", "<html><body>Thanks, you are verified.</body></html>")
	return write("config.yaml", `
# Information to access DynamoDB
database:
  type: dynamodb
  endpoint: http://dynamo:4567
  region: us-east-1
  tableName: pilot-users-test

email:
  type: ses
  endpoint: http://ses:9001
  region: us-east-1
  fromAddress: noreply@example.com
  messageOptions:
    subject: Confirm your Acme account
    bodyTextFilePath: `+text+`
    urlPlaceholderString: VERIFY-URL
    successHtmlFilePath: `+success+`

auth:
  type: oauth
  hmacSecret: ${TEST_THUNDER_HMAC}
  issuer: thunder-oauth-issuer
  audience: thunder
  rsaPublicKeyFilePath: `+keyPath+`

passwordHash:
  algorithm: sha256
  serverSideHash: true
  allowCommonMistakes: true

properties:
  allowSubset: true
  allowSuperset: false
  allowed:
    - name: uniqueID
      type: string

openApi:
  title: Acme Users

server:
  applicationConnectors:
    - type: http
      port: 8080
  adminConnectors:
    - type: http
      port: 8081
`)
}

// hs512 signs claims with the shared secret (by hand: go-jose refuses a
// 32-byte secret for HS512, which Thunder accepts).
func hs512(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	signed := enc([]byte(`{"typ":"JWT","alg":"HS512"}`)) + "." + enc([]byte(claims))
	m := hmac.New(sha512.New, []byte(thunderHMAC))
	m.Write([]byte(signed))
	return signed + "." + enc(m.Sum(nil))
}

// thunderCall is one call on the child's Thunder listener.
func thunderCall(t *testing.T, method, url, token, password, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if password != "" {
		req.Header.Set("password", password)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func TestThunderE2EConfigFileOAuthAndAdmin(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	sink := startSMTPSink(t)
	file := thunderE2EFile(t, t.TempDir(), der)
	p := startChild(t, childOpts{
		Args: []string{"--thunder-config", file,
			// The file's ports (8080, 8081) are overridden by flags, as any
			// Usher flag overrides the Thunder file.
			"--thunder-addr", "127.0.0.1:0", "--thunder-admin-addr", "127.0.0.1:0",
			"--smtp-host", sink.Host(), "--smtp-port", strconv.Itoa(sink.Port()), "--smtp-tls", "none",
			"--mail-poll", "100ms"},
		Env: []string{"TEST_THUNDER_HMAC=" + thunderHMAC},
	})
	api := "http://" + p.Addrs["thunder"]
	admin := "http://" + p.Addrs["thunder-admin"]

	// Start-up said, one line each, what it ignored.
	for _, setting := range []string{"database.type", "database.endpoint", "database.tableName", "email.endpoint", "email.region", "passwordHash.algorithm", "passwordHash.serverSideHash"} {
		if !p.loggedSetting(setting) {
			t.Errorf("no thunder_config_ignored line for %s", setting)
		}
	}

	rsaSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: rsaKey}, nil)
	// No exp: Thunder's library accepts such tokens, and so does Usher.
	rs256, err := jwt.Signed(rsaSigner).Claims(jwt.Claims{Issuer: "thunder-oauth-issuer", Audience: jwt.Audience{"thunder"}, Subject: "backend"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	hsTok := hs512(`{"iss":"thunder-oauth-issuer","aud":"thunder","sub":"batch","exp":` + exp + `}`)
	wrongAud := hs512(`{"iss":"thunder-oauth-issuer","aud":"thunder55"}`)

	const pw = "Mountain-Harbor-7731"
	user := `{"email":{"address":"ana@example.com"},"password":"` + pw + `","uniqueID":"u-1"}`
	if code, _, body := thunderCall(t, "POST", api+"/users", hsTok, "", user); code != 201 {
		t.Fatalf("create with an HS512 token: %d %s", code, body)
	}
	if code, _, body := thunderCall(t, "GET", api+"/users?email=ana@example.com", rs256, pw, ""); code != 200 || !strings.Contains(body, `"uniqueID":"u-1"`) {
		t.Fatalf("get with an RS256 token: %d %s", code, body)
	}
	code, h, body := thunderCall(t, "GET", api+"/users?email=ana@example.com", wrongAud, pw, "")
	if code != 401 || body != "Credentials are required to access this resource." || h.Get("WWW-Authenticate") != `Bearer realm="realm"` {
		t.Fatalf("a token for another audience: %d %q %q", code, h.Get("WWW-Authenticate"), body)
	}
	if code, _, _ := thunderCall(t, "GET", api+"/users?email=ana@example.com", "", pw, ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	// allowCommonMistakes from the file: Caps Lock on still matches.
	if code, _, body := thunderCall(t, "GET", api+"/users?email=ana@example.com", rs256, "mOUNTAIN-hARBOR-7731", ""); code != 200 {
		t.Fatalf("a forgiven mistake: %d %s", code, body)
	}
	// Email on (type ses): /verify sends the file's message through SMTP.
	if code, _, body := thunderCall(t, "POST", api+"/verify?email=ana@example.com", hsTok, pw, ""); code != 200 {
		t.Fatalf("send verification: %d %s", code, body)
	}
	msg := sink.waitMessages(t, "ana@example.com", "Confirm your Acme account", 1)[0]
	text := msg.Part("text/plain")
	if !strings.Contains(text, "Welcome! Confirm your address here: http") || strings.Contains(text, "VERIFY-URL") {
		t.Errorf("the messageOptions body was not used: %q", text)
	}
	if code, _, body := thunderCall(t, "GET", api+"/verify/success", "", "", ""); code != 200 || !strings.Contains(body, "Thanks, you are verified.") {
		t.Errorf("success page: %d %s", code, body)
	}

	// The admin listener.
	if code, _, body := thunderCall(t, "GET", admin+"/ping", "", "", ""); code != 200 || body != "pong\n" {
		t.Errorf("ping: %d %q", code, body)
	}
	code, _, body = thunderCall(t, "GET", admin+"/healthcheck", "", "", "")
	var health map[string]struct {
		Healthy bool `json:"healthy"`
	}
	if err := json.Unmarshal([]byte(body), &health); err != nil || code != 200 || len(health) != 3 ||
		!health["Database"].Healthy || !health["Email"].Healthy || !health["deadlocks"].Healthy {
		t.Errorf("healthcheck: %d %s", code, body)
	}
	metrics := waitMetrics(t, admin, func(m dropwizardMetrics) bool {
		return m.Counters["com.sanctionco.thunder.email.EmailService.email-send-success"].Count == 1
	})
	wantCounters := map[string]int64{
		"com.sanctionco.thunder.authentication.oauth.OAuthAuthenticator.jwt-verification-success": 4,
		"com.sanctionco.thunder.authentication.oauth.OAuthAuthenticator.jwt-verification-failure": 1,
		"com.sanctionco.thunder.email.EmailService.email-send-success":                            1,
		"com.sanctionco.thunder.email.EmailService.email-send-failure":                            0,
	}
	for name, want := range wantCounters {
		if got := metrics.Counters[name].Count; got != want {
			t.Errorf("counter %s = %d, want %d", name, got, want)
		}
	}
	wantMeters := map[string]int64{
		"com.sanctionco.thunder.resources.UserResource.post-requests":               1,
		"com.sanctionco.thunder.resources.UserResource.get-requests":                2,
		"com.sanctionco.thunder.resources.VerificationResource.send-email-requests": 1,
		"com.sanctionco.thunder.resources.UserResource.delete-requests":             0,
	}
	for name, want := range wantMeters {
		if got := metrics.Meters[name].Count; got != want {
			t.Errorf("meter %s = %d, want %d", name, got, want)
		}
	}
	if _, basic := metrics.Counters["com.sanctionco.thunder.authentication.basic.BasicAuthenticator.basic-auth-verification-success"]; basic {
		t.Error("basic counters shown in OAuth mode (Thunder registers only the authenticator in use)")
	}
	// No secret anywhere it could leak.
	_, _, raw := thunderCall(t, "GET", admin+"/metrics", "", "", "")
	for _, secret := range []string{thunderHMAC, hsTok, rs256, pw} {
		if strings.Contains(raw, secret) || strings.Contains(p.Stderr(), secret) {
			t.Errorf("a secret shows in /metrics or the log")
		}
	}
}

// TestThunderE2EEmailDisabled: a Thunder file without an email section
// (Thunder's email off) and with basic keys: /verify answers 404 in
// Thunder's format and the admin has no Email check.
func TestThunderE2EEmailDisabled(t *testing.T) {
	file := writeTempFile(t, "config.yaml", `
database:
  type: memory
auth:
  type: basic
  keys:
    - application: application
      secret: secret
server:
  applicationConnectors:
    - type: http
      port: 8080
  adminConnectors:
    - type: http
      port: 8081
`)
	p := startChild(t, childOpts{Args: []string{"--thunder-config", file, "--thunder-addr", "127.0.0.1:0", "--thunder-admin-addr", "127.0.0.1:0"}})
	api := "http://application:secret@" + p.Addrs["thunder"]
	code, _, body := thunderCall(t, "POST", api+"/verify?email=ana@example.com", "", "x", "")
	if code != 404 || body != `{"code":404,"message":"HTTP 404 Not Found"}` {
		t.Errorf("POST /verify with email off: %d %s", code, body)
	}
	if code, _, _ := thunderCall(t, "GET", api+"/users?email=nobody@example.com", "", "x", ""); code != 404 {
		t.Errorf("users served: %d, want 404 User not found", code)
	}
	code, _, body = thunderCall(t, "GET", "http://"+p.Addrs["thunder-admin"]+"/healthcheck", "", "", "")
	if code != 200 || strings.Contains(body, "Email") || !strings.Contains(body, `"Database":{"healthy":true`) {
		t.Errorf("healthcheck: %d %s", code, body)
	}
	m := waitMetrics(t, "http://"+p.Addrs["thunder-admin"], func(dropwizardMetrics) bool { return true })
	if m.Counters["com.sanctionco.thunder.authentication.basic.BasicAuthenticator.basic-auth-verification-success"].Count != 1 {
		t.Errorf("basic successes: %+v", m.Counters)
	}
	if _, ok := m.Meters["com.sanctionco.thunder.resources.VerificationResource.send-email-requests"]; ok {
		t.Error("verification meters with email off")
	}
}

// dropwizardMetrics is the part of /metrics the tests read.
type dropwizardMetrics struct {
	Version  string
	Counters map[string]struct{ Count int64 }
	Meters   map[string]struct{ Count int64 }
	Timers   map[string]struct{ Count int64 }
}

// waitMetrics reads /metrics until ok holds (the relay sends email in the
// background) or the mail wait has passed.
func waitMetrics(t *testing.T, admin string, ok func(dropwizardMetrics) bool) dropwizardMetrics {
	t.Helper()
	deadline := time.Now().Add(mailWait)
	for {
		code, _, body := thunderCall(t, "GET", admin+"/metrics", "", "", "")
		var m dropwizardMetrics
		if err := json.Unmarshal([]byte(body), &m); err != nil || code != 200 || m.Version != "4.0.0" {
			t.Fatalf("/metrics: %d %s", code, body)
		}
		if ok(m) || time.Now().After(deadline) {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loggedSetting reports whether the child logged that it ignored setting.
func (p *childServer) loggedSetting(setting string) bool {
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	for _, ev := range p.log.events {
		if ev["event"] == "thunder_config_ignored" && ev["setting"] == setting {
			return true
		}
	}
	return false
}
