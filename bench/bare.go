package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

// bareFlag is the hidden flag that makes the harness binary (or its test
// binary) the bare server: `-bare-server DATA`.
const bareFlag = "-bare-server"

// bareServerArg reports whether args ask for the bare server, and its data
// directory (where the development certificates are).
func bareServerArg(args []string) (string, bool) {
	if len(args) == 2 && (args[0] == bareFlag || args[0] == "-"+bareFlag) {
		return args[1], true
	}
	return "", false
}

// burnFlag is the hidden flag that makes the harness binary a process that
// keeps one CPU busy until it is killed: `-burn-cpu`. The flood's GET
// stream runs beside it once, to measure what a busy CPU alone does to its
// latency on this machine (no hashing, no Usher code).
const burnFlag = "-burn-cpu"

// burnArg reports whether args ask for the CPU burner.
func burnArg(args []string) bool {
	return len(args) == 1 && (args[0] == burnFlag || args[0] == "-"+burnFlag)
}

// runHiddenRole runs the role a hidden flag asks for (the bare server, the
// CPU burner, the argon2id yardstick or the login floor), and never
// returns then; it returns at once when args ask for none. The harness's
// main and its test binary's TestMain both call it, since the harness
// re-executes whichever binary it is.
func runHiddenRole(args []string) {
	if data, ok := bareServerArg(args); ok {
		os.Exit(runBareServer(data))
	}
	if burnArg(args) {
		runBurn() // never returns; the harness kills it
	}
	if d, ok := hashRateArg(args); ok {
		os.Exit(runHashRate(d))
	}
	if dir, mode, users, ok := floorArg(args); ok {
		os.Exit(runLoginFloor(dir, mode, users))
	}
}

// runBurn spins one goroutine on one CPU until the process is killed.
func runBurn() {
	runtime.GOMAXPROCS(1)
	for x := uint64(1); ; x = x*6364136223846793005 + 1 {
	}
}

// bareBody is what the bare handler answers: a user of the shape and size
// GET /users/{id} returns.
var bareBody = []byte(`{"id":"019a4f0e-7c41-7b8e-9a53-0e4f5d6c7b8a","email":"seed-1@bench.example.com","confirmed":false,` +
	`"enabled":true,"data":{"plan":"pro"},"created_at":"2026-11-22T10:00:00.000Z","updated_at":"2026-11-22T10:00:00.000Z"}` + "\n")

func bareHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(bareBody)
}

// runBareServer is the yardstick server: a bare net/http handler on a plain
// listener and on a mutual-TLS listener configured as Usher's backend is
// (its development server certificate, client certificates required and
// verified against its CA, TLS 1.2 minimum, the same http.Server timeouts).
// It logs the same JSON "listening" and "ready" lines as Usher and serves
// until SIGTERM.
func runBareServer(data string) int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	fail := func(err error) int {
		log.Error("bare server failed", "event", "startup_failed", "error", err.Error())
		return 1
	}
	f := devTLS(data)
	cert, err := tls.LoadX509KeyPair(f.serverCert, f.serverKey)
	if err != nil {
		return fail(err)
	}
	caPEM, err := os.ReadFile(f.ca)
	if err != nil {
		return fail(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fail(errors.New("no CA certificate in " + f.ca))
	}
	tlsConfig := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	plainLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	h := http.HandlerFunc(bareHandler)
	plain, secure := yardServer(h, nil), yardServer(h, tlsConfig)
	errc := make(chan error, 2)
	go func() { errc <- plain.Serve(plainLn) }()
	go func() { errc <- secure.ServeTLS(tlsLn, "", "") }()
	log.Info("listening", "event", "listening", "listener", "plain", "addr", plainLn.Addr().String())
	log.Info("listening", "event", "listening", "listener", "mtls", "addr", tlsLn.Addr().String())
	return serveUntilStopped(log, errc, plain, secure)
}

// yardServer is an http.Server with Usher's server timeouts, for the
// harness's own servers (the bare server, the login floor).
func yardServer(h http.Handler, tc *tls.Config) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tc,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// serveUntilStopped logs "ready" for servers already serving (their
// errors on errc), then waits for SIGINT or SIGTERM and shuts them down:
// 0, or 1 when a server failed first.
func serveUntilStopped(log *slog.Logger, errc <-chan error, servers ...*http.Server) int {
	log.Info("ready", "event", "ready")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-errc:
		log.Error("server failed", "event", "serve_failed", "error", err.Error())
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(sctx)
	}
	return 0
}
