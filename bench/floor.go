package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/crypto/argon2"
	_ "modernc.org/sqlite"
)

// The login floor: the least a login can do and still be one, in a
// process of its own, so that its rate beside the argon2id yardstick shows
// how close to that yardstick any login can come on this machine. It is
// not a yardstick Usher is held to (Usher does more: lockout, second
// factor, request log, a hashing process of lower priority); it bounds
// what the hash-bound target can ask.
//
// A floor login is what every login of a service that keeps its sessions
// must do: read the JSON body, read the user by email from SQLite, verify
// the password with argon2id at Usher's parameters (in process, on at most
// one goroutine per CPU, as the yardstick hashes), then — unless the mode
// is "none" — record the session and an audit entry in one SQLite write
// transaction (WAL, the mode's synchronous setting), sign an EdDSA token,
// and answer it as a JSON string. Modes: "full" (Usher's shipped
// durability), "normal" (WAL commits without fsync), "none" (no write).
const floorFlag = "-login-floor"

// floorModes are the floor's write modes, each a scenario of its own.
var floorModes = []string{"full", "normal", "none"}

// floorArg reports whether args ask for the login floor: `-login-floor
// DIR MODE USERS`.
func floorArg(args []string) (dir, mode string, users int, ok bool) {
	if len(args) != 4 || (args[0] != floorFlag && args[0] != "-"+floorFlag) {
		return "", "", 0, false
	}
	n, err := strconv.Atoi(args[3])
	if err != nil || n <= 0 {
		return "", "", 0, false
	}
	for _, m := range floorModes {
		if args[2] == m {
			return args[1], m, n, true
		}
	}
	return "", "", 0, false
}

type floorServer struct {
	mode       string
	read       *sql.DB // a pool of readers
	write      *sql.DB // one writer, as SQLite has
	byEmail    *sql.Stmt
	addSession *sql.Stmt
	addAudit   *sql.Stmt
	key        ed25519.PrivateKey
	hashes     chan struct{} // one slot per CPU
}

// runLoginFloor serves POST /login on a plain listener until SIGTERM.
func runLoginFloor(dir, mode string, users int) int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	fail := func(err error) int {
		log.Error("login floor failed", "event", "startup_failed", "error", err.Error())
		return 1
	}
	s, err := openFloor(filepath.Join(dir, "floor-"+mode+".db"), mode, users)
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", s.login)
	srv := yardServer(mux, nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "event", "listening", "listener", "plain", "addr", ln.Addr().String())
	return serveUntilStopped(log, errc, srv)
}

// openFloor creates the floor's database afresh with users seedEmail(0..n-1),
// all of them with benchPassword (one hash computed, stored n times: what a
// login costs does not depend on whose hash it checks).
func openFloor(path, mode string, n int) (*floorServer, error) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	sync := "FULL"
	if mode == "normal" {
		sync = "NORMAL"
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")"
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	schema := []string{
		`CREATE TABLE users (email TEXT PRIMARY KEY, id TEXT NOT NULL, salt BLOB NOT NULL, key BLOB NOT NULL) WITHOUT ROWID`,
		`CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`,
		`CREATE TABLE audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, user_id TEXT NOT NULL, detail TEXT NOT NULL)`,
	}
	for _, q := range schema {
		if _, err := write.Exec(q); err != nil {
			return nil, err
		}
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(benchPassword), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	tx, err := write.Begin()
	if err != nil {
		return nil, err
	}
	for i := range n {
		if _, err := tx.Exec(`INSERT INTO users VALUES (?, ?, ?, ?)`, seedEmail(i), fmt.Sprintf("user-%08d", i), salt, key); err != nil {
			_ = tx.Rollback()
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	read, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	s := &floorServer{mode: mode, read: read, write: write, hashes: make(chan struct{}, runtime.NumCPU())}
	if s.byEmail, err = read.Prepare(`SELECT id, salt, key FROM users WHERE email = ?`); err != nil {
		return nil, err
	}
	if s.addSession, err = write.Prepare(`INSERT INTO sessions VALUES (?, ?, ?, ?)`); err != nil {
		return nil, err
	}
	if s.addAudit, err = write.Prepare(`INSERT INTO audit (at, kind, user_id, detail) VALUES (?, 'session_started', ?, ?)`); err != nil {
		return nil, err
	}
	_, s.key, err = ed25519.GenerateKey(rand.Reader)
	return s, err
}

var floorHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"JWT"}`))

func (s *floorServer) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ Email, Password string }
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil || json.Unmarshal(body, &in) != nil {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	var id string
	var salt, want []byte
	if err := s.byEmail.QueryRowContext(r.Context(), in.Email).Scan(&id, &salt, &want); err != nil {
		http.Error(w, `{"error":"invalid credentials"}`, http.StatusUnauthorized)
		return
	}
	s.hashes <- struct{}{}
	got := argon2.IDKey([]byte(in.Password), salt, argonTime, argonMemory, argonThreads, uint32(len(want)))
	<-s.hashes
	if subtle.ConstantTimeCompare(got, want) != 1 {
		http.Error(w, `{"error":"invalid credentials"}`, http.StatusUnauthorized)
		return
	}
	var raw [16]byte
	rand.Read(raw[:])
	sid := hex.EncodeToString(raw[:])
	now := time.Now().Unix()
	exp := now + 12*3600
	if s.mode != "none" {
		if err := s.record(r.Context(), sid, id, now, exp); err != nil {
			http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
			return
		}
	}
	claims := fmt.Appendf(nil, `{"iss":"http://floor.test","sub":%q,"sid":%q,"iat":%d,"exp":%d}`, id, sid, now, exp)
	msg := floorHeader + "." + base64.RawURLEncoding.EncodeToString(claims)
	tok := msg + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(s.key, []byte(msg)))
	out, _ := json.Marshal(tok)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(out, '\n'))
}

// record writes the session and its audit entry in one transaction.
func (s *floorServer) record(ctx context.Context, sid, uid string, now, exp int64) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.StmtContext(ctx, s.addSession).ExecContext(ctx, sid, uid, now, exp); err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, s.addAudit).ExecContext(ctx, now, uid, `{"session_id":"`+sid+`","surface":"public"}`); err != nil {
		return err
	}
	return tx.Commit()
}
