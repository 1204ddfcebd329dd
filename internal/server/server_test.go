package server_test

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/server"
)

// The backend offers TLS 1.2 clients only forward-secret AEAD suites: a
// client that offers nothing else (CBC with SHA-1, RSA key exchange) fails
// the handshake, and one that offers an AEAD suite gets it.
func TestMutualTLSOffersOnlyAEADSuites(t *testing.T) {
	files, _, err := server.EnsureDevCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := server.MutualTLS(files.ServerCert, files.ServerKey, files.CA)
	if err != nil {
		t.Fatal(err)
	}
	client, err := tls.LoadX509KeyPair(files.ClientCert, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	dial := func(suites ...uint16) (uint16, error) {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
			InsecureSkipVerify: true, // the suite is under test, not the chain
			Certificates:       []tls.Certificate{client},
			MinVersion:         tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
			CipherSuites: suites,
		})
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.ConnectionState().CipherSuite, nil
	}
	for _, weak := range []uint16{
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	} {
		if got, err := dial(weak); err == nil {
			t.Errorf("handshake with only %s succeeded (suite %s)", tls.CipherSuiteName(weak), tls.CipherSuiteName(got))
		}
	}
	got, err := dial(tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
	if err != nil {
		t.Fatalf("handshake offering an AEAD suite: %v", err)
	}
	if got == tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA {
		t.Errorf("negotiated %s, want an AEAD suite", tls.CipherSuiteName(got))
	}
}
