package main

// Webhooks end to end: a real HTTP receiver checks every request as a
// Standard Webhooks receiver does, with the scheme implemented here from
// the specification (not with internal/webhook's Verify), and counts what
// it gets per webhook-id.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/store/postgres/pgtest"
)

// hookTolerance is how far from the receiver's clock a webhook-timestamp
// may be: the specification's five minutes.
const hookTolerance = 5 * time.Minute

// verifyStandardWebhook checks a request as the Standard Webhooks
// specification says: the signed content is "{webhook-id}.{webhook-timestamp}.{body}",
// the key is the base64-decoded part of the secret after "whsec_", the
// signature is HMAC-SHA256, and webhook-signature holds space-separated
// "v1,<base64>" entries of which one must match; the timestamp (Unix
// seconds) must be within five minutes of now.
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing header: webhook-id %q, webhook-timestamp %q, webhook-signature %q", id, ts, sigs)
	}
	enc, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return fmt.Errorf("secret %q has no whsec_ prefix", secret)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return fmt.Errorf("secret is not base64: %v", err)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not Unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > hookTolerance || d < -hookTolerance {
		return fmt.Errorf("webhook-timestamp %s is %v from now", ts, d)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, entry := range strings.Split(sigs, " ") {
		version, sig, _ := strings.Cut(entry, ",")
		if version == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no v1 signature in %q matches", sigs)
}

// hookPayload is the body of a webhook: {"type", "timestamp", "data"}.
type hookPayload struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// receivedHook is one request a hookReceiver took.
type receivedHook struct {
	ID      string // webhook-id
	Payload hookPayload
	Body    []byte
}

// hookReceiver is a webhook endpoint on loopback. It verifies every request
// and answers 204, or what its hold function decides; a request it cannot
// verify is answered 400 and reported when the test ends.
type hookReceiver struct {
	URL string

	mu       sync.Mutex
	secret   string
	got      []receivedHook
	inFlight int
	most     int      // most requests in flight at once
	problems []string // requests that failed verification
	// hold, when set, runs before the answer: it may block (until the
	// request's context ends) and returns false to answer 503.
	hold func(r *http.Request, h receivedHook) bool
}

func newHookReceiver(t testing.TB) *hookReceiver {
	t.Helper()
	rc := &hookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { // runs before srv.Close: the test's failures, while it can still report them
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, p := range rc.problems {
			t.Errorf("webhook receiver: %s", p)
		}
	})
	rc.URL = srv.URL + "/hook"
	return rc
}

func (rc *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rc.mu.Lock()
	secret, hold := rc.secret, rc.hold
	problem := func(format string, args ...any) {
		rc.problems = append(rc.problems, fmt.Sprintf(format, args...))
		rc.mu.Unlock()
		http.Error(w, "bad webhook", http.StatusBadRequest)
	}
	if err != nil {
		problem("reading the body: %v", err)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/hook" {
		problem("got %s %s, want POST /hook", r.Method, r.URL.Path)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		problem("Content-Type %q, want application/json", r.Header.Get("Content-Type"))
		return
	}
	if err := verifyStandardWebhook(secret, r.Header, body, time.Now()); err != nil {
		problem("signature: %v; body %s", err, body)
		return
	}
	h := receivedHook{ID: r.Header.Get("webhook-id"), Body: body}
	if err := json.Unmarshal(body, &h.Payload); err != nil {
		problem("payload %s: %v", body, err)
		return
	}
	rc.got = append(rc.got, h)
	rc.inFlight++
	rc.most = max(rc.most, rc.inFlight)
	rc.mu.Unlock()
	ok := hold == nil || hold(r, h)
	rc.mu.Lock()
	rc.inFlight--
	rc.mu.Unlock()
	if !ok {
		http.Error(w, "not now", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *hookReceiver) setSecret(s string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secret = s
}

func (rc *hookReceiver) setHold(hold func(r *http.Request, h receivedHook) bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hold = hold
}

// received returns the requests taken so far, in order.
func (rc *hookReceiver) received() []receivedHook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// perID counts the requests taken so far by webhook-id.
func (rc *hookReceiver) perID() map[string]int {
	n := map[string]int{}
	for _, h := range rc.received() {
		n[h.ID]++
	}
	return n
}

// mostInFlight is the most requests the receiver had in flight at once.
func (rc *hookReceiver) mostInFlight() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.most
}

// createWebhook adds an endpoint with POST /webhooks, wants 201, and
// returns its id and secret.
func createWebhook(t testing.TB, be *backendClient, url string, events ...string) (id, secret string) {
	t.Helper()
	r := be.doJSON(t, "POST", "/webhooks", map[string]any{"url": url, "events": events})
	r.wantStatus(t, "POST /webhooks", http.StatusCreated)
	var body struct {
		ID     string   `json:"id"`
		URL    string   `json:"url"`
		Events []string `json:"events"`
		Secret string   `json:"secret"`
	}
	r.decode(t, "POST /webhooks", &body)
	if body.URL != url || !slices.Equal(body.Events, events) {
		t.Errorf("POST /webhooks: got url %q events %q, want %q %q", body.URL, body.Events, url, events)
	}
	enc, ok := strings.CutPrefix(body.Secret, "whsec_")
	if key, err := base64.StdEncoding.DecodeString(enc); !ok || err != nil || len(key) != 32 {
		t.Fatalf("POST /webhooks: secret %q, want whsec_ and the base64 of 32 bytes", body.Secret)
	}
	return body.ID, body.Secret
}

// auditEvents returns the tenant's events of the given types (all when
// none) as GET /events lists them, raw, and their ids.
func auditEvents(t testing.TB, be *backendClient, types ...string) (ids []string, raw map[string]json.RawMessage) {
	t.Helper()
	path := "/events?limit=500"
	if len(types) > 0 {
		path += "&type=" + strings.Join(types, ",")
	}
	r := be.do(t, "GET", path, "")
	r.wantStatus(t, "GET "+path, http.StatusOK)
	var page struct {
		Events     []json.RawMessage `json:"events"`
		NextCursor *string           `json:"next_cursor"`
	}
	r.decode(t, "GET "+path, &page)
	if page.NextCursor != nil {
		t.Fatalf("GET %s: more than one page", path)
	}
	raw = map[string]json.RawMessage{}
	for _, e := range page.Events {
		var head struct{ ID string }
		if err := json.Unmarshal(e, &head); err != nil {
			t.Fatalf("event %s: %v", e, err)
		}
		ids = append(ids, head.ID)
		raw[head.ID] = e
	}
	return ids, raw
}

// deliveryStates counts an endpoint's deliveries by status.
func deliveryStates(t testing.TB, db *sql.DB, endpointID any) map[string]int {
	t.Helper()
	rows, err := db.Query(`SELECT status, count(*) FROM webhook_deliveries WHERE endpoint_id = $1 GROUP BY status`, endpointID)
	if err != nil {
		t.Fatalf("reading webhook_deliveries: %v", err)
	}
	defer rows.Close()
	n := map[string]int{}
	for rows.Next() {
		var status string
		var count int
		if err := rows.Scan(&status, &count); err != nil {
			t.Fatal(err)
		}
		n[status] = count
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// webhookServer starts Usher with webhooks allowed to reach loopback, and
// quick retries.
func webhookServer(t testing.TB, edit ...func(*Main)) *testServer {
	t.Helper()
	return startServer(t, append([]func(*Main){func(m *Main) {
		m.Config.WebhookAllowPrivate = true
		m.Config.WebhookRetryBase, m.Config.WebhookRetryMax = 100*time.Millisecond, time.Second
	}}, edit...)...)
}

// deliveryPatience bounds how long a due delivery may take to arrive: the
// relay looks every second.
const deliveryPatience = 10 * time.Second

func TestWebhookDeliveriesAreSignedAndMatchTheAuditLog(t *testing.T) {
	rc := newHookReceiver(t)
	s := webhookServer(t)
	hookID, secret := createWebhook(t, s.BackendAPI, rc.URL, "user.created", "login.failed")
	rc.setSecret(secret)

	const email, pw = "hook-ann@example.com", "correct horse battery"
	userID := s.BackendAPI.newUser(t, email, pw)
	s.PublicAPI.mustLogin(t, email, pw) // login.succeeded, session.started: not subscribed
	s.PublicAPI.login(t, email, "a wrong password").wantStatus(t, "login with a wrong password", http.StatusUnauthorized)
	s.PublicAPI.login(t, "hook-nobody@example.com", pw).wantStatus(t, "login of an unknown address", http.StatusUnauthorized)

	wantIDs, events := auditEvents(t, s.BackendAPI, "user.created", "login.failed")
	if len(wantIDs) != 3 {
		t.Fatalf("GET /events?type=user.created,login.failed: got %d events, want 3: %q", len(wantIDs), wantIDs)
	}
	eventually(t, "all three deliveries recorded as sent", deliveryPatience, func() bool {
		return deliveryStates(t, s.Store.DB(), s.Store.IDArg(hookID))["sent"] == 3
	})
	if got := deliveryStates(t, s.Store.DB(), s.Store.IDArg(hookID)); len(got) != 1 {
		t.Errorf("deliveries of the endpoint by status: got %v, want 3 sent and nothing else", got)
	}

	got := rc.received()
	var gotIDs []string
	for _, h := range got {
		gotIDs = append(gotIDs, h.ID)
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Fatalf("webhook-ids received: got %q, want the events' ids %q, once each, in order", gotIDs, wantIDs)
	}
	var gotUser []string
	for _, h := range got {
		e := events[h.ID]
		var want struct {
			Type   string  `json:"type"`
			Time   string  `json:"time"`
			UserID *string `json:"user_id"`
		}
		if err := json.Unmarshal(e, &want); err != nil {
			t.Fatal(err)
		}
		if d := jsonDiff(h.Payload.Data, e); d != "" {
			t.Errorf("webhook %s: data differs from GET /events: %s", h.ID, d)
		}
		if h.Payload.Type != want.Type {
			t.Errorf("webhook %s: type %q, want %q", h.ID, h.Payload.Type, want.Type)
		}
		if ts, err := time.Parse(time.RFC3339Nano, h.Payload.Timestamp); err != nil || !ts.Equal(parseTime(t, want.Time)) {
			t.Errorf("webhook %s: timestamp %q, want the event's time %q", h.ID, h.Payload.Timestamp, want.Time)
		}
		if d := jsonDiff(h.Body, []byte(mustJSON(t, map[string]any{
			"type": want.Type, "timestamp": h.Payload.Timestamp, "data": json.RawMessage(e),
		}))); d != "" {
			t.Errorf("webhook %s: body is not {type, timestamp, data}: %s", h.ID, d)
		}
		u := "<none>"
		if want.UserID != nil {
			u = *want.UserID
		}
		gotUser = append(gotUser, want.Type+" "+u)
	}
	if want := []string{"user.created " + userID, "login.failed " + userID, "login.failed <none>"}; !slices.Equal(gotUser, want) {
		t.Errorf("webhooks received (type, user): got %q, want %q", gotUser, want)
	}

	// The log holds events of other types, and none of them was sent.
	all, _ := auditEvents(t, s.BackendAPI)
	if len(all) <= len(wantIDs) {
		t.Errorf("GET /events: %d events, want more than the %d subscribed to (login.succeeded, session.started...)", len(all), len(wantIDs))
	}
}

func TestWebhookEndpointOnPrivateAddressRefused(t *testing.T) {
	rc := newHookReceiver(t)
	s := startServer(t) // without webhook-allow-private
	for _, tc := range []struct{ name, url string }{
		{"the loopback receiver", rc.URL},
		{"localhost", strings.Replace(rc.URL, "127.0.0.1", "localhost", 1)},
		{"IPv6 loopback", "http://[::1]:8080/hook"},
		{"private network", "http://10.1.2.3/hook"},
		{"cloud metadata (link-local)", "http://169.254.169.254/latest/meta-data/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.BackendAPI.doJSON(t, "POST", "/webhooks", map[string]any{"url": tc.url, "events": []string{"*"}})
			r.wantNativeError(t, "POST /webhooks "+tc.url, http.StatusBadRequest, "invalid_request")
		})
	}
	r := s.BackendAPI.do(t, "GET", "/webhooks", "")
	if d := jsonDiff(r.wantStatus(t, "GET /webhooks", http.StatusOK).Body, []byte(`{"webhooks":[]}`)); d != "" {
		t.Errorf("GET /webhooks after the refusals: %s", d)
	}
}

func TestWebhookSlowEndpointDoesNotDelayAnother(t *testing.T) {
	slow, fast := newHookReceiver(t), newHookReceiver(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the receivers close
	slow.setHold(func(r *http.Request, _ receivedHook) bool {
		select { // far longer than the fast endpoint is given
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	// Two workers: the slow endpoint may take one, no more.
	s := webhookServer(t, func(m *Main) { m.Config.WebhookWorkers, m.Config.WebhookTimeout = 2, time.Minute })
	_, slowSecret := createWebhook(t, s.BackendAPI, slow.URL, "user.created")
	_, fastSecret := createWebhook(t, s.BackendAPI, fast.URL, "user.created")
	slow.setSecret(slowSecret)
	fast.setSecret(fastSecret)

	for i := range 3 {
		s.BackendAPI.newUser(t, fmt.Sprintf("hook-slow-%d@example.com", i), "correct horse battery")
	}
	ids, _ := auditEvents(t, s.BackendAPI, "user.created")
	eventually(t, "the slow endpoint's first request", deliveryPatience, func() bool { return len(slow.received()) == 1 })
	eventually(t, "the fast endpoint's three webhooks, while the slow one hangs", deliveryPatience, func() bool {
		return len(fast.received()) == 3
	})
	var got []string
	for _, h := range fast.received() {
		got = append(got, h.ID)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("fast endpoint: got webhook-ids %q, want %q", got, ids)
	}
	if n := len(slow.received()); n != 1 {
		t.Errorf("slow endpoint: %d requests while its first hangs, want 1 (one at a time)", n)
	}
}

// childDBArgs are the serve flags that put a child on the engine the tests
// run on: PostgreSQL with USHER_TEST_ENGINE=postgres, else SQLite in its
// data directory. It returns a handle on the database, for reading.
func childDBArgs(t testing.TB, data string) (args []string, db func() *sql.DB) {
	t.Helper()
	if os.Getenv("USHER_TEST_ENGINE") != "postgres" {
		var once sync.Once
		var h *sql.DB
		return nil, func() *sql.DB {
			once.Do(func() { h = openReadOnly(t, SQLitePath(data)) }) // once the child created the file
			return h
		}
	}
	dsn := pgtest.DSN(t)
	h, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return []string{"--db", dsn}, func() *sql.DB { return h }
}

func TestWebhookDeliveryInterruptedByCrashCompletesAfterRestart(t *testing.T) {
	data := t.TempDir()
	dbArgs, db := childDBArgs(t, data)
	args := append(dbArgs, "--webhook-allow-private", "--webhook-timeout", "2s", "--webhook-workers", "1",
		"--webhook-retry-base", "200ms")

	// The receiver does its work on the first request, then hangs until the
	// server dies: a receiver whose answer never got back. It drops a repeat
	// of a webhook-id it has done.
	rc := newHookReceiver(t)
	var mu sync.Mutex
	done := map[string]int{}    // webhook-id -> times acted on
	dropped := map[string]int{} // webhook-id -> repeats dropped
	firstArrived := make(chan struct{})
	var first sync.Once
	rc.setHold(func(r *http.Request, h receivedHook) bool {
		mu.Lock()
		if done[h.ID] > 0 {
			dropped[h.ID]++
			mu.Unlock()
			return true
		}
		done[h.ID]++
		mu.Unlock()
		hang := false
		first.Do(func() { hang = true })
		if hang {
			close(firstArrived)
			<-r.Context().Done() // the connection dies with the server
		}
		return true
	})

	p := startChild(t, childOpts{Data: data, Args: args})
	be := p.backendAPI(t, false)
	_, secret := createWebhook(t, be, rc.URL, "user.created")
	rc.setSecret(secret)
	be.newUser(t, "hook-crash-1@example.com", "correct horse battery")
	select {
	case <-firstArrived:
	case <-time.After(deliveryPatience):
		t.Fatalf("no webhook within %v", deliveryPatience)
	}
	// Queued while the endpoint's first delivery is in flight: it waits.
	be.newUser(t, "hook-crash-2@example.com", "correct horse battery")
	ids, _ := auditEvents(t, be, "user.created")
	if len(ids) != 2 {
		t.Fatalf("user.created events: got %d, want 2", len(ids))
	}
	p.Kill(t)
	beforeRestart := len(rc.received())
	if got := rc.received(); beforeRestart != 1 || got[0].ID != ids[0] {
		t.Fatalf("before the crash: got %d requests (%v), want one, of the first event %s", beforeRestart, got, ids[0])
	}

	q := startChild(t, childOpts{Data: data, Args: args})
	// The killed delivery's lease (timeout × (workers+1) + 5 s) must lapse
	// before it is sent again.
	eventually(t, "both deliveries recorded as sent after the restart", 25*time.Second, func() bool {
		var n int
		if err := db().QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE status = 'sent'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 2
	})
	q.Signal(t, os.Interrupt)
	q.Wait(t)

	var after []string
	for _, h := range rc.received()[beforeRestart:] {
		after = append(after, h.ID)
	}
	if !slices.Equal(after, ids) {
		t.Errorf("webhook-ids after the restart: got %q, want %q: each delivery once, in order", after, ids)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if done[id] != 1 {
			t.Errorf("event %s acted on %d times, want once", id, done[id])
		}
	}
	if dropped[ids[0]] != 1 || dropped[ids[1]] != 0 {
		t.Errorf("repeats dropped by webhook-id: got %v, want one of the interrupted %s only", dropped, ids[0])
	}
}

func TestWebhookTwoNodesOnPostgresDeliverEachEventOnce(t *testing.T) {
	dsn := pgtest.DSN(t) // always PostgreSQL: skips without it (fails in CI)
	key := newSecretKey()
	node := func(m *Main) {
		m.Config.DB, m.Config.SecretKey = dsn, key
		m.Config.PublicURL = nodePublicURL
	}
	a := webhookServer(t, node)
	b := webhookServer(t, node)
	rc := newHookReceiver(t)
	hookID, secret := createWebhook(t, a.BackendAPI, rc.URL, "user.created")
	rc.setSecret(secret)

	const n = 30
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		be := a.BackendAPI
		if i%2 == 1 {
			be = b.BackendAPI
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r, err := be.call(ctx, "POST", "/users/", map[string]string{
				"email": fmt.Sprintf("hook-node-%02d@example.com", i), "password": "correct horse battery",
			})
			if err == nil && r.Status != http.StatusCreated {
				err = fmt.Errorf("create user %d: got %v, want 201", i, r)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	ids, _ := auditEvents(t, b.BackendAPI, "user.created")
	if len(ids) != n {
		t.Fatalf("user.created events: got %d, want %d", len(ids), n)
	}
	eventually(t, "every delivery recorded as sent", 20*time.Second, func() bool {
		return deliveryStates(t, a.Store.DB(), a.Store.IDArg(hookID))["sent"] == n
	})
	var retried int
	if err := a.Store.DB().QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE attempts <> 1`).Scan(&retried); err != nil {
		t.Fatal(err)
	}
	if retried != 0 {
		t.Errorf("%d deliveries took more than one attempt: nothing failed, so none may", retried)
	}
	got := rc.perID()
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("event %s: received %d times, want once", id, got[id])
		}
		delete(got, id)
	}
	if len(got) != 0 {
		t.Errorf("webhook-ids that are no user.created event: %v", got)
	}
	// An endpoint's deliveries go one at a time across nodes too.
	if m := rc.mostInFlight(); m != 1 {
		t.Errorf("the endpoint had %d requests in flight at once, want 1", m)
	}
}
