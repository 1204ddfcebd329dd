package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"os"
	"strings"
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

// A client without a certificate on the mutual-TLS listener is logged at
// warn, naming the listener, the client and the reason.
func TestListenerLogsAHandshakeWithoutClientCertificate(t *testing.T) {
	files, _, err := server.EnsureDevCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := server.MutualTLS(files.ServerCert, files.ServerKey, files.CA)
	if err != nil {
		t.Fatal(err)
	}
	warnings := make(chan slog.Record, 16)
	log := slog.New(warnHandler{warnings})
	l := &server.Listener{Name: "backend", Addr: "127.0.0.1:0", TLS: cfg,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	if err := l.Listen(server.Timeouts{ReadHeader: time.Second, Read: time.Second, Write: time.Second, Idle: time.Second}, log); err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	t.Cleanup(func() { l.Shutdown(context.Background()) })

	pemBytes, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)
	c, err := tls.Dial("tcp", l.BoundAddr(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err == nil {
		// TLS 1.3: the server refuses the missing certificate after the
		// client's side of the handshake; the first read sees it.
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate got through")
	}
	select {
	case rec := <-warnings:
		got := map[string]string{}
		rec.Attrs(func(a slog.Attr) bool { got[a.Key] = a.Value.String(); return true })
		if got["event"] != "tls_handshake_failed" || got["listener"] != "backend" ||
			!strings.Contains(got["error"], "didn't provide a certificate") || !strings.HasPrefix(got["remote"], "127.0.0.1:") {
			t.Errorf("warning: got %v, want tls_handshake_failed on backend from 127.0.0.1 for a missing certificate", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no warning logged for a handshake without a client certificate")
	}
}

// warnHandler sends the warnings it handles to a channel.
type warnHandler struct{ ch chan<- slog.Record }

func (h warnHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h warnHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h warnHandler) WithGroup(string) slog.Handler                { return h }
func (h warnHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.ch <- r:
	default:
	}
	return nil
}
