package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/store/postgres/pgtest"
)

// cheapHash keeps tests fast; production always uses password.Default.
var cheapHash = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// testConfig returns the defaults of `usher serve` (parsed by kong from the
// Config's tags, so they cannot drift) on a fresh data directory and free
// ports, with fast mail retries.
func testConfig(t testing.TB) config.Config {
	t.Helper()
	var cli struct {
		config.Config `embed:""`
	}
	parser, err := kong.New(&cli)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(nil); err != nil {
		t.Fatal(err)
	}
	c := cli.Config
	c.Data = t.TempDir()
	c.BackendAddr, c.PublicAddr, c.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	c.HashMaxWait = 10 * time.Second
	c.ShutdownTimeout = 10 * time.Second
	c.LogRequests = false
	c.RateAuth, c.RatePublic = 0, 0 // tests that exercise limits set them
	c.MailRetryBase, c.MailRetryMax, c.MailPoll = 100*time.Millisecond, time.Second, 50*time.Millisecond
	return c
}

// testServer is a Usher started in-process, with a typed client for each
// of its surfaces.
type testServer struct {
	*Main
	Backend string       // https://host:port of the backend listener
	Public  string       // http://host:port of the public listener
	Client  *http.Client // mutual-TLS client for the backend

	BackendAPI *backendClient
	PublicAPI  *publicClient
	ThunderAPI *thunderClient // nil when the Thunder listener is off

	plain    *http.Transport // under PublicAPI's and ThunderAPI's clients
	stopOnce sync.Once
}

// startServer starts Usher with cheap hashing on a fresh data directory (and,
// with USHER_TEST_ENGINE=postgres, a PostgreSQL schema of its own, with no
// row: see pgtest.ReusableDSN);
// edit adjusts the Main before it starts. Usher is closed when the test ends.
func startServer(t testing.TB, edit ...func(*Main)) *testServer {
	t.Helper()
	m := &Main{Config: testConfig(t), HashParams: &cheapHash}
	if os.Getenv("USHER_TEST_ENGINE") == "postgres" {
		m.Config.DB = pgtest.ReusableDSN(t)
	}
	for _, e := range edit {
		e(m)
	}
	// A new SQLite database starts as a copy of one already migrated
	// (migrating takes most of a second under the race detector); the
	// migrations have tests of their own (internal/store/sqlite, and
	// `usher migrate` in process_test.go and admin_test.go).
	if m.Config.DB == "" {
		path := SQLitePath(m.Config.Data)
		if _, err := os.Stat(m.Config.Data); err == nil {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				accounttest.MigratedSQLite(t, path)
			}
		}
	}
	if err := m.Start(context.Background()); err != nil {
		_ = m.Close()
		t.Fatalf("start: %v", err)
	}
	s := newTestServer(t, m)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// Stop closes Usher, once; startServer's cleanup calls it too, so a test
// may stop a server midway (and start another on the same data).
func (s *testServer) Stop(t testing.TB) {
	t.Helper()
	s.stopOnce.Do(func() {
		// The clients close their idle connections first: an HTTP/2
		// server's shutdown waits a second for a client to hang up.
		if s.Client != nil {
			httpTransport(s.Client).CloseIdleConnections()
		}
		s.plain.CloseIdleConnections()
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

// newTestServer returns the clients of a started Main.
func newTestServer(t testing.TB, m *Main) *testServer {
	t.Helper()
	s := &testServer{Main: m, Backend: "https://" + m.BackendAddr(), Public: "http://" + m.PublicAddr()}
	if m.DevCA.CA != "" {
		s.Client = mustClient(t, m.DevCA.CA, m.DevCA.ClientCert, m.DevCA.ClientKey)
		validating(t, "backend", m.Config.OpenAPI, s.Client)
		s.BackendAPI = &backendClient{base: s.Backend, http: s.Client}
	}
	tr := &http.Transport{}
	s.plain = tr
	t.Cleanup(tr.CloseIdleConnections)
	// plain returns a client over plain HTTP that does not follow
	// redirects, checked against the surface's OpenAPI document.
	plain := func(surface string) *http.Client {
		c := &http.Client{
			Transport:     tr,
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		validating(t, surface, m.Config.OpenAPI, c)
		return c
	}
	s.PublicAPI = &publicClient{base: s.Public, key: m.Tenant.PublicKey, http: plain("public")}
	if addr := m.ThunderAddr(); addr != "" {
		s.ThunderAPI = &thunderClient{base: "http://" + addr, http: plain("thunder")}
	}
	return s
}

// mustClient returns an HTTP client trusting caFile and presenting the
// given client certificate (none when certFile is "").
func mustClient(t testing.TB, caFile, certFile, keyFile string) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no CA certificate in", caFile)
	}
	cfg := &tls.Config{RootCAs: pool}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func TestServerStartsAndAnswersHealth(t *testing.T) {
	s := startServer(t)
	if r := s.BackendAPI.do(t, "GET", "/healthz", ""); r.Status != http.StatusOK {
		t.Fatalf("backend /healthz: got %d, want 200", r.Status)
	}
	if r := s.PublicAPI.raw(t, "GET", "/healthz", ""); r.Status != http.StatusOK {
		t.Fatalf("public /healthz: got %d, want 200", r.Status)
	}
}

// testNewUser is a valid new user with the given email.
func testNewUser(email string) account.NewUser {
	return account.NewUser{Email: email, Password: "correct horse battery", Enabled: true}
}
