package outbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

func TestRelayHandsBackOnShutdown(t *testing.T) {
	stopped := t0.Add(30 * time.Second) // the time when the relay is stopped
	for _, tc := range []struct {
		name    string
		result  error  // what delivery returns once the context ended
		outcome string // what the relay records
		want    func(m usher.Message) row
	}{
		{"undelivered message handed back", context.Canceled, "failed", func(m usher.Message) row {
			return row{Status: "pending", Params: m.Params, LastError: "interrupted by shutdown", Attempts: 1,
				NextAttemptAt: stopped.UnixMilli()} // claimed_until 0: the lease is given up
		}},
		{"message delivered as the context ended recorded as sent", nil, "sent", func(usher.Message) row {
			return row{Status: "sent", Attempts: 1, NextAttemptAt: t0.UnixMilli(), SentAt: stopped.UnixMilli()}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			obs := observe(st)
			clk := newClock(t0)
			m := newMessage(1)
			enqueue(t, st, m, t0)
			inFlight := make(chan struct{})
			var once sync.Once
			_, stop := start(t, obs, func(ctx context.Context, _ usher.Message) error {
				once.Do(func() { close(inFlight) })
				<-ctx.Done()
				return tc.result
			}, quiet, config(clk))

			recv(t, inFlight, "the delivery to start")
			clk.Set(stopped)
			stop()
			wantMark(t, obs, tc.outcome, m.ID)
			want := tc.want(m)
			if want.Status == "sent" {
				wantRow(t, st, "after shutdown", m.ID, want, ignoreLease)
				return
			}
			wantRow(t, st, "after shutdown", m.ID, want)

			// Another relay, at the same moment, sends it without waiting for
			// the first one's lease to lapse.
			var n tally
			start(t, obs, failing(&n, ""), quiet, config(newClock(stopped)))
			wantMark(t, obs, "sent", m.ID)
			wantRow(t, st, "after the second relay", m.ID, row{
				Status: "sent", Attempts: 2, NextAttemptAt: stopped.UnixMilli(), SentAt: stopped.UnixMilli(),
			}, ignoreLease)
		})
	}
}

// A shutdown in the middle of a claimed batch: the message delivered
// before it is recorded as sent (the record waits for the batch, and does
// not end with the relay's context), the one interrupted and those never
// tried are handed back, and nothing is delivered once the relay stopped.
func TestRelayDeliversNothingOnceStopped(t *testing.T) {
	st := openStore(t)
	obs := observe(st)
	clk := newClock(t0)
	done, interrupted, rest := newMessage(1), newMessage(2), []usher.Message{newMessage(3), newMessage(4)}
	for _, m := range append([]usher.Message{done, interrupted}, rest...) {
		enqueue(t, st, m, t0)
	}
	inFlight := make(chan struct{})
	var n tally
	_, stop := start(t, obs, func(ctx context.Context, m usher.Message) error {
		n.add(m.ID)
		if m.ID == interrupted.ID {
			close(inFlight)
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}, quiet, config(clk))

	recv(t, inFlight, "the second delivery to start")
	stopped := t0.Add(30 * time.Second)
	clk.Set(stopped)
	stop()
	wantRow(t, st, "the message delivered before the shutdown", done.ID,
		row{Status: "sent", Attempts: 1, NextAttemptAt: t0.UnixMilli(), SentAt: stopped.UnixMilli()}, ignoreLease)
	wantRow(t, st, "the message interrupted", interrupted.ID, row{Status: "pending", Params: interrupted.Params,
		LastError: "interrupted by shutdown", Attempts: 1, NextAttemptAt: stopped.UnixMilli()})
	for _, m := range rest {
		if got := n.get(m.ID); got != 0 {
			t.Errorf("message %s, claimed in the same batch, was delivered %d times after the relay stopped", m.ID, got)
		}
		wantRow(t, st, "a message of the batch after shutdown", m.ID, row{Status: "pending", Params: m.Params,
			LastError: "interrupted by shutdown", Attempts: 1, NextAttemptAt: stopped.UnixMilli()})
	}
}
