package main

// Several nodes on one PostgreSQL database, as child `usher serve`
// processes: all shared state lives in the database, so any node answers
// any request, and nodes that start together migrate the schema once.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
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

	"github.com/usherhq/usher/internal/store/postgres"
	"github.com/usherhq/usher/internal/store/postgres/pgtest"
	"github.com/usherhq/usher/internal/usher"
)

// nodePublicURL is the one address every node is reached by, as behind a load
// balancer. Tokens carry it as their issuer, so nodes must share it for one
// node's token to be accepted by another.
const nodePublicURL = "https://login.example.test"

// nodeArgs are the serve flags every node of one database shares.
func nodeArgs(dsn, secretKey string, extra ...string) []string {
	return append([]string{
		"--db", dsn,
		"--secret-key", secretKey,
		"--public-url", nodePublicURL,
		// Concurrent creates each cost a production hash, and the two nodes
		// share this machine's CPUs: the hashing queue must not be what
		// answers (with 503); these tests are about the database.
		"--hash-max-wait", "60s", "--hash-queue", "256",
	}, extra...)
}

// newSecretKey returns a fresh data key, shared by the nodes of one test.
func newSecretKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// sharedTLSArgs make a node serve the backend with another node's development
// certificates, so one client certificate works for both.
func sharedTLSArgs(dataDir string) []string {
	dir := filepath.Join(dataDir, "tls")
	return []string{
		"--tls-cert", filepath.Join(dir, "server.pem"),
		"--tls-key", filepath.Join(dir, "server-key.pem"),
		"--client-ca", filepath.Join(dir, "ca.pem"),
	}
}

// publicKey returns the tenant public key a node printed when ready.
func (p *childServer) publicKey(t testing.TB) string {
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

// meEmail returns the status of GET /me on a node, and the email of the
// user it names.
func meEmail(t testing.TB, node *publicClient, tok string) (int, string) {
	t.Helper()
	r := node.me(t, tok)
	var me meUser
	_ = json.Unmarshal(r.Body, &me)
	return r.Status, me.Email
}

func TestMultiNode(t *testing.T) {
	dsn := pgtest.DSN(t) // skips (or fails in CI) without PostgreSQL
	key := newSecretKey()
	// Small per-account limits, so that counting them across nodes is cheap.
	const lockoutMax, resetPerHour = 4, 3
	limits := []string{"--lockout-max", strconv.Itoa(lockoutMax), "--reset-per-hour", strconv.Itoa(resetPerHour)}
	a := startChild(t, childOpts{Args: nodeArgs(dsn, key, limits...)})
	b := startChild(t, childOpts{Args: nodeArgs(dsn, key, append(limits, sharedTLSArgs(a.Data)...)...)})
	c := childClient(t, a.Data, false) // A's client certificate, for both nodes
	beA, beB := backendAt(a.Backend, c), backendAt(b.Backend, c)
	publicKey := a.publicKey(t)
	if got := b.publicKey(t); got != publicKey {
		t.Fatalf("node B's tenant public key %q, node A's %q; want one tenant", got, publicKey)
	}
	pubA, pubB := a.publicAPI(publicKey), b.publicAPI(publicKey)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("user created on A is managed through B", func(t *testing.T) {
		const pw1, pw2 = "first correct horse", "second correct horse"
		free := map[string]any{"plan": "free"}
		created := beA.doJSON(t, http.MethodPost, "/users",
			map[string]any{"email": "life@example.com", "password": pw1, "data": free}).wantUser(t, "create on A", http.StatusCreated)
		id := created.ID
		if diff := cmp.Diff(created, beB.get(t, id)); diff != "" {
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
				beB.doJSON(t, st.method, "/users/"+id+st.path, st.body).wantStatus(t, st.name+" on B", http.StatusNoContent)
				u := beA.get(t, id)
				var data any
				beA.getData(t, id).wantStatus(t, "GET data on A", http.StatusOK).decode(t, "GET data on A", &data)
				got := state{Email: u.Email, Enabled: u.Enabled, Data: data}
				for _, pw := range []string{pw1, pw2} {
					if beA.checkpw(t, id, pw) {
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
				if diff := cmp.Diff(want.Data, any(u.data(t))); diff != "" {
					t.Errorf("data in GET /users/{id} on A (-want +got):\n%s", diff)
				}
			})
		}

		beB.delete(t, id).wantStatus(t, "DELETE on B", http.StatusNoContent)
		for name, node := range map[string]*backendClient{"A": beA, "B": beB} {
			r := node.do(t, http.MethodGet, "/users/"+id, "")
			if r.Status != http.StatusNotFound || errorCodeOf(r.Body) != usher.NotFound {
				t.Errorf("GET on %s after DELETE on B: got %v; want 404 %s", name, r, usher.NotFound)
			}
		}
	})

	t.Run("token works on the other node and logout ends it everywhere", func(t *testing.T) {
		const email, pw = "token@example.com", "token correct horse"
		tests := []struct {
			name          string
			issuer, other *publicClient
			path          string // how the issuer hands out the token
		}{
			{name: "registered on A, logged out on B", issuer: pubA, other: pubB, path: "/register"},
			{name: "logged in on B, logged out on A", issuer: pubB, other: pubA, path: "/login"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tok := tt.issuer.do(t, http.MethodPost, tt.path, mustJSON(t, map[string]string{"email": email, "password": pw})).
					wantToken(t, "POST "+tt.issuer.base+tt.path)
				for _, node := range []*publicClient{tt.other, tt.issuer} { // the issuer caches it now
					if status, got := meEmail(t, node, tok); status != http.StatusOK || got != email {
						t.Fatalf("GET %s/me: status %d, email %q; want 200 %q", node.base, status, got, email)
					}
				}
				if r := tt.other.logout(t, tok); r.Status != http.StatusNoContent {
					t.Fatalf("POST %s/logout: got %v; want 204", tt.other.base, r)
				}
				for _, node := range []*publicClient{tt.issuer, tt.other} {
					if status, _ := meEmail(t, node, tok); status != http.StatusUnauthorized {
						t.Errorf("GET %s/me right after logout on the other node: status %d, want 401", node.base, status)
					}
				}
			})
		}
	})

	// Per-account limits live in the database, so failures and requests
	// counted on one node count on every node.
	t.Run("lockout counts failed checks on both nodes", func(t *testing.T) {
		const pw = "lockout correct horse"
		id := beA.newUser(t, "lock@example.com", pw)
		if !beB.checkpw(t, id, pw) {
			t.Fatalf("the right password before any failure: result false, want true")
		}
		nodes := []*backendClient{beA, beB}
		for i := range lockoutMax {
			if nodes[i%2].checkpw(t, id, "wrong horse battery") {
				t.Fatalf("wrong password %d: result true", i+1)
			}
		}
		// Each node saw only half of the failures; together they reach the limit.
		for _, node := range nodes {
			if node.checkpw(t, id, pw) {
				t.Errorf("the right password on %s after %d failures split across nodes: result true, want false (locked)", node.base, lockoutMax)
			}
		}
	})

	t.Run("reset email limit counts requests on both nodes", func(t *testing.T) {
		const email = "reset-limit@example.com"
		beA.newUser(t, email, "reset correct horse")
		nodes := []*publicClient{pubA, pubB}
		for i := range resetPerHour + 1 {
			node := nodes[i%2]
			r := node.passwordSend(t, email)
			want := http.StatusOK
			if i == resetPerHour {
				want = http.StatusTooManyRequests
			}
			if r.Status != want {
				t.Errorf("reset request %d of %d (limit %d per hour) on %s: got %v; want %d", i+1, resetPerHour+1, resetPerHour, node.base, r, want)
			}
		}
	})

	t.Run("concurrent creates of one email across nodes", func(t *testing.T) {
		const n = 50
		// Case variants of one address: one account by the email rules.
		variants := []string{"race@example.com", "Race@Example.com", "RACE@EXAMPLE.COM", "race@Example.COM"}
		type result struct {
			node string
			response
			err error
		}
		results := make([]result, n)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			node := beA
			if i%2 == 1 {
				node = beB
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				r, err := node.call(ctx, http.MethodPost, "/users",
					map[string]any{"email": variants[i%len(variants)], "password": "race correct horse"})
				results[i] = result{node.base, r, err}
			}()
		}
		close(gate)
		wg.Wait()

		var winners []nativeUser
		counts := map[int]int{}
		for i, r := range results {
			counts[r.Status]++
			switch {
			case r.err != nil:
				t.Errorf("create %d on %s: %v", i, r.node, r.err)
			case r.Status == http.StatusCreated:
				var u nativeUser
				if err := json.Unmarshal(r.Body, &u); err != nil || u.ID == "" {
					t.Errorf("create %d on %s: 201 with body %s: no user", i, r.node, r.Body)
				}
				winners = append(winners, u)
			case r.Status == http.StatusConflict:
				if code := errorCodeOf(r.Body); code != usher.EmailTaken {
					t.Errorf("create %d on %s: 409 with code %q, want %q", i, r.node, code, usher.EmailTaken)
				}
			default:
				t.Errorf("create %d on %s: status %d, body %s; want 201 or 409", i, r.node, r.Status, r.Body)
			}
		}
		if diff := cmp.Diff(map[int]int{http.StatusCreated: 1, http.StatusConflict: n - 1}, counts); diff != "" {
			t.Fatalf("statuses of %d concurrent creates of one email (-want +got):\n%s", n, diff)
		}
		for _, node := range []*backendClient{beA, beB} {
			if got := node.get(t, winners[0].ID); !strings.EqualFold(got.Email, "race@example.com") {
				t.Errorf("GET on %s: email %q, want a variant of race@example.com", node.base, got.Email)
			}
		}
		db := openPG(t, dsn)
		var rows int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE email_key = 'race@example.com'`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 1 {
			t.Errorf("users rows for race@example.com: %d, want 1", rows)
		}
	})
}

// openPG opens the test's PostgreSQL schema directly.
func openPG(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// goroutineTB lets a helper that may fail fatally (startChild) run on a goroutine
// other than the test's: a fatal failure marks the test failed and ends
// that goroutine only, as FailNow must not be called off the test goroutine.
type goroutineTB struct{ testing.TB }

func (m goroutineTB) Fatal(args ...any) { m.Helper(); m.Error(args...); runtime.Goexit() }

func (m goroutineTB) Fatalf(format string, args ...any) {
	m.Helper()
	m.Errorf(format, args...)
	runtime.Goexit()
}

func (m goroutineTB) FailNow() { m.Fail(); runtime.Goexit() }

// withDSNParam returns dsn with one more query parameter.
func withDSNParam(t *testing.T, dsn, name, value string) string {
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

// waitLockTried polls PostgreSQL until a connection of every application
// name has tried to take goose's migration lock (pg_stat_activity keeps a
// connection's last query), and reports whether they all did before the
// nodes' start-up ended (started closed) or the deadline passed.
func waitLockTried(ctx context.Context, t *testing.T, conn *sql.Conn, names []string, started <-chan struct{}) bool {
	t.Helper()
	deadline := time.NewTimer(childReadyTimeout)
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

// migrationVersions returns the versions of the PostgreSQL migration
// files, read from the source tree.
func migrationVersions(t *testing.T) []int64 {
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
	key := newSecretKey()
	usherBinary(t) // built first, so both nodes start at once

	// Two processes started together may still not meet: the migrations
	// take milliseconds. So the test holds the schema's migration lock until
	// both nodes have tried to take it; then they contend for it. (A node
	// tries again every second.)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lockConn, err := openPG(t, dsn).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lockConn.Close()
	var schema string
	if err := lockConn.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	lockID := postgres.MigrationLockID(schema)
	if _, err := lockConn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockID); err != nil {
		t.Fatal(err)
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			if _, err := lockConn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, lockID); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer unlock()

	nodes := make([]*childServer, 2)
	names := make([]string, len(nodes)) // application_name of each node's connections
	var wg sync.WaitGroup
	for i := range nodes {
		names[i] = fmt.Sprintf("usher-mn-%s-%d", strings.ToLower(rand.Text()[:8]), i)
		nodeDSN := withDSNParam(t, dsn, "application_name", names[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i] = startChild(goroutineTB{t}, childOpts{Args: nodeArgs(nodeDSN, key)})
		}()
	}
	started := make(chan struct{})
	go func() { wg.Wait(); close(started) }()

	waiting := waitLockTried(ctx, t, lockConn, names, started)
	unlock()
	<-started
	if t.Failed() {
		t.FailNow()
	}
	if !waiting {
		t.Fatalf("the nodes did not both try to take the migration lock while the test held it")
	}

	t.Run("migrations ran once", func(t *testing.T) {
		db := openPG(t, dsn)
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
		for _, v := range migrationVersions(t) {
			want[v] = 1
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("rows per version in goose_db_version (-want +got):\n%s", diff)
		}
	})

	t.Run("one tenant", func(t *testing.T) {
		if k0, k1 := nodes[0].publicKey(t), nodes[1].publicKey(t); k0 != k1 {
			t.Errorf("tenant public keys %q and %q; want one tenant", k0, k1)
		}
	})

	// Right after a joint start each node may have made its own first
	// signing key; each must still accept the other's tokens at once.
	t.Run("each node serves the other's users and tokens", func(t *testing.T) {
		publicKey := nodes[0].publicKey(t)
		for i, from := range nodes {
			to := nodes[1-i]
			email := fmt.Sprintf("joint%d@example.com", i)
			tok := from.publicAPI(publicKey).mustRegister(t, email, "joint correct horse")
			if status, got := meEmail(t, to.publicAPI(publicKey), tok); status != http.StatusOK || got != email {
				t.Errorf("token from node %d, GET /me on node %d: status %d, email %q; want 200 %q", i, 1-i, status, got, email)
			}
			u := from.backendAPI(t, true).doJSON(t, http.MethodPost, "/users",
				map[string]any{"email": fmt.Sprintf("jointbackend%d@example.com", i), "password": "joint correct horse"}).wantUser(t, "create", http.StatusCreated)
			if got := to.backendAPI(t, true).get(t, u.ID); got.Email != u.Email {
				t.Errorf("user created on node %d, read on node %d: email %q, want %q", i, 1-i, got.Email, u.Email)
			}
		}
	})
}
