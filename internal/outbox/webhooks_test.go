package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/outbox"
	"github.com/usherhq/usher/internal/usher"
)

// These tests run the webhook relay on an in-memory DeliveryStore that
// keeps the real store's rules (due, leased, and no endpoint with a
// delivery in flight), and script the post. The relay polls once an hour
// and time is the injected clock of relay_test.go: the tests wait on what
// the relay records, never on the wall clock but for the guard.

// fakeDeliveries is an in-memory DeliveryStore. Every call is recorded, so
// that a test waits for the relay instead of sleeping.
type fakeDeliveries struct {
	mu      sync.Mutex
	rows    []*fakeDelivery // in the order they were queued
	calls   []storeCall
	changed chan struct{} // signalled (without blocking) after every call
}

// fakeDelivery is one row of webhook_deliveries.
type fakeDelivery struct {
	d                  usher.Delivery
	status             string // pending, sent, abandoned
	attempts           int
	next, claimedUntil time.Time
	lastError          string
}

// storeCall is one call the relay made: "claim", "delivered" or "failed".
type storeCall struct {
	Op       string
	EventID  string   // delivered, failed
	Endpoint string   // delivered, failed
	Claimed  []string // claim: the event ids returned
	Limit    int
	Lease    time.Duration
	Now      time.Time // claim, delivered
	Next     time.Time // failed
	Reason   string    // failed
	Abandon  bool      // failed
}

func newFakeDeliveries() *fakeDeliveries {
	return &fakeDeliveries{changed: make(chan struct{}, 1)}
}

// add queues a delivery of event id to endpoint, due at due.
func (f *fakeDeliveries) add(endpoint, id string, due time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows = append(f.rows, &fakeDelivery{
		d: usher.Delivery{
			Event:    usher.Event{ID: id, Type: "user.created", Time: due},
			Endpoint: usher.Webhook{ID: endpoint, URL: "https://" + endpoint + ".example.com/hook"},
		},
		status: "pending", next: due,
	})
}

func (f *fakeDeliveries) record(c storeCall) {
	f.calls = append(f.calls, c)
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *fakeDeliveries) ClaimDeliveries(_ context.Context, now time.Time, lease time.Duration, limit int) ([]usher.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inFlight := map[string]bool{}
	for _, r := range f.rows {
		if r.status == "pending" && (r.claimedUntil.After(now) || r.lastError != "" && r.next.After(now)) {
			inFlight[r.d.Endpoint.ID] = true // leased, or waiting for a retry
		}
	}
	var due []*fakeDelivery
	for _, r := range f.rows {
		if r.status == "pending" && !r.next.After(now) && !r.claimedUntil.After(now) && !inFlight[r.d.Endpoint.ID] {
			due = append(due, r)
		}
	}
	sort.SliceStable(due, func(i, j int) bool { return due[i].d.Event.ID < due[j].d.Event.ID }) // oldest event first
	due = due[:min(len(due), limit)]
	var out []usher.Delivery
	var ids []string
	for _, r := range due {
		r.claimedUntil = now.Add(lease)
		r.attempts++
		d := r.d
		d.Attempts = r.attempts
		out = append(out, d)
		ids = append(ids, d.Event.ID)
	}
	f.record(storeCall{Op: "claim", Claimed: ids, Limit: limit, Lease: lease, Now: now})
	return out, nil
}

func (f *fakeDeliveries) row(eventID, endpointID string) *fakeDelivery {
	for _, r := range f.rows {
		if r.d.Event.ID == eventID && r.d.Endpoint.ID == endpointID {
			return r
		}
	}
	panic("no delivery " + eventID + " to " + endpointID)
}

func (f *fakeDeliveries) MarkDelivered(_ context.Context, eventID, endpointID string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.row(eventID, endpointID)
	r.status, r.claimedUntil, r.lastError = "sent", time.Time{}, ""
	f.record(storeCall{Op: "delivered", EventID: eventID, Endpoint: endpointID, Now: now})
	return nil
}

func (f *fakeDeliveries) ReleaseDelivery(_ context.Context, eventID, endpointID string, next time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.row(eventID, endpointID)
	r.next, r.claimedUntil = next, time.Time{}
	r.attempts--
	f.record(storeCall{Op: "released", EventID: eventID, Endpoint: endpointID, Next: next})
	return nil
}

func (f *fakeDeliveries) MarkDeliveryFailed(_ context.Context, eventID, endpointID string, next time.Time, reason string, abandon bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.row(eventID, endpointID)
	r.status = "pending"
	if abandon {
		r.status = "abandoned"
	}
	r.next, r.claimedUntil, r.lastError = next, time.Time{}, reason
	f.record(storeCall{Op: "failed", EventID: eventID, Endpoint: endpointID, Next: next, Reason: reason, Abandon: abandon})
	return nil
}

// history returns the calls so far.
func (f *fakeDeliveries) history() []storeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// state returns a delivery's status and attempts.
func (f *fakeDeliveries) state(eventID, endpointID string) (status string, attempts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.row(eventID, endpointID)
	return r.status, r.attempts
}

// waitFor waits until cond holds of the calls so far, and returns them.
func (f *fakeDeliveries) waitFor(t *testing.T, what string, cond func([]storeCall) bool) []storeCall {
	t.Helper()
	timer := time.NewTimer(guard)
	defer timer.Stop()
	for {
		if h := f.history(); cond(h) {
			return h
		}
		select {
		case <-f.changed:
		case <-timer.C:
			t.Fatalf("timed out after %v waiting for %s; calls: %+v", guard, what, f.history())
		}
	}
}

// waitOutcome waits for the relay to record the n-th (from 1) outcome of
// event id, and returns it.
func (f *fakeDeliveries) waitOutcome(t *testing.T, id string, n int) storeCall {
	t.Helper()
	var got storeCall
	f.waitFor(t, fmt.Sprintf("outcome %d of %s", n, id), func(h []storeCall) bool {
		seen := 0
		for _, c := range h {
			if c.EventID == id && (c.Op == "delivered" || c.Op == "failed") {
				if seen++; seen == n {
					got = c
					return true
				}
			}
		}
		return false
	})
	return got
}

// waitIdleClaim notifies the relay and waits for a claim made after the
// calls so far: the relay has looked and acted on what it found.
func (f *fakeDeliveries) waitIdleClaim(t *testing.T, w *outbox.WebhookRelay) []string {
	t.Helper()
	before := len(f.history())
	w.Notify()
	h := f.waitFor(t, "a claim after the notification", func(h []storeCall) bool {
		for _, c := range h[before:] {
			if c.Op == "claim" {
				return true
			}
		}
		return false
	})
	for _, c := range h[before:] {
		if c.Op == "claim" {
			return c.Claimed
		}
	}
	return nil
}

func delivered(h []storeCall) []string {
	var ids []string
	for _, c := range h {
		if c.Op == "delivered" {
			ids = append(ids, c.EventID)
		}
	}
	return ids
}

// whConfig is a relay's configuration on clk: polls hourly, a minute's
// timeout per request.
func whConfig(clk *clock, workers int) outbox.WebhookConfig {
	return outbox.WebhookConfig{Workers: workers, Config: outbox.Config{
		MaxAttempts: 5, RetryBase: time.Minute, RetryMax: time.Hour,
		PollInterval: time.Hour, SendTimeout: time.Minute, Now: clk.Now,
	}}
}

// startWebhookRelay runs a relay until the returned stop is called or the
// test ends; stop cancels Run's context and waits for Run to return.
func startWebhookRelay(t *testing.T, st outbox.DeliveryStore, post outbox.Post, c outbox.WebhookConfig) (*outbox.WebhookRelay, func()) {
	t.Helper()
	w := outbox.NewWebhookRelay(st, post, quiet, c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop := func() {
		t.Helper()
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: got %v, want nil", err)
				}
			case <-time.After(guard):
				t.Errorf("Run did not return within %v of its context ending", guard)
			}
		})
	}
	t.Cleanup(stop)
	return w, stop
}

// waitClosed waits for ch to be closed.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(guard):
		t.Fatalf("timed out after %v waiting for %s", guard, what)
	}
}

// postLog records the posts of a fake Post: their order per endpoint, and
// how many of one endpoint were ever in flight at once.
type postLog struct {
	mu       sync.Mutex
	order    map[string][]string // endpoint -> event ids, as posted
	inFlight map[string]int
	maxSeen  map[string]int
}

func newPostLog() *postLog {
	return &postLog{order: map[string][]string{}, inFlight: map[string]int{}, maxSeen: map[string]int{}}
}

func (p *postLog) begin(d usher.Delivery) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep := d.Endpoint.ID
	p.order[ep] = append(p.order[ep], d.Event.ID)
	p.inFlight[ep]++
	p.maxSeen[ep] = max(p.maxSeen[ep], p.inFlight[ep])
}

func (p *postLog) end(d usher.Delivery) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight[d.Endpoint.ID]--
}

func (p *postLog) posted(endpoint string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.order[endpoint])
}

func (p *postLog) most(endpoint string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxSeen[endpoint]
}

func TestWebhookRelayDeliversEachEndpointInOrderOneAtATime(t *testing.T) {
	clk := newClock(t0)
	st := newFakeDeliveries()
	want := map[string][]string{"a": {"a1", "a2", "a3", "a4"}, "b": {"b1", "b2", "b3"}}
	for i := range 4 { // interleaved, all due at once: one claim takes them all
		for _, ep := range []string{"a", "b"} {
			if i < len(want[ep]) {
				st.add(ep, want[ep][i], t0)
			}
		}
	}
	log := newPostLog()
	// The first post of each endpoint waits for the other's: the endpoints
	// must be sent in parallel, or this deadlocks (and the guard fails it).
	started := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	other := map[string]string{"a": "b", "b": "a"}
	post := func(ctx context.Context, d usher.Delivery) error {
		log.begin(d)
		defer log.end(d)
		if id := d.Event.ID; id == "a1" || id == "b1" {
			close(started[d.Endpoint.ID])
			select {
			case <-started[other[d.Endpoint.ID]]:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	c := whConfig(clk, 4)
	startWebhookRelay(t, st, post, c)
	h := st.waitFor(t, "7 deliveries", func(h []storeCall) bool { return len(delivered(h)) == 7 })

	for ep, ids := range want {
		if got := log.posted(ep); !slices.Equal(got, ids) {
			t.Errorf("endpoint %s: posted %q, want %q, in this order", ep, got, ids)
		}
		if got := log.most(ep); got != 1 {
			t.Errorf("endpoint %s: %d deliveries in flight at once, want 1", ep, got)
		}
		for _, id := range ids {
			if status, attempts := st.state(id, ep); status != "sent" || attempts != 1 {
				t.Errorf("delivery %s: got %s after %d attempts, want sent after 1", id, status, attempts)
			}
		}
	}
	// A worker sends its endpoint's deliveries one after another under one
	// lease: it must cover them all, each taking up to the send timeout.
	for _, call := range h {
		if call.Op == "claim" && call.Lease < time.Duration(call.Limit)*c.SendTimeout {
			t.Errorf("claim of up to %d deliveries with a lease of %v: shorter than %d send timeouts of %v",
				call.Limit, call.Lease, call.Limit, c.SendTimeout)
		}
	}
}

func TestWebhookRelaySlowEndpointDoesNotDelayOthers(t *testing.T) {
	clk := newClock(t0)
	st := newFakeDeliveries()
	st.add("slow", "s1", t0)
	st.add("fast", "f1", t0)
	st.add("slow", "s2", t0)
	st.add("fast", "f2", t0)
	st.add("fast", "f3", t0)
	log := newPostLog()
	slowStarted, release := make(chan struct{}), make(chan struct{})
	post := func(ctx context.Context, d usher.Delivery) error {
		log.begin(d)
		defer log.end(d)
		if d.Endpoint.ID == "slow" && d.Event.ID == "s1" {
			close(slowStarted)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	w, _ := startWebhookRelay(t, st, post, whConfig(clk, 2)) // one worker for each endpoint, no spare
	waitClosed(t, slowStarted, "the slow endpoint's first post")
	st.waitFor(t, "the fast endpoint's three deliveries", func(h []storeCall) bool { return len(delivered(h)) == 3 })
	if got, want := log.posted("fast"), []string{"f1", "f2", "f3"}; !slices.Equal(got, want) {
		t.Errorf("fast endpoint: posted %q, want %q", got, want)
	}

	// A third endpoint queued while the slow one still hangs gets through too.
	st.add("late", "l1", clk.Now())
	w.Notify()
	st.waitOutcome(t, "l1", 1)
	if got, want := log.posted("slow"), []string{"s1"}; !slices.Equal(got, want) {
		t.Errorf("slow endpoint while its first post hangs: posted %q, want %q", got, want)
	}

	close(release)
	st.waitOutcome(t, "s2", 1)
	if got, want := log.posted("slow"), []string{"s1", "s2"}; !slices.Equal(got, want) {
		t.Errorf("slow endpoint: posted %q, want %q", got, want)
	}
	if got := log.most("slow"); got != 1 {
		t.Errorf("slow endpoint: %d deliveries in flight at once, want 1", got)
	}
}

// wantBackoff checks that a retry is due d (±10% jitter) after now.
func wantBackoff(t *testing.T, what string, now, next time.Time, d time.Duration) {
	t.Helper()
	if got := next.Sub(now); got < d-d/10 || got > d+d/10 {
		t.Errorf("%s: retry due after %v, want %v ±10%%", what, got, d)
	}
}

func TestWebhookRelayRetriesWithBackoffThenAbandons(t *testing.T) {
	for _, tc := range []struct {
		name        string
		base, most  time.Duration
		maxAttempts int
		delays      []time.Duration // before each retry; then it is given up
	}{
		{"doubling", time.Minute, time.Hour, 4, []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute}},
		{"capped at retry-max", time.Minute, 90 * time.Second, 4, []time.Duration{time.Minute, 90 * time.Second, 90 * time.Second}},
		{"one attempt only", time.Minute, time.Hour, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock(t0)
			st := newFakeDeliveries()
			st.add("down", "e1", t0)
			var mu sync.Mutex
			posts := 0
			post := func(context.Context, usher.Delivery) error {
				mu.Lock()
				defer mu.Unlock()
				posts++
				return errors.New("receiver answered 503")
			}
			postCount := func() int { mu.Lock(); defer mu.Unlock(); return posts }
			c := whConfig(clk, 2)
			c.MaxAttempts, c.RetryBase, c.RetryMax = tc.maxAttempts, tc.base, tc.most
			w, _ := startWebhookRelay(t, st, post, c)

			for i, d := range tc.delays {
				attempt := i + 1
				got := st.waitOutcome(t, "e1", attempt)
				if got.Op != "failed" || got.Abandon || got.Reason != "receiver answered 503" {
					t.Fatalf("attempt %d: recorded %+v, want failed (to retry) with the post's error", attempt, got)
				}
				wantBackoff(t, fmt.Sprintf("attempt %d", attempt), clk.Now(), got.Next, d)
				// Not a moment before it is due...
				clk.Set(got.Next.Add(-time.Millisecond))
				if claimed := st.waitIdleClaim(t, w); len(claimed) != 0 {
					t.Fatalf("before the retry is due: claimed %q, want nothing", claimed)
				}
				if n := postCount(); n != attempt {
					t.Fatalf("before the retry is due: %d posts, want %d", n, attempt)
				}
				// ...and at once when it is.
				clk.Set(got.Next)
				w.Notify()
			}
			last := st.waitOutcome(t, "e1", tc.maxAttempts)
			if last.Op != "failed" || !last.Abandon {
				t.Fatalf("attempt %d of %d: recorded %+v, want the delivery given up", tc.maxAttempts, tc.maxAttempts, last)
			}
			clk.Set(clk.Now().Add(48 * time.Hour))
			if claimed := st.waitIdleClaim(t, w); len(claimed) != 0 {
				t.Errorf("after giving up: claimed %q, want nothing", claimed)
			}
			if status, attempts := st.state("e1", "down"); status != "abandoned" || attempts != tc.maxAttempts {
				t.Errorf("delivery: got %s after %d attempts, want abandoned after %d", status, attempts, tc.maxAttempts)
			}
			if n := postCount(); n != tc.maxAttempts {
				t.Errorf("posts: got %d, want %d", n, tc.maxAttempts)
			}
		})
	}
}

func TestWebhookRelayErrPermanentAbandonsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		abandon bool
	}{
		{"wrapped ErrPermanent", fmt.Errorf("the event was pruned: %w", outbox.ErrPermanent), true},
		{"ErrPermanent", outbox.ErrPermanent, true},
		{"any other error", errors.New("connection refused"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock(t0)
			st := newFakeDeliveries()
			st.add("hook", "e1", t0)
			st.add("hook", "e2", t0)
			var e1Posts atomic.Int32
			post := func(_ context.Context, d usher.Delivery) error {
				if d.Event.ID == "e1" && e1Posts.Add(1) == 1 {
					return tc.err
				}
				return nil
			}
			w, _ := startWebhookRelay(t, st, post, whConfig(clk, 1)) // MaxAttempts 5
			got := st.waitOutcome(t, "e1", 1)
			if got.Op != "failed" || got.Abandon != tc.abandon || got.Reason != tc.err.Error() {
				t.Errorf("first attempt: recorded %+v, want failed with abandon %v and reason %q", got, tc.abandon, tc.err)
			}
			if tc.abandon {
				// Given up: the endpoint's next delivery goes on at once.
				if got := st.waitOutcome(t, "e2", 1); got.Op != "delivered" {
					t.Errorf("the endpoint's next delivery: recorded %+v, want delivered", got)
				}
				return
			}
			// To be retried: the endpoint waits for the retry, and its next
			// delivery goes after it.
			if claimed := st.waitIdleClaim(t, w); len(claimed) != 0 {
				t.Errorf("claimed %v while the endpoint waits for its retry; want none", claimed)
			}
			clk.Set(got.Next)
			w.Notify()
			if got := st.waitOutcome(t, "e1", 2); got.Op != "delivered" {
				t.Errorf("e1's retry: recorded %+v, want delivered", got)
			}
			if got := st.waitOutcome(t, "e2", 1); got.Op != "delivered" {
				t.Errorf("the endpoint's next delivery: recorded %+v, want delivered", got)
			}
			if h := st.history(); !deliveredBefore(h, "e1", "e2") {
				t.Errorf("e2 was delivered before e1's retry: %+v", h)
			}
		})
	}
}

func TestWebhookRelayShutdownHandsDeliveriesBack(t *testing.T) {
	clk := newClock(t0)
	st := newFakeDeliveries()
	for _, id := range []string{"a1", "a2", "a3"} {
		st.add("a", id, t0)
	}
	st.add("b", "b1", t0)
	log := newPostLog()
	aStarted, bStarted := make(chan struct{}), make(chan struct{})
	post := func(ctx context.Context, d usher.Delivery) error {
		log.begin(d)
		defer log.end(d)
		switch d.Event.ID {
		case "a1": // the request is cut short by the shutdown
			close(aStarted)
			<-ctx.Done()
			return ctx.Err()
		case "b1": // the receiver answered just as the shutdown began
			close(bStarted)
			<-ctx.Done()
			return nil
		}
		return nil
	}
	_, stop := startWebhookRelay(t, st, post, whConfig(clk, 4)) // one claim takes all four
	waitClosed(t, aStarted, "a1's post")
	waitClosed(t, bStarted, "b1's post")
	stopped := t0.Add(30 * time.Second)
	clk.Set(stopped)
	stop() // returns once Run has, after its workers

	if got, want := log.posted("a"), []string{"a1"}; !slices.Equal(got, want) {
		t.Errorf("endpoint a: posted %q, want %q: nothing is sent once the relay stops", got, want)
	}
	outcomes := map[string]storeCall{}
	for _, c := range st.history() {
		if c.Op != "claim" {
			if prev, dup := outcomes[c.EventID]; dup {
				t.Errorf("%s: recorded twice: %+v, then %+v", c.EventID, prev, c)
			}
			outcomes[c.EventID] = c
		}
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		got := outcomes[id]
		if got.Op != "failed" || got.Abandon || got.Reason != "interrupted by shutdown" || !got.Next.Equal(stopped) {
			t.Errorf("%s: recorded %+v, want handed back (failed, abandon false, due now)", id, got)
		}
	}
	if got := outcomes["b1"]; got.Op != "delivered" {
		t.Errorf("b1, answered as the relay stopped: recorded %+v, want delivered (not sent again)", got)
	}

	// The next relay (after a restart, or on another node) sends what was
	// handed back at once, in order, and not what was delivered.
	next := newPostLog()
	startWebhookRelay(t, st, func(_ context.Context, d usher.Delivery) error {
		next.begin(d)
		next.end(d)
		return nil
	}, whConfig(clk, 2))
	st.waitOutcome(t, "a3", 2)
	if got, want := next.posted("a"), []string{"a1", "a2", "a3"}; !slices.Equal(got, want) {
		t.Errorf("next relay, endpoint a: posted %q, want %q", got, want)
	}
	if got := next.posted("b"); len(got) != 0 {
		t.Errorf("next relay, endpoint b: posted %q, want nothing", got)
	}
}

func TestWebhookRelaySurvivesPanickingPost(t *testing.T) {
	clk := newClock(t0)
	st := newFakeDeliveries()
	st.add("p", "p1", t0)
	var mu sync.Mutex
	panicked := false
	post := func(_ context.Context, d usher.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		if d.Event.ID == "p1" && !panicked {
			panicked = true
			panic("nil map in the post")
		}
		return nil
	}
	w, _ := startWebhookRelay(t, st, post, whConfig(clk, 1))
	got := st.waitOutcome(t, "p1", 1)
	if got.Op != "failed" || got.Abandon || got.Reason != "delivery panicked" {
		t.Fatalf("panicking post: recorded %+v, want failed (to retry) with reason %q", got, "delivery panicked")
	}
	wantBackoff(t, "after the panic", t0, got.Next, time.Minute)

	// The relay lives on: another endpoint's delivery, then the retry.
	st.add("q", "q1", clk.Now())
	w.Notify()
	if got := st.waitOutcome(t, "q1", 1); got.Op != "delivered" {
		t.Errorf("q1 after the panic: recorded %+v, want delivered", got)
	}
	clk.Set(got.Next)
	w.Notify()
	if got := st.waitOutcome(t, "p1", 2); got.Op != "delivered" {
		t.Errorf("p1's retry: recorded %+v, want delivered", got)
	}
}

// deliveredBefore reports whether a was recorded delivered before b.
func deliveredBefore(h []storeCall, a, b string) bool {
	for _, c := range h {
		if c.Op == "delivered" {
			switch c.EventID {
			case a:
				return true
			case b:
				return false
			}
		}
	}
	return false
}
