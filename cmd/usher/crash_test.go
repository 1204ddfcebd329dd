package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Bounds of the crash test.
const (
	crashRounds       = 4
	crashWorkers      = 4
	crashMaxOps       = 2000             // requests per worker and round
	crashRoundTimeout = 20 * time.Second // load before the kill, at most
)

// TestCrashKillDuringWritesKeepsAcknowledgedWrites kills `usher serve` with
// SIGKILL in the middle of concurrent writes, restarts it on the same data
// directory, and checks that every write it acknowledged survived: SQLite
// with synchronous=FULL commits before the response, so a kill (or a power
// loss) loses only writes nobody was told about.
func TestCrashKillDuringWritesKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills usher several times")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	data := t.TempDir()
	m := &crashModel{}
	p := startChild(t, childOpts{Data: data})
	for round := 1; round <= crashRounds; round++ {
		// The kill comes after a random number of acknowledged writes, while
		// the workers keep requests in flight.
		killAt := int64(30 + rng.IntN(150))
		reached := make(chan struct{})
		m.startRound(killAt, reached)
		be := p.backendAPI(t, true)
		rctx, rcancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for w := range crashWorkers {
			wrng := rand.New(rand.NewPCG(seed, uint64(round*crashWorkers+w+1)))
			wg.Go(func() { m.work(rctx, be, w, round, wrng) })
		}
		stopped := make(chan struct{})
		go func() { wg.Wait(); close(stopped) }()
		timer := time.NewTimer(crashRoundTimeout)
		select {
		case <-reached:
		case <-stopped: // every worker gave up; they reported why
		case <-timer.C:
			t.Logf("round %d: %d of %d writes acknowledged after %v; killing now", round, m.acked.Load(), killAt, crashRoundTimeout)
		}
		timer.Stop()
		p.Kill(t)
		rcancel()
		<-stopped // requests fail at once now: the server is gone, the context cancelled
		m.reportErrors(t, round)
		t.Logf("round %d: killed after %d acknowledged writes", round, m.acked.Load())

		p = startChild(t, childOpts{Data: data})
		m.verify(ctx, t, p.backendAPI(t, true), round)
		if t.Failed() {
			t.FailNow()
		}
	}

	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t); code != 0 {
		t.Errorf("exit status after SIGTERM: got %d, want 0", code)
	}
	db := openReadOnly(t, SQLitePath(data))
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		t.Fatal(err)
	}
	var integrity []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		integrity = append(integrity, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(integrity) != 1 || integrity[0] != "ok" {
		t.Errorf("PRAGMA integrity_check: got %q, want [ok]", integrity)
	}
	var users int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&users); err != nil {
		t.Fatal(err)
	}
	if users < len(m.users) {
		t.Errorf("users in the database: %d, fewer than the %d acknowledged creates", users, len(m.users))
	}
}

// writeCell is one value that writes change: the last value the server
// acknowledged, and the values attempted since without an acknowledgement
// (each may or may not have landed). Each user is written by one worker
// only, one request at a time, so no unacknowledged value can land after
// a later acknowledged one, except a request cut off by the kill.
type writeCell[T comparable] struct {
	acked   T
	pending []T
}

func (c *writeCell[T]) attempt(v T)     { c.pending = append(c.pending, v) }
func (c *writeCell[T]) ack(v T)         { c.acked, c.pending = v, nil }
func (c *writeCell[T]) allows(v T) bool { return v == c.acked || slices.Contains(c.pending, v) }

// crashUser is what the test knows about one acknowledged user.
type crashUser struct {
	id      string
	owner   int // the one worker that writes this user
	round   int // created in this round
	next    int // the next data counter value to write
	n       writeCell[int]
	enabled writeCell[bool]
}

// crashModel records the acknowledged writes. mu guards the users and
// their cells.
type crashModel struct {
	mu      sync.Mutex
	users   []*crashUser
	errs    []string
	acked   atomic.Int64 // writes acknowledged this round
	killAt  int64
	reached chan struct{} // closed when acked reaches killAt
}

func (m *crashModel) startRound(killAt int64, reached chan struct{}) {
	m.acked.Store(0)
	m.killAt, m.reached = killAt, reached
}

func (m *crashModel) acknowledged() {
	if m.acked.Add(1) == m.killAt {
		close(m.reached)
	}
}

func (m *crashModel) owned(w int) []*crashUser {
	m.mu.Lock()
	defer m.mu.Unlock()
	var own []*crashUser
	for _, u := range m.users {
		if u.owner == w {
			own = append(own, u)
		}
	}
	return own
}

// unexpected records a response no write should get, and stops the worker.
func (m *crashModel) unexpected(what string, status int, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs = append(m.errs, fmt.Sprintf("%s: status %d, body %s", what, status, strings.TrimSpace(string(body))))
	return fmt.Errorf("%s: status %d", what, status)
}

func (m *crashModel) reportErrors(t *testing.T, round int) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.errs {
		t.Errorf("round %d: %s", round, e)
	}
	m.errs = nil
}

// work is one worker's write load: creates, data writes carrying a counter,
// and disable/enable toggles, on the users this worker created. It stops at
// the first request without a response (the kill) or unexpected status.
func (m *crashModel) work(ctx context.Context, be *backendClient, w, round int, rng *rand.Rand) {
	for op := 0; op < crashMaxOps && ctx.Err() == nil; op++ {
		own := m.owned(w)
		var err error
		switch {
		case len(own) == 0 || rng.IntN(6) == 0:
			err = m.create(ctx, be, w, round, op)
		case rng.IntN(3) == 0:
			err = m.toggle(ctx, be, own[rng.IntN(len(own))])
		default:
			err = m.setData(ctx, be, own[rng.IntN(len(own))])
		}
		if err != nil {
			return
		}
	}
}

func (m *crashModel) create(ctx context.Context, be *backendClient, w, round, op int) error {
	email := fmt.Sprintf("crash-r%d-w%d-%d@example.com", round, w, op)
	r, err := be.call(ctx, http.MethodPost, "/users",
		map[string]any{"email": email, "password": passwordOfLength(12), "data": map[string]int{"n": 0}})
	switch {
	case err != nil:
		return err
	case r.Status == http.StatusServiceUnavailable: // overloaded: refused, try again
		return nil
	case r.Status != http.StatusCreated:
		return m.unexpected("POST /users "+email, r.Status, r.Body)
	}
	var got struct{ ID string }
	if err := json.Unmarshal(r.Body, &got); err != nil || got.ID == "" {
		return m.unexpected("POST /users "+email+": no id", r.Status, r.Body)
	}
	m.mu.Lock()
	m.users = append(m.users, &crashUser{
		id: got.ID, owner: w, round: round, next: 1,
		n: writeCell[int]{acked: 0}, enabled: writeCell[bool]{acked: true},
	})
	m.mu.Unlock()
	m.acknowledged()
	return nil
}

func (m *crashModel) setData(ctx context.Context, be *backendClient, u *crashUser) error {
	m.mu.Lock()
	v := u.next
	u.next++
	u.n.attempt(v)
	m.mu.Unlock()
	r, err := be.call(ctx, http.MethodPut, "/users/"+u.id+"/data", map[string]int{"n": v})
	switch {
	case err != nil:
		return err
	case r.Status == http.StatusServiceUnavailable: // may or may not have landed; stays pending
		return nil
	case r.Status != http.StatusNoContent:
		return m.unexpected(fmt.Sprintf("PUT /users/%s/data n=%d", u.id, v), r.Status, r.Body)
	}
	m.mu.Lock()
	u.n.ack(v)
	m.mu.Unlock()
	m.acknowledged()
	return nil
}

func (m *crashModel) toggle(ctx context.Context, be *backendClient, u *crashUser) error {
	m.mu.Lock()
	target := !u.enabled.acked
	u.enabled.attempt(target)
	m.mu.Unlock()
	path := "/users/" + u.id + "/disable"
	if target {
		path = "/users/" + u.id + "/enable"
	}
	r, err := be.call(ctx, http.MethodPut, path, nil)
	switch {
	case err != nil:
		return err
	case r.Status == http.StatusServiceUnavailable:
		return nil
	case r.Status != http.StatusNoContent:
		return m.unexpected("PUT "+path, r.Status, r.Body)
	}
	m.mu.Lock()
	u.enabled.ack(target)
	m.mu.Unlock()
	m.acknowledged()
	return nil
}

// verify checks, after a restart, that every acknowledged create is there
// and every value is the last acknowledged one or one attempted after it;
// then it takes what it found as acknowledged, since nothing is in flight.
func (m *crashModel) verify(ctx context.Context, t *testing.T, be *backendClient, round int) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var unsure, landed int // values in flight at the kill, and those that landed
	defer func() {
		t.Logf("round %d: %d users checked; %d of %d unacknowledged writes landed", round, len(m.users), landed, unsure)
	}()
	for _, u := range m.users {
		r, err := be.call(ctx, http.MethodGet, "/users/"+u.id, nil)
		if err != nil {
			t.Fatalf("round %d: GET /users/%s: %v", round, u.id, err)
		}
		if r.Status != http.StatusOK {
			t.Errorf("round %d: user %s, acknowledged in round %d, after the restart: GET r.Status %d, r.Body %s; want 200",
				round, u.id, u.round, r.Status, strings.TrimSpace(string(r.Body)))
			continue
		}
		var got struct {
			Enabled *bool `json:"enabled"`
			Data    struct {
				N *int `json:"n"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &got); err != nil || got.Enabled == nil || got.Data.N == nil {
			t.Errorf("round %d: GET /users/%s: r.Body %s: want enabled and data.n", round, u.id, r.Body)
			continue
		}
		if !u.n.allows(*got.Data.N) {
			t.Errorf("round %d: user %s: data n = %d after the restart; last acknowledged %d, attempted since %v",
				round, u.id, *got.Data.N, u.n.acked, u.n.pending)
		}
		if !u.enabled.allows(*got.Enabled) {
			t.Errorf("round %d: user %s: enabled = %v after the restart; last acknowledged %v, attempted since %v",
				round, u.id, *got.Enabled, u.enabled.acked, u.enabled.pending)
		}
		unsure += len(u.n.pending) + len(u.enabled.pending)
		if *got.Data.N != u.n.acked {
			landed++
		}
		if *got.Enabled != u.enabled.acked {
			landed++
		}
		u.n.ack(*got.Data.N)
		u.enabled.ack(*got.Enabled)
		u.next = max(u.next, *got.Data.N+1)
	}
}
