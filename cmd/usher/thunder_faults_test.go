package main

// The Thunder surface with its database cut off.

import (
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestThunderDatabaseUnavailable cuts the database off under a running
// Usher and checks every Thunder call answers Thunder's 503, never 500.
//
// How the database is cut off depends on the engine:
//   - PostgreSQL: Usher reaches it through a TCP proxy inside the test;
//     cutting every connection through it and resetting new ones is a dead
//     server.
//   - SQLite: another connection holds the database's write lock, as a
//     stuck process would. Usher's writes then wait past db-timeout. Closing
//     the store underneath (s.Store.DB().Close()) is not used: it closes
//     only the writer pool (reads go through a separate reader pool), and a
//     closed *sql.DB is a programming state, not a database that cannot be
//     reached. Reads keep working while another process holds the write
//     lock (WAL), so each call below writes: the password-header check
//     records its outcome, create and the verification calls write.
//
// Each 503 must come within db-timeout (plus slack), as its setting
// promises.
func TestThunderDatabaseUnavailable(t *testing.T) {
	var cut func(t *testing.T, s *testServer) (restore func())
	const dbTimeout = 500 * time.Millisecond
	sent := &eventWatch{event: "email_sent", ch: make(chan struct{}, 16)}
	edits := []func(*Main){func(m *Main) {
		m.Config.DBTimeout = dbTimeout
		// The relay must be idle when the database goes away, or it would
		// hold the (single SQLite) writer connection itself; the requests
		// are what this test times. It sleeps between polls, and the one
		// email below is awaited through its log line, written once the
		// relay has recorded the message as sent.
		m.Config.MailPoll = time.Hour
		m.Log = slog.New(sent)
	}}
	if os.Getenv("USHER_TEST_ENGINE") == "postgres" {
		var proxy *dbProxy
		edits = append(edits, func(m *Main) { proxy = proxyDB(t, m) })
		cut = func(*testing.T, *testServer) func() {
			proxy.Cut()
			return proxy.Heal
		}
	} else {
		cut = func(t *testing.T, s *testServer) func() { return s.lockSQLite(t) }
	}
	s := startServer(t, append([]func(*Main){withThunder}, edits...)...)
	th := s.ThunderAPI
	th.create(t, "down@example.com", userPassword, nil)
	tok := th.sendVerification(t, "down@example.com", userPassword).token()
	select {
	case <-sent.ch:
	case <-time.After(mailWait):
		t.Fatal("the verification email was not sent")
	}

	restore := cut(t, s)
	tests := []struct {
		name, method, path, body string
		opts                     []reqOpt
		wantUser                 string
	}{
		{"create", "POST", "/users", thunderBody(t, "new-down@example.com", userPassword, nil), nil, "new-down@example.com"},
		{"get", "GET", "/users" + emailQuery("down@example.com"), "", []reqOpt{withPassword(userPassword)}, "down@example.com"},
		{"update", "PUT", "/users", thunderBody(t, "down@example.com", "", map[string]any{"x": 1}), []reqOpt{withPassword(userPassword)}, "down@example.com"},
		{"delete", "DELETE", "/users" + emailQuery("down@example.com"), "", []reqOpt{withPassword(userPassword)}, "down@example.com"},
		{"send verification", "POST", "/verify" + emailQuery("down@example.com"), "", []reqOpt{withPassword(userPassword)}, "down@example.com"},
		{"reset verification", "POST", "/verify/reset" + emailQuery("down@example.com"), "", []reqOpt{withPassword(userPassword)}, "down@example.com"},
		{"verification link", "GET", "/verify" + emailQuery("down@example.com", "token", tok, "response_type", "json"), "", []reqOpt{noBasicAuth}, "down@example.com"},
	}
	// In parallel, so that on SQLite one call waits on the lock while the
	// others wait for the writer connection: each must answer within
	// db-timeout ("longest a single database operation may take ...
	// before the request gets 503"), with some slack for the rest of the
	// request.
	limit := dbTimeout + 2*time.Second
	t.Run("down", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				res := th.do(t, tt.method, tt.path, tt.body, tt.opts...)
				elapsed := time.Since(start)
				res.wantThunderError(t, tt.method+" "+tt.path, http.StatusServiceUnavailable, msgUnavailable, tt.wantUser)
				if res.Header.Get("Retry-After") == "" {
					t.Errorf("no Retry-After on 503")
				}
				// A single operation waiting longer than db-timeout breaks
				// the setting's promise, whichever layer waits.
				if elapsed > limit {
					t.Errorf("answered after %v, want within db-timeout %v (+2s)", elapsed.Round(time.Millisecond), dbTimeout)
				}
			})
		}
	})
	restore()
	t.Run("back once the database is", func(t *testing.T) {
		u := th.get(t, "down@example.com", userPassword)
		if u.Verified || len(u.Props) != 0 || u.token() != tok {
			t.Errorf("calls answered 503 changed the user: %+v", u)
		}
		res := th.do(t, "GET", "/users"+emailQuery("new-down@example.com"), "", withPassword(userPassword))
		res.wantThunderError(t, "the user a 503 POST would have made", 404, msgNotFound, "new-down@example.com")
	})
}
