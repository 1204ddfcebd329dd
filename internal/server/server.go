// Package server runs Usher's listeners: TLS and mutual TLS, timeouts, and
// graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// Timeouts bound every connection.
type Timeouts struct {
	ReadHeader time.Duration
	Read       time.Duration
	Write      time.Duration
	Idle       time.Duration
}

// MutualTLS returns a TLS config that serves certFile/keyFile and requires
// a client certificate signed by a CA in clientCAFile.
func MutualTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server: load certificate %s: %w", certFile, err)
	}
	pemBytes, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("server: read client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("server: client CA %s holds no PEM certificate", clientCAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
		// TLS 1.2 offers only forward-secret AEAD suites (TLS 1.3's are
		// all AEAD and not configurable); Go's defaults would also offer
		// CBC suites with SHA-1 MACs.
		CipherSuites: aeadSuites,
	}, nil
}

// ServerTLS returns a TLS config that serves certFile/keyFile (a chain:
// the certificate, then its intermediates) without asking for a client
// certificate: the public listener's, where browsers connect.
func ServerTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server: load certificate %s: %w", certFile, err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: aeadSuites,
	}, nil
}

// aeadSuites are the TLS 1.2 cipher suites the backend offers.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Listener is one HTTP server on one address.
type Listener struct {
	Name    string
	Addr    string       // as configured; ":0" picks a free port
	TLS     *tls.Config  // nil for plain HTTP
	Handler http.Handler // may be set after Listen, before Serve
	Caps    Caps         // bounds on open connections

	srv *http.Server
	ln  net.Listener
}

// Listen binds the address. Binding before serving lets start-up fail early
// and lets tests learn the port picked for ":0".
func (l *Listener) Listen(t Timeouts, log *slog.Logger) error {
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return fmt.Errorf("server: %s listener: %w", l.Name, err)
	}
	l.ln = newCapListener(ln, l.Name, l.Caps, log)
	l.srv = &http.Server{
		Handler:           l.Handler,
		TLSConfig:         l.TLS,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(newErrorLog(l.Name, log), "", 0),
	}
	return nil
}

// BoundAddr returns the address actually bound.
func (l *Listener) BoundAddr() string { return l.ln.Addr().String() }

// Serve serves until Shutdown; it returns nil after a clean shutdown.
func (l *Listener) Serve() error {
	l.srv.Handler = l.Handler
	var err error
	if l.TLS != nil {
		err = l.srv.ServeTLS(l.ln, "", "")
	} else {
		err = l.srv.Serve(l.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends.
func (l *Listener) Shutdown(ctx context.Context) error {
	if l.srv == nil {
		return nil
	}
	err := l.srv.Shutdown(ctx)
	// A listener that never served (start-up failed after binding) is not
	// the server's to close; after serving, this second close is a no-op.
	_ = l.ln.Close()
	return err
}
