package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/outbox"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/store/sqlite"
	"github.com/usherhq/usher/internal/usher"
)

// These tests run the relay on a real SQLite store and script only the
// delivery, the edge of the system. Relays poll once an hour, so they look
// at the outbox only when started or notified, and time is an injected
// clock: nothing waits on the wall clock but the failure guards and the
// two tests of the relay's own timers (Gather, markEvery).

// t0 is the tests' starting time, on a whole millisecond as the store keeps times.
var t0 = time.Date(2030, time.March, 4, 5, 6, 7, 0, time.UTC)

// guard bounds every wait, so that a broken relay fails a test, not hangs it.
const guard = 10 * time.Second

var quiet = slog.New(slog.DiscardHandler)

// clock is an injected time that the test moves, read by the relay's goroutine.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := new(clock)
	c.Set(t)
	return c
}

func (c *clock) Now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

func config(clk *clock) outbox.Config {
	return outbox.Config{
		MaxAttempts: 5, RetryBase: time.Minute, RetryMax: time.Hour,
		PollInterval: time.Hour, SendTimeout: time.Minute, Now: clk.Now,
	}
}

// openStore opens a store on a new SQLite file, with the default tenant.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "usher.db")
	accounttest.MigratedSQLite(t, path)
	st, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	_, err = st.EnsureTenant(t.Context(), usher.Tenant{
		ID: usher.DefaultTenantID, Name: "default", PublicKey: "pk_test_default", CreatedAt: t0,
	})
	if err != nil {
		t.Fatalf("EnsureTenant: %v", err)
	}
	return st
}

func newMessage(i int) usher.Message {
	return usher.Message{
		ID: usher.NewID(t0), TenantID: usher.DefaultTenantID, Kind: usher.MailReset,
		To: fmt.Sprintf("user%d@example.com", i), Params: fmt.Sprintf("sealed-params-%d", i),
	}
}

// enqueue queues m, due at now. Every test queues through here.
func enqueue(t *testing.T, st *store.Store, m usher.Message, now time.Time) {
	t.Helper()
	err := st.Update(t.Context(), func(ctx context.Context, tx account.Tx) error { return tx.Enqueue(ctx, m, now) })
	if err != nil {
		t.Fatalf("Enqueue %s: %v", m.ID, err)
	}
}

// row is one outbox row; times are Unix milliseconds, 0 for none.
type row struct {
	Status, Params, LastError           string
	Attempts                            int
	NextAttemptAt, ClaimedUntil, SentAt int64
}

// readRow reads message id's row. Every test reads the outbox through here.
func readRow(t *testing.T, st *store.Store, id string) row {
	t.Helper()
	var r row
	err := st.DB().QueryRowContext(t.Context(), `SELECT status, params, last_error, attempts,
		next_attempt_at, claimed_until, sent_at FROM outbox WHERE id = $1`, st.IDArg(id)).
		Scan(&r.Status, &r.Params, &r.LastError, &r.Attempts, &r.NextAttemptAt, &r.ClaimedUntil, &r.SentAt)
	if err != nil {
		t.Fatalf("reading outbox row %s: %v", id, err)
	}
	return r
}

// wantRow checks message id's row, and returns it.
func wantRow(t *testing.T, st *store.Store, what, id string, want row, opts ...cmp.Option) row {
	t.Helper()
	got := readRow(t, st, id)
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s: outbox row (-want +got):\n%s", what, d)
	}
	return got
}

// A sent row keeps the lease it was claimed with, whose length is the
// relay's business; a retry's time is checked against a band instead.
var (
	ignoreLease = cmpopts.IgnoreFields(row{}, "ClaimedUntil")
	ignoreNext  = cmpopts.IgnoreFields(row{}, "NextAttemptAt")
)

// observed is the real store, reporting what the relay records, so that a
// test waits for the relay instead of polling the table or sleeping.
type observed struct {
	*store.Store
	claims chan int // how many messages each Claim returned
	marks  chan mark
	sent   chan int // how many messages each MarkSent recorded
}

// mark is one outcome the relay recorded: "sent", "failed" or "abandoned".
type mark struct {
	Outcome, ID string
	Err         error
}

func observe(st *store.Store) *observed {
	return &observed{Store: st, claims: make(chan int, 1024), marks: make(chan mark, 1024), sent: make(chan int, 1024)}
}

func (o *observed) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]usher.Message, error) {
	msgs, err := o.Store.Claim(ctx, now, lease, limit)
	o.claims <- len(msgs)
	return msgs, err
}

func (o *observed) MarkSent(ctx context.Context, now time.Time, ids ...string) error {
	err := o.Store.MarkSent(ctx, now, ids...)
	o.sent <- len(ids)
	for _, id := range ids {
		o.marks <- mark{"sent", id, err}
	}
	return err
}

func (o *observed) MarkFailed(ctx context.Context, id string, next time.Time, reason string, abandon bool) error {
	err := o.Store.MarkFailed(ctx, id, next, reason, abandon)
	o.marks <- mark{map[bool]string{false: "failed", true: "abandoned"}[abandon], id, err}
	return err
}

// recv waits for the next value on ch.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatalf("timed out after %v waiting for %s", guard, what)
		var zero T
		return zero
	}
}

// wantMark waits for the relay to record an outcome and checks it.
func wantMark(t *testing.T, o *observed, outcome, id string) {
	t.Helper()
	got := recv(t, o.marks, outcome+" "+id)
	if got.Err != nil {
		t.Fatalf("store failed to record %s %s: %v", got.Outcome, got.ID, got.Err)
	}
	if want := (mark{Outcome: outcome, ID: id}); got != want {
		t.Fatalf("recorded outcome: got %s %s, want %s %s", got.Outcome, got.ID, want.Outcome, want.ID)
	}
}

// start runs a relay until the returned stop is called or the test ends.
// stop cancels Run's context and waits for Run to return.
func start(t *testing.T, st outbox.Store, deliver outbox.Deliver, log *slog.Logger, c outbox.Config) (*outbox.Relay, func()) {
	t.Helper()
	r := outbox.New(st, deliver, log, c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stop := sync.OnceFunc(func() {
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
	t.Cleanup(stop)
	return r, stop
}

// tally counts deliveries per message.
type tally struct{ n sync.Map } // id → *atomic.Int64

func (c *tally) add(id string) {
	v, _ := c.n.LoadOrStore(id, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (c *tally) get(id string) int {
	if v, ok := c.n.Load(id); ok {
		return int(v.(*atomic.Int64).Load())
	}
	return 0
}

// failing delivers every message but those in doomed, which fail with reason.
func failing(n *tally, reason string, doomed ...string) outbox.Deliver {
	return func(_ context.Context, m usher.Message) error {
		n.add(m.ID)
		for _, id := range doomed {
			if m.ID == id {
				return errors.New(reason)
			}
		}
		return nil
	}
}

// wantDelay checks that a retry at next, decided at now, lies within 10% of d.
func wantDelay(t *testing.T, what string, now time.Time, next int64, d time.Duration) {
	t.Helper()
	got := time.UnixMilli(next).Sub(now)
	if lo, hi := d-d/10, d+d/10; got < lo || got > hi {
		t.Errorf("%s: retry after %v, want within [%v, %v]", what, got, lo, hi)
	}
}

func TestRelaySendsDueMessage(t *testing.T) {
	st := openStore(t)
	obs := observe(st)
	now := t0.Add(5 * time.Second)
	due, notYet := newMessage(1), newMessage(2)
	enqueue(t, st, due, t0)
	enqueue(t, st, notYet, now.Add(time.Millisecond))
	var n tally
	delivered := make(chan usher.Message, 10)
	r, stop := start(t, obs, func(_ context.Context, m usher.Message) error {
		n.add(m.ID)
		delivered <- m
		return nil
	}, quiet, config(newClock(now)))

	want := due
	want.Attempts = 1
	if d := cmp.Diff(want, recv(t, delivered, "the due message")); d != "" {
		t.Errorf("delivered message (-want +got):\n%s", d)
	}
	wantMark(t, obs, "sent", due.ID)
	// A second look at the outbox, which another due message proves took
	// place, must not send the first one again.
	another := newMessage(3)
	enqueue(t, st, another, t0)
	r.Notify()
	wantMark(t, obs, "sent", another.ID)
	stop()

	for m, want := range map[usher.Message]int{due: 1, notYet: 0, another: 1} {
		if got := n.get(m.ID); got != want {
			t.Errorf("deliveries of %s: got %d, want %d", m.To, got, want)
		}
	}
	wantRow(t, st, "sent message", due.ID,
		row{Status: "sent", Attempts: 1, NextAttemptAt: t0.UnixMilli(), SentAt: now.UnixMilli()}, ignoreLease)
	wantRow(t, st, "message not yet due", notYet.ID,
		row{Status: "pending", Params: notYet.Params, NextAttemptAt: now.Add(time.Millisecond).UnixMilli()})
}

func TestRelayBackoff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		base, max time.Duration
		delays    []time.Duration // the retry delay after each failed attempt, before jitter
	}{
		{"doubles up to the cap", time.Minute, 10 * time.Minute,
			[]time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}},
		{"cap between doublings", 3 * time.Minute, 20 * time.Minute,
			[]time.Duration{3 * time.Minute, 6 * time.Minute, 12 * time.Minute, 20 * time.Minute, 20 * time.Minute}},
		{"cap below the base", time.Hour, 10 * time.Minute,
			[]time.Duration{10 * time.Minute, 10 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			obs := observe(st)
			clk := newClock(t0)
			m := newMessage(1)
			enqueue(t, st, m, t0)
			c := config(clk)
			c.MaxAttempts, c.RetryBase, c.RetryMax = 100, tc.base, tc.max
			var n tally
			r, _ := start(t, obs, failing(&n, "451 try later", m.ID), quiet, c)

			now := t0
			for i, d := range tc.delays {
				attempt := i + 1
				wantMark(t, obs, "failed", m.ID)
				got := wantRow(t, st, fmt.Sprintf("after attempt %d", attempt), m.ID, row{
					Status: "pending", Params: m.Params, LastError: "451 try later", Attempts: attempt,
				}, ignoreNext)
				wantDelay(t, fmt.Sprintf("attempt %d", attempt), now, got.NextAttemptAt, d)
				now = time.UnixMilli(got.NextAttemptAt).UTC() // retry exactly when due
				clk.Set(now)
				r.Notify()
			}
		})
	}
}

// Relays on several nodes must not retry in step: messages that failed at
// the same moment are retried at spread times.
func TestRelayBackoffJitter(t *testing.T) {
	st := openStore(t)
	obs := observe(st)
	var ids []string
	for i := range 20 {
		m := newMessage(i)
		enqueue(t, st, m, t0)
		ids = append(ids, m.ID)
	}
	var n tally
	start(t, obs, failing(&n, "451 try later", ids...), quiet, config(newClock(t0)))

	seen := map[string]bool{}
	for range ids {
		got := recv(t, obs.marks, "a failed attempt")
		if got.Outcome != "failed" || got.Err != nil || seen[got.ID] {
			t.Fatalf("recorded outcome: got %s %s (store error %v), want failed on a message not yet failed", got.Outcome, got.ID, got.Err)
		}
		seen[got.ID] = true
	}
	retries := map[int64]bool{}
	for _, id := range ids {
		next := readRow(t, st, id).NextAttemptAt
		wantDelay(t, "first retry of "+id, t0, next, time.Minute)
		retries[next] = true
	}
	if len(retries) < 2 {
		t.Errorf("20 messages that failed together: got %d distinct retry times, want them spread", len(retries))
	}
}

func TestRelayAbandons(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxAttempts int
		reason      string
		wantError   string
	}{
		{"short reason", 3, "550 mailbox unavailable", "550 mailbox unavailable"},
		{"one attempt allowed", 1, "550 mailbox unavailable", "550 mailbox unavailable"},
		{"500 bytes kept whole", 2, strings.Repeat("a", 500), strings.Repeat("a", 500)},
		{"long ASCII cut at 500 bytes", 2, strings.Repeat("a", 600), strings.Repeat("a", 500)},
		{"three-byte characters cut before the one split at 500", 2,
			strings.Repeat("€", 200), strings.Repeat("€", 166)}, // 498 bytes
		{"four-byte characters cut before the one split at 500", 2,
			"x" + strings.Repeat("😀", 150), "x" + strings.Repeat("😀", 124)}, // 497 bytes
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			obs := observe(st)
			clk := newClock(t0)
			m := newMessage(1)
			enqueue(t, st, m, t0)
			c := config(clk)
			c.MaxAttempts = tc.maxAttempts
			var n tally
			r, stop := start(t, obs, failing(&n, tc.reason, m.ID), quiet, c)

			for attempt := 1; attempt < tc.maxAttempts; attempt++ {
				wantMark(t, obs, "failed", m.ID)
				got := wantRow(t, st, fmt.Sprintf("after attempt %d", attempt), m.ID, row{
					Status: "pending", Params: m.Params, LastError: tc.wantError, Attempts: attempt,
				}, ignoreNext)
				clk.Set(time.UnixMilli(got.NextAttemptAt))
				r.Notify()
			}
			wantMark(t, obs, "abandoned", m.ID)
			got := wantRow(t, st, "abandoned message", m.ID, row{
				Status: "abandoned", LastError: tc.wantError, Attempts: tc.maxAttempts,
			}, ignoreNext)
			if len(got.LastError) > 500 || !utf8.ValidString(got.LastError) {
				t.Errorf("last_error: got %d bytes, valid UTF-8 %t; want at most 500 bytes of valid UTF-8",
					len(got.LastError), utf8.ValidString(got.LastError))
			}

			// A year on, another look at the outbox (proved by a new
			// message going out) leaves the abandoned one alone.
			later := t0.AddDate(1, 0, 0)
			clk.Set(later)
			another := newMessage(2)
			enqueue(t, st, another, later)
			r.Notify()
			wantMark(t, obs, "sent", another.ID)
			stop()
			if got := n.get(m.ID); got != tc.maxAttempts {
				t.Errorf("deliveries of the abandoned message: got %d, want %d", got, tc.maxAttempts)
			}
			wantRow(t, st, "abandoned message a year on", m.ID, got)
		})
	}
}

func TestRelaySurvivesPanickingDelivery(t *testing.T) {
	st := openStore(t)
	obs := observe(st)
	clk := newClock(t0)
	bomb, next := newMessage(1), newMessage(2)
	enqueue(t, st, bomb, t0.Add(-time.Millisecond)) // claimed first
	enqueue(t, st, next, t0)
	var n tally
	var logs bytes.Buffer // written by the relay; read once it stopped
	r, stop := start(t, obs, func(_ context.Context, m usher.Message) error {
		n.add(m.ID)
		if m.ID == bomb.ID && n.get(m.ID) == 1 {
			panic("template exploded")
		}
		return nil
	}, slog.New(slog.NewTextHandler(&logs, nil)), config(clk))

	wantMark(t, obs, "failed", bomb.ID)
	wantMark(t, obs, "sent", next.ID)
	got := wantRow(t, st, "message whose delivery panicked", bomb.ID, row{
		Status: "pending", Params: bomb.Params, LastError: "delivery panicked", Attempts: 1,
	}, ignoreNext)
	wantDelay(t, "retry after the panic", t0, got.NextAttemptAt, time.Minute)

	retry := time.UnixMilli(got.NextAttemptAt)
	clk.Set(retry)
	r.Notify()
	wantMark(t, obs, "sent", bomb.ID)
	stop()
	wantRow(t, st, "message retried after the panic", bomb.ID, row{
		Status: "sent", Attempts: 2, NextAttemptAt: retry.UnixMilli(), SentAt: retry.UnixMilli(),
	}, ignoreLease)
	if got := n.get(next.ID); got != 1 {
		t.Errorf("deliveries of the message after the panic: got %d, want 1", got)
	}
	if !strings.Contains(logs.String(), "event=panic") {
		t.Errorf("log: got no event=panic line, want the panic logged; log:\n%s", logs.String())
	}
}

func TestRelayNotifyWakesIdleRelay(t *testing.T) {
	st := openStore(t)
	obs := observe(st)
	delivered := make(chan string, 1)
	r, _ := start(t, obs, func(_ context.Context, m usher.Message) error {
		delivered <- m.ID
		return nil
	}, quiet, config(newClock(t0))) // polls once an hour

	// The first look finds nothing; the next poll is an hour away.
	if got := recv(t, obs.claims, "the first look at the outbox"); got != 0 {
		t.Fatalf("first Claim: got %d messages, want 0", got)
	}
	m := newMessage(1)
	enqueue(t, st, m, t0)
	r.Notify()
	if got := recv(t, delivered, "the delivery Notify should prompt"); got != m.ID {
		t.Errorf("delivered: got %s, want %s", got, m.ID)
	}
	wantMark(t, obs, "sent", m.ID)
}

// Messages queued close together, each with its Notify, go out in one
// claim when the relay gathers; the delivered ones are recorded sent in
// one write, and a failure among them only for itself. This test waits on
// the wall clock: Gather is a real timer.
func TestRelayGathersAndMarksABatchOnce(t *testing.T) {
	st := openStore(t)
	obs := observe(st)
	c := config(newClock(t0))
	c.Gather = 2 * time.Second
	var n tally
	msgs := []usher.Message{newMessage(1), newMessage(2), newMessage(3), newMessage(4)}
	doomed := msgs[2]
	r, _ := start(t, obs, failing(&n, "451 try again later", doomed.ID), quiet, c)
	if got := recv(t, obs.claims, "the first look at the outbox"); got != 0 {
		t.Fatalf("first Claim: got %d messages, want 0", got)
	}
	// Four inserts take milliseconds; the relay looks 2 s after the first
	// Notify.
	for _, m := range msgs {
		enqueue(t, st, m, t0)
		r.Notify()
	}
	if got := recv(t, obs.claims, "the gathered claim"); got != len(msgs) {
		t.Fatalf("the claim after the Notifies: got %d messages, want all %d", got, len(msgs))
	}
	if failed := recv(t, obs.marks, "the failure's record"); failed.Outcome != "failed" || failed.ID != doomed.ID || failed.Err != nil {
		t.Fatalf("first record: got %s %s (store error %v), want failed %s", failed.Outcome, failed.ID, failed.Err, doomed.ID)
	}
	if got := recv(t, obs.sent, "the batch's MarkSent"); got != len(msgs)-1 {
		t.Fatalf("MarkSent recorded %d messages at once, want the %d delivered", got, len(msgs)-1)
	}
	for _, m := range msgs {
		want := row{Status: "sent", Attempts: 1, NextAttemptAt: t0.UnixMilli(), SentAt: t0.UnixMilli()}
		if m.ID == doomed.ID {
			want = row{Status: "pending", Params: m.Params, Attempts: 1, LastError: "451 try again later"}
			wantRow(t, st, "the failed message", m.ID, want, ignoreNext)
			continue
		}
		wantRow(t, st, "a delivered message", m.ID, want, ignoreLease)
	}
}

// A delivered message does not wait for a slow batch to end to be recorded
// sent: once it has waited a second, the record is written before the
// next send. (This test waits a second on the wall clock.)
func TestRelayMarksSentWithinASecond(t *testing.T) {
	st := openStore(t)
	obs := observe(st)
	msgs := []usher.Message{newMessage(1), newMessage(2), newMessage(3)}
	for _, m := range msgs {
		enqueue(t, st, m, t0)
	}
	var firstSentBeforeLast atomic.Bool
	start(t, obs, func(_ context.Context, m usher.Message) error {
		switch m.ID {
		case msgs[1].ID:
			time.Sleep(1100 * time.Millisecond) // a slow SMTP server
		case msgs[2].ID:
			var status string // read here without t: this is the relay's goroutine
			err := st.DB().QueryRow(`SELECT status FROM outbox WHERE id = $1`, st.IDArg(msgs[0].ID)).Scan(&status)
			firstSentBeforeLast.Store(err == nil && status == "sent")
		}
		return nil
	}, quiet, config(newClock(t0)))
	if got := recv(t, obs.sent, "the first MarkSent"); got != 2 {
		t.Errorf("first MarkSent recorded %d messages, want the 2 delivered before the slow one ended", got)
	}
	if got := recv(t, obs.sent, "the second MarkSent"); got != 1 {
		t.Errorf("second MarkSent recorded %d messages, want the last 1", got)
	}
	if !firstSentBeforeLast.Load() {
		t.Error("the first message was not recorded sent before the last one went out")
	}
}

func TestTwoRelaysDeliverEachMessageOnce(t *testing.T) {
	st := openStore(t)
	obs := observe(st)
	var ids []string
	for i := range 50 {
		m := newMessage(i)
		enqueue(t, st, m, t0)
		ids = append(ids, m.ID)
	}
	// Each relay's first delivery waits until the other relay is delivering
	// too, so both hold claimed messages at once: a relay claims at most 16
	// of the 50, so the other always finds some.
	var n tally
	var perRelay [2]atomic.Int64
	started := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var once [2]sync.Once
	deliver := func(i int) outbox.Deliver {
		return func(ctx context.Context, m usher.Message) error {
			once[i].Do(func() { close(started[i]) })
			for _, c := range started {
				select {
				case <-c:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			n.add(m.ID)
			perRelay[i].Add(1)
			return nil
		}
	}
	clk := newClock(t0)
	start(t, obs, deliver(0), quiet, config(clk))
	start(t, obs, deliver(1), quiet, config(clk))

	for range ids {
		if got := recv(t, obs.marks, "a sent message"); got.Outcome != "sent" || got.Err != nil {
			t.Fatalf("recorded outcome: got %s %s (store error %v), want sent", got.Outcome, got.ID, got.Err)
		}
	}
	for _, id := range ids {
		if got := n.get(id); got != 1 {
			t.Errorf("deliveries of %s: got %d, want 1", id, got)
		}
		if got := readRow(t, st, id).Status; got != "sent" {
			t.Errorf("status of %s: got %q, want sent", id, got)
		}
	}
	for i := range perRelay {
		if got := perRelay[i].Load(); got == 0 {
			t.Errorf("relay %d: got no delivery, want a share of the 50", i)
		}
	}
}
