package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The backend listener's transport: only a client certificate signed by
// the configured client CA gets an HTTP exchange at all.

// testCA is a certificate authority made in a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

func newTestCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{cert: cert, key: key}
}

// clientCert issues a client certificate from ca (self-signed when ca is
// nil) and writes it and its key as PEM files; it returns their paths.
func clientCert(t *testing.T, ca *testCA, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	writePEMFile(t, certFile, "CERTIFICATE", der)
	writePEMFile(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEMFile(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestBackendRefusesClientsWithoutTrustedCertificate(t *testing.T) {
	s := startServer(t)
	be := s.BackendAPI
	const email = "tls.victim@example.com"
	id := be.newUser(t, email, "lantern-tabby-41")
	other := newTestCA(t, "Some other CA")

	cases := []struct {
		name    string
		client  func(t *testing.T) *http.Client
		refused bool
	}{
		{"development client certificate", func(t *testing.T) *http.Client { return s.Client }, false},
		{"no client certificate", func(t *testing.T) *http.Client {
			return mustClient(t, s.DevCA.CA, "", "")
		}, true},
		{"client certificate from another CA", func(t *testing.T) *http.Client {
			cert, key := clientCert(t, &other, "intruder")
			return mustClient(t, s.DevCA.CA, cert, key)
		}, true},
		{"self-signed client certificate", func(t *testing.T) *http.Client {
			cert, key := clientCert(t, nil, "usher-dev-client")
			return mustClient(t, s.DevCA.CA, cert, key)
		}, true},
		{"the server's certificate used as a client certificate", func(t *testing.T) *http.Client {
			// Signed by the right CA, but for server authentication only.
			return mustClient(t, s.DevCA.CA, s.DevCA.ServerCert, s.DevCA.ServerKey)
		}, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := c.client(t)
			rows := s.userCount(t)

			for _, r := range []struct{ method, path, body string }{
				{"GET", "/users/" + id, ""},
				{"GET", "/healthz", ""},
				{"POST", "/users/", mustJSON(t, map[string]string{"email": "tls" + string(rune('a'+i)) + "@example.com", "password": "lantern-tabby-41"})},
			} {
				res, err := send(client, s.BackendAPI.request(t, r.method, r.path, r.body))
				status, body := res.Status, res.Body
				switch {
				case c.refused && err == nil:
					t.Errorf("%s %s: got HTTP %d, want the TLS handshake to fail", r.method, r.path, status)
					if strings.Contains(string(body), email) {
						t.Errorf("%s %s: the response holds the user's email: %s", r.method, r.path, body)
					}
				case !c.refused && err != nil:
					t.Errorf("%s %s: %v", r.method, r.path, err)
				case !c.refused && status/100 != 2:
					t.Errorf("%s %s: got %d, want 2xx", r.method, r.path, status)
				}
			}
			want := rows
			if !c.refused {
				want++
			}
			if got := s.userCount(t); got != want {
				t.Errorf("users: got %d, want %d", got, want)
			}
		})
	}
}

func TestBackendRefusesPlainHTTP(t *testing.T) {
	s := startServer(t)
	be := s.BackendAPI
	const email = "plain.victim@example.com"
	id := be.newUser(t, email, "lantern-tabby-41")
	plain := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + s.BackendAddr()

	cases := []struct {
		name, method, path, body string
	}{
		{"GET a user", "GET", "/users/" + id, ""},
		{"GET a user's data", "GET", "/users/" + id + "/data", ""},
		{"create a user", "POST", "/users/", `{"email":"plain.new@example.com","password":"lantern-tabby-41"}`},
		{"check a password", "POST", "/users/" + id + "/checkpw", `{"password":"lantern-tabby-41"}`},
		{"delete a user", "DELETE", "/users/" + id, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, err := http.NewRequest(c.method, base+c.path, body)
			if err != nil {
				t.Fatal(err)
			}
			res, err := plain.Do(req)
			if err != nil {
				return // refused outright: no user data either
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			if err != nil {
				return
			}
			if res.StatusCode/100 == 2 {
				t.Errorf("status: got %d, want a refusal", res.StatusCode)
			}
			if strings.Contains(string(b), email) || strings.Contains(string(b), id) {
				t.Errorf("the response holds user data: %s", b)
			}
		})
	}
	// None of it reached Usher.
	if got := s.userCount(t); got != 1 {
		t.Errorf("users: got %d, want 1", got)
	}
	if u := be.get(t, id); u.Email != email {
		t.Errorf("email: got %q, want %q", u.Email, email)
	}
	if !be.checkpw(t, id, "lantern-tabby-41") {
		t.Errorf("password: got false, want true")
	}
}
