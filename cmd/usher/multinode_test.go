package main

// Several nodes on one PostgreSQL database, as child `usher serve`
// processes: all shared state lives in the database, so any node answers
// any request, and nodes that start together migrate the schema once.

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3/lock"

	"github.com/usherhq/usher/internal/store/postgres/pgtest"
	"github.com/usherhq/usher/internal/usher"
)

// mnPublicURL is the one address every node is reached by, as behind a load
// balancer. Tokens carry it as their issuer, so nodes must share it for one
// node's token to be accepted by another.
const mnPublicURL = "https://login.example.test"

// mnArgs are the serve flags every node of one database shares.
func mnArgs(dsn, secretKey string, extra ...string) []string {
	return append([]string{
		"--db", dsn,
		"--secret-key", secretKey,
		"--public-url", mnPublicURL,
		// Concurrent creates each cost a production hash, and the two nodes
		// share this machine's CPUs: the hashing queue must not be what
		// answers (with 503); these tests are about the database.
		"--hash-max-wait", "60s", "--hash-queue", "256",
	}, extra...)
}

// mnSecretKey returns a fresh data key, shared by the nodes of one test.
func mnSecretKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// mnTLSArgs make a node serve the backend with another node's development
// certificates, so one client certificate works for both.
func mnTLSArgs(dataDir string) []string {
	dir := filepath.Join(dataDir, "tls")
	return []string{
		"--tls-cert", filepath.Join(dir, "server.pem"),
		"--tls-key", filepath.Join(dir, "server-key.pem"),
		"--client-ca", filepath.Join(dir, "ca.pem"),
	}
}

// mnPublicKey returns the tenant public key a node printed when ready.
func mnPublicKey(t testing.TB, p *procServer) string {
	t.Helper()
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	for _, ev := range p.log.events {
		if ev["event"] == "ready" {
			if k, _ := ev["public_key"].(string); k != "" {
				return k
			}
		}
	}
	t.Fatalf("no public_key in the ready event; stderr:\n%s", strings.Join(p.log.lines, "\n"))
	return ""
}

// mnUser is a user as the backend returns it.
type mnUser struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Confirmed bool   `json:"confirmed"`
	Enabled   bool   `json:"enabled"`
	Data      any    `json:"data"`
	CreatedAt any    `json:"created_at"`
	UpdatedAt any    `json:"updated_at"`
}

// mnDo sends a backend request and fails the test unless it gets want.
func mnDo(ctx context.Context, t *testing.T, c *http.Client, method, url string, body any, want int) []byte {
	t.Helper()
	status, b, err := procDo(ctx, c, method, url, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if status != want {
		t.Fatalf("%s %s: status %d, body %s; want %d", method, url, status, b, want)
	}
	return b
}

// mnGetUser reads a user through a node.
func mnGetUser(ctx context.Context, t *testing.T, c *http.Client, node, id string) mnUser {
	t.Helper()
	var u mnUser
	if err := json.Unmarshal(mnDo(ctx, t, c, http.MethodGet, node+"/users/"+id, nil, http.StatusOK), &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// mnCheckPassword asks a node whether password logs the user in.
func mnCheckPassword(ctx context.Context, t *testing.T, c *http.Client, node, id, password string) bool {
	t.Helper()
	var r struct{ Result bool }
	b := mnDo(ctx, t, c, http.MethodPost, node+"/users/"+id+"/checkpw", map[string]string{"password": password}, http.StatusOK)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.Result
}

// mnPublic sends a request to a public surface with the tenant key and,
// when bearer is set, the token; it returns the status and body.
func mnPublic(ctx context.Context, t *testing.T, method, url, publicKey, bearer string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("SB-PUBLIC-KEY", publicKey)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return res.StatusCode, b
}

// mnToken signs up or logs in on a node's public surface and returns the
// token.
func mnToken(ctx context.Context, t *testing.T, node, publicKey, path, email, password string) string {
	t.Helper()
	status, b := mnPublic(ctx, t, http.MethodPost, node+path, publicKey, "", map[string]string{"email": email, "password": password})
	var tok string
	if status != http.StatusOK || json.Unmarshal(b, &tok) != nil || tok == "" {
		t.Fatalf("POST %s%s: status %d, body %s; want 200 with a token", node, path, status, b)
	}
	return tok
}

// mnMe returns the status of GET /me on a node, and the user it names.
func mnMe(ctx context.Context, t *testing.T, node, publicKey, tok string) (int, string) {
	t.Helper()
	status, b := mnPublic(ctx, t, http.MethodGet, node+"/me", publicKey, tok, nil)
	var me struct{ Email string }
	_ = json.Unmarshal(b, &me)
	return status, me.Email
}

func TestMultiNode(t *testing.T) {
	dsn := pgtest.DSN(t) // skips (or fails in CI) without PostgreSQL
	key := mnSecretKey()
	// Small per-account limits, so that counting them across nodes is cheap.
	const lockoutMax, resetPerHour = 4, 3
	limits := []string{"--lockout-max", strconv.Itoa(lockoutMax), "--reset-per-hour", strconv.Itoa(resetPerHour)}
	a := procStart(t, procOpts{Args: mnArgs(dsn, key, limits...)})
	b := procStart(t, procOpts{Args: mnArgs(dsn, key, append(limits, mnTLSArgs(a.Data)...)...)})
	c := procClient(t, a.Data, false) // A's client certificate, for both nodes
	publicKey := mnPublicKey(t, a)
	if got := mnPublicKey(t, b); got != publicKey {
		t.Fatalf("node B's tenant public key %q, node A's %q; want one tenant", got, publicKey)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("user created on A is managed through B", func(t *testing.T) {
		const pw1, pw2 = "first correct horse", "second correct horse"
		free := map[string]any{"plan": "free"}
		var created mnUser
		body := mnDo(ctx, t, c, http.MethodPost, a.Backend+"/users",
			map[string]any{"email": "life@example.com", "password": pw1, "data": free}, http.StatusCreated)
		if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
			t.Fatalf("create on A: body %s: no user", body)
		}
		id := created.ID
		if diff := cmp.Diff(created, mnGetUser(ctx, t, c, b.Backend, id)); diff != "" {
			t.Fatalf("the user read on B differs from the one created on A (-A +B):\n%s", diff)
		}

		// Each step writes through B; A must see the new state at once.
		type state struct {
			Email    string
			Enabled  bool
			Data     any
			Password string // the password that checks; the other one must not
		}
		pro := map[string]any{"plan": "pro", "seats": 3.0, "tags": []any{"a", "b"}}
		steps := []struct {
			name   string
			method string
			path   string // after /users/{id}
			body   any
			want   state
		}{
			{name: "email", method: http.MethodPut, path: "/email", body: map[string]string{"email": "life.new@example.com"},
				want: state{Email: "life.new@example.com", Enabled: true, Data: free, Password: pw1}},
			{name: "data", method: http.MethodPut, path: "/data", body: pro,
				want: state{Email: "life.new@example.com", Enabled: true, Data: pro, Password: pw1}},
			{name: "password", method: http.MethodPut, path: "/password", body: map[string]string{"password": pw2},
				want: state{Email: "life.new@example.com", Enabled: true, Data: pro, Password: pw2}},
			{name: "disable", method: http.MethodPut, path: "/disable",
				want: state{Email: "life.new@example.com", Enabled: false, Data: pro, Password: pw2}},
			{name: "enable", method: http.MethodPut, path: "/enable",
				want: state{Email: "life.new@example.com", Enabled: true, Data: pro, Password: pw2}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				mnDo(ctx, t, c, st.method, b.Backend+"/users/"+id+st.path, st.body, http.StatusNoContent)
				u := mnGetUser(ctx, t, c, a.Backend, id)
				var data any
				if err := json.Unmarshal(mnDo(ctx, t, c, http.MethodGet, a.Backend+"/users/"+id+"/data", nil, http.StatusOK), &data); err != nil {
					t.Fatal(err)
				}
				got := state{Email: u.Email, Enabled: u.Enabled, Data: data}
				for _, pw := range []string{pw1, pw2} {
					if mnCheckPassword(ctx, t, c, a.Backend, id, pw) {
						got.Password = pw
					}
				}
				want := st.want
				if !want.Enabled {
					want.Password = "" // a disabled user's password checks false
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("state on A after %s on B (-want +got):\n%s", st.name, diff)
				}
				if diff := cmp.Diff(want.Data, u.Data); diff != "" {
					t.Errorf("data in GET /users/{id} on A (-want +got):\n%s", diff)
				}
			})
		}

		mnDo(ctx, t, c, http.MethodDelete, b.Backend+"/users/"+id, nil, http.StatusNoContent)
		for name, node := range map[string]string{"A": a.Backend, "B": b.Backend} {
			status, body, err := procDo(ctx, c, http.MethodGet, node+"/users/"+id, nil)
			if err != nil || status != http.StatusNotFound || procErrorCode(body) != usher.NotFound {
				t.Errorf("GET on %s after DELETE on B: status %d, error %v, body %s; want 404 %s", name, status, err, body, usher.NotFound)
			}
		}
	})

	t.Run("token works on the other node and logout ends it everywhere", func(t *testing.T) {
		const email, pw = "token@example.com", "token correct horse"
		tests := []struct {
			name          string
			issuer, other string
			path          string // how the issuer hands out the token
		}{
			{name: "registered on A, logged out on B", issuer: a.Public, other: b.Public, path: "/register"},
			{name: "logged in on B, logged out on A", issuer: b.Public, other: a.Public, path: "/login"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tok := mnToken(ctx, t, tt.issuer, publicKey, tt.path, email, pw)
				for _, node := range []string{tt.other, tt.issuer} { // the issuer caches it now
					if status, got := mnMe(ctx, t, node, publicKey, tok); status != http.StatusOK || got != email {
						t.Fatalf("GET %s/me: status %d, email %q; want 200 %q", node, status, got, email)
					}
				}
				status, body := mnPublic(ctx, t, http.MethodPost, tt.other+"/logout", publicKey, tok, nil)
				if status != http.StatusNoContent {
					t.Fatalf("POST %s/logout: status %d, body %s; want 204", tt.other, status, body)
				}
				for _, node := range []string{tt.issuer, tt.other} {
					if status, _ := mnMe(ctx, t, node, publicKey, tok); status != http.StatusUnauthorized {
						t.Errorf("GET %s/me right after logout on the other node: status %d, want 401", node, status)
					}
				}
			})
		}
	})

	// Per-account limits live in the database, so failures and requests
	// counted on one node count on every node.
	t.Run("lockout counts failed checks on both nodes", func(t *testing.T) {
		const pw = "lockout correct horse"
		var u mnUser
		body := mnDo(ctx, t, c, http.MethodPost, a.Backend+"/users", map[string]any{"email": "lock@example.com", "password": pw}, http.StatusCreated)
		if err := json.Unmarshal(body, &u); err != nil {
			t.Fatal(err)
		}
		if !mnCheckPassword(ctx, t, c, b.Backend, u.ID, pw) {
			t.Fatalf("the right password before any failure: result false, want true")
		}
		nodes := []string{a.Backend, b.Backend}
		for i := range lockoutMax {
			if mnCheckPassword(ctx, t, c, nodes[i%2], u.ID, "wrong horse battery") {
				t.Fatalf("wrong password %d: result true", i+1)
			}
		}
		// Each node saw only half of the failures; together they reach the limit.
		for _, node := range nodes {
			if mnCheckPassword(ctx, t, c, node, u.ID, pw) {
				t.Errorf("the right password on %s after %d failures split across nodes: result true, want false (locked)", node, lockoutMax)
			}
		}
	})

	t.Run("reset email limit counts requests on both nodes", func(t *testing.T) {
		const email = "reset-limit@example.com"
		mnDo(ctx, t, c, http.MethodPost, a.Backend+"/users", map[string]any{"email": email, "password": "reset correct horse"}, http.StatusCreated)
		nodes := []string{a.Public, b.Public}
		for i := range resetPerHour + 1 {
			node := nodes[i%2]
			status, body := mnPublic(ctx, t, http.MethodPost, node+"/password/send", publicKey, "", map[string]string{"email": email})
			want := http.StatusOK
			if i == resetPerHour {
				want = http.StatusTooManyRequests
			}
			if status != want {
				t.Errorf("reset request %d of %d (limit %d per hour) on %s: status %d, body %s; want %d", i+1, resetPerHour+1, resetPerHour, node, status, body, want)
			}
		}
	})

	t.Run("concurrent creates of one email across nodes", func(t *testing.T) {
		const n = 50
		// Case variants of one address: one account by the email rules.
		variants := []string{"race@example.com", "Race@Example.com", "RACE@EXAMPLE.COM", "race@Example.COM"}
		type result struct {
			node   string
			status int
			body   []byte
			err    error
		}
		results := make([]result, n)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			node := a.Backend
			if i%2 == 1 {
				node = b.Backend
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				status, body, err := procDo(ctx, c, http.MethodPost, node+"/users",
					map[string]any{"email": variants[i%len(variants)], "password": "race correct horse"})
				results[i] = result{node, status, body, err}
			}()
		}
		close(gate)
		wg.Wait()

		var winners []mnUser
		counts := map[int]int{}
		for i, r := range results {
			counts[r.status]++
			switch {
			case r.err != nil:
				t.Errorf("create %d on %s: %v", i, r.node, r.err)
			case r.status == http.StatusCreated:
				var u mnUser
				if err := json.Unmarshal(r.body, &u); err != nil || u.ID == "" {
					t.Errorf("create %d on %s: 201 with body %s: no user", i, r.node, r.body)
				}
				winners = append(winners, u)
			case r.status == http.StatusConflict:
				if code := procErrorCode(r.body); code != usher.EmailTaken {
					t.Errorf("create %d on %s: 409 with code %q, want %q", i, r.node, code, usher.EmailTaken)
				}
			default:
				t.Errorf("create %d on %s: status %d, body %s; want 201 or 409", i, r.node, r.status, r.body)
			}
		}
		if diff := cmp.Diff(map[int]int{http.StatusCreated: 1, http.StatusConflict: n - 1}, counts); diff != "" {
			t.Fatalf("statuses of %d concurrent creates of one email (-want +got):\n%s", n, diff)
		}
		for _, node := range []string{a.Backend, b.Backend} {
			if got := mnGetUser(ctx, t, c, node, winners[0].ID); !strings.EqualFold(got.Email, "race@example.com") {
				t.Errorf("GET on %s: email %q, want a variant of race@example.com", node, got.Email)
			}
		}
		db := mnOpen(t, dsn)
		var rows int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE email_key = 'race@example.com'`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 1 {
			t.Errorf("users rows for race@example.com: %d, want 1", rows)
		}
	})
}

// mnOpen opens the test's PostgreSQL schema directly.
func mnOpen(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mnTB lets a helper that may fail fatally (procStart) run on a goroutine
// other than the test's: a fatal failure marks the test failed and ends
// that goroutine only, as FailNow must not be called off the test goroutine.
type mnTB struct{ testing.TB }

func (m mnTB) Fatal(args ...any) { m.Helper(); m.Error(args...); runtime.Goexit() }

func (m mnTB) Fatalf(format string, args ...any) {
	m.Helper()
	m.Errorf(format, args...)
	runtime.Goexit()
}

func (m mnTB) FailNow() { m.Fail(); runtime.Goexit() }

// mnWithParam returns dsn with one more query parameter.
func mnWithParam(t *testing.T, dsn, name, value string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// mnWaitLockTried polls PostgreSQL until a connection of every application
// name has tried to take goose's migration lock (pg_stat_activity keeps a
// connection's last query), and reports whether they all did before the
// nodes' start-up ended (started closed) or the deadline passed.
func mnWaitLockTried(ctx context.Context, t *testing.T, conn *sql.Conn, names []string, started <-chan struct{}) bool {
	t.Helper()
	deadline := time.NewTimer(procReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var n int
		err := conn.QueryRowContext(ctx, `SELECT count(DISTINCT application_name) FROM pg_stat_activity
			WHERE application_name = ANY($1) AND query LIKE '%pg_try_advisory_lock%'`, names).Scan(&n)
		if err != nil {
			t.Errorf("pg_stat_activity: %v", err)
			return false
		}
		if n == len(names) {
			return true
		}
		select {
		case <-started:
			return false
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
}

// mnMigrationVersions returns the versions of the PostgreSQL migration
// files, read from the source tree.
func mnMigrationVersions(t *testing.T) []int64 {
	t.Helper()
	dir := filepath.Join("..", "..", "internal", "store", "postgres", "migrations")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			t.Fatalf("migration file %s: no version number", e.Name())
		}
		versions = append(versions, v)
	}
	if len(versions) == 0 {
		t.Fatalf("no migration in %s", dir)
	}
	return versions
}

func TestMultiNodeSimultaneousStart(t *testing.T) {
	dsn := pgtest.DSN(t) // a fresh, empty schema
	key := mnSecretKey()
	procBinary(t) // built first, so both nodes start at once

	// Two processes started together may still not meet: the migrations
	// take milliseconds. So the test holds goose's migration lock until both
	// nodes have tried to take it; then they contend for it. (goose tries
	// again every 5 seconds, so this start takes 5 to 10 seconds.)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lockConn, err := mnOpen(t, dsn).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lockConn.Close()
	if _, err := lockConn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lock.DefaultLockID); err != nil {
		t.Fatal(err)
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			if _, err := lockConn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, lock.DefaultLockID); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer unlock()

	nodes := make([]*procServer, 2)
	names := make([]string, len(nodes)) // application_name of each node's connections
	var wg sync.WaitGroup
	for i := range nodes {
		names[i] = fmt.Sprintf("usher-mn-%s-%d", strings.ToLower(rand.Text()[:8]), i)
		nodeDSN := mnWithParam(t, dsn, "application_name", names[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i] = procStart(mnTB{t}, procOpts{Args: mnArgs(nodeDSN, key)})
		}()
	}
	started := make(chan struct{})
	go func() { wg.Wait(); close(started) }()

	waiting := mnWaitLockTried(ctx, t, lockConn, names, started)
	unlock()
	<-started
	if t.Failed() {
		t.FailNow()
	}
	if !waiting {
		t.Fatalf("the nodes did not both try to take the migration lock while the test held it")
	}

	t.Run("migrations ran once", func(t *testing.T) {
		db := mnOpen(t, dsn)
		rows, err := db.QueryContext(ctx, `SELECT version_id, count(*) FROM goose_db_version GROUP BY version_id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[int64]int{}
		for rows.Next() {
			var v int64
			var n int
			if err := rows.Scan(&v, &n); err != nil {
				t.Fatal(err)
			}
			got[v] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := map[int64]int{0: 1} // goose's own first row
		for _, v := range mnMigrationVersions(t) {
			want[v] = 1
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("rows per version in goose_db_version (-want +got):\n%s", diff)
		}
	})

	t.Run("one tenant", func(t *testing.T) {
		if k0, k1 := mnPublicKey(t, nodes[0]), mnPublicKey(t, nodes[1]); k0 != k1 {
			t.Errorf("tenant public keys %q and %q; want one tenant", k0, k1)
		}
	})

	// Right after a joint start each node may have made its own first
	// signing key; each must still accept the other's tokens at once.
	t.Run("each node serves the other's users and tokens", func(t *testing.T) {
		publicKey := mnPublicKey(t, nodes[0])
		for i, from := range nodes {
			to := nodes[1-i]
			email := fmt.Sprintf("joint%d@example.com", i)
			tok := mnToken(ctx, t, from.Public, publicKey, "/register", email, "joint correct horse")
			if status, got := mnMe(ctx, t, to.Public, publicKey, tok); status != http.StatusOK || got != email {
				t.Errorf("token from node %d, GET /me on node %d: status %d, email %q; want 200 %q", i, 1-i, status, got, email)
			}
			fromClient, toClient := procClient(t, from.Data, true), procClient(t, to.Data, true)
			var u mnUser
			body := mnDo(ctx, t, fromClient, http.MethodPost, from.Backend+"/users",
				map[string]any{"email": fmt.Sprintf("jointbackend%d@example.com", i), "password": "joint correct horse"}, http.StatusCreated)
			if err := json.Unmarshal(body, &u); err != nil {
				t.Fatal(err)
			}
			if got := mnGetUser(ctx, t, toClient, to.Backend, u.ID); got.Email != u.Email {
				t.Errorf("user created on node %d, read on node %d: email %q, want %q", i, 1-i, got.Email, u.Email)
			}
		}
	})
}
