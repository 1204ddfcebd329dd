// Package outbox relays queued email: it claims due messages from the
// store, sends them, retries failures with exponential backoff, and records
// each message as sent or abandoned. A restart loses nothing, because the
// queue is the database.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// Store is the outbox's view of the database.
type Store interface {
	// Claim leases up to limit due messages until now+lease.
	Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]usher.Message, error)
	// MarkSent records the messages ids as sent, in one write.
	MarkSent(ctx context.Context, now time.Time, ids ...string) error
	MarkFailed(ctx context.Context, id string, next time.Time, reason string, abandon bool) error
}

// Deliver sends one message; it opens and renders the message itself.
type Deliver func(ctx context.Context, m usher.Message) error

// Config tunes a Relay.
type Config struct {
	MaxAttempts  int           // give up after this many attempts
	RetryBase    time.Duration // first retry delay; doubles each attempt
	RetryMax     time.Duration // longest retry delay
	PollInterval time.Duration // how often to look for due messages
	// Gather is how long the relay waits after Notify before it looks, so
	// that messages queued close together share one claim and one record
	// of their sending: under a burst of sign-ups, two commits per batch
	// of emails rather than two per email. Zero: it looks at once. (Relay
	// only: a WebhookRelay looks at once.)
	Gather      time.Duration
	SendTimeout time.Duration // one send attempt's limit
	Now         func() time.Time
}

// Relay sends the outbox.
type Relay struct {
	c       Config
	store   Store
	deliver Deliver
	log     *slog.Logger
	wake    chan struct{}
}

// New returns a Relay.
func New(store Store, deliver Deliver, log *slog.Logger, c Config) *Relay {
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Relay{c: c, store: store, deliver: deliver, log: log, wake: make(chan struct{}, 1)}
}

// Notify wakes the relay to look for messages now rather than at the next
// poll. It never blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run sends due messages until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	t := time.NewTicker(r.c.PollInterval)
	defer t.Stop()
	for {
		r.drain(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.wake:
			if r.c.Gather > 0 {
				gather := time.NewTimer(r.c.Gather)
				select {
				case <-ctx.Done():
					gather.Stop()
					return nil
				case <-gather.C:
				}
			}
		}
	}
}

const batch = 16

// markEvery bounds how long a delivered message waits, in the claim being
// sent, for the record that it was sent: a crash before that record sends
// it again.
const markEvery = time.Second

// drain sends due messages until none is left or ctx ends. The messages
// of a claim that were delivered are recorded as sent together, after the
// last of them, or sooner once the first has waited markEvery (a failure
// is recorded at once): a crash in between sends them again, as one
// during a send would.
func (r *Relay) drain(ctx context.Context) {
	for ctx.Err() == nil {
		lease := r.c.SendTimeout*batch + time.Minute
		msgs, err := r.store.Claim(ctx, r.c.Now(), lease, batch)
		if err != nil {
			if ctx.Err() == nil {
				r.log.WarnContext(ctx, "outbox claim failed", "event", "outbox_claim_failed", "error", err)
			}
			return
		}
		var sent []string
		var oldest time.Time // when sent[0] was delivered
		for i, m := range msgs {
			if ctx.Err() != nil {
				r.handBack(msgs[i:]) // undelivered: never send with a dead context
				break
			}
			if len(sent) > 0 && time.Since(oldest) >= markEvery {
				r.markSent(ctx, sent)
				sent = sent[:0]
			}
			if r.send(ctx, m) {
				if len(sent) == 0 {
					oldest = time.Now()
				}
				sent = append(sent, m.ID)
			}
		}
		r.markSent(ctx, sent)
		if len(msgs) < batch {
			return
		}
	}
}

// send delivers m and reports whether it was delivered; a failure it
// records (to retry, or abandoned), and on shutdown it hands m back.
func (r *Relay) send(ctx context.Context, m usher.Message) bool {
	sctx, cancel := context.WithTimeout(ctx, r.c.SendTimeout)
	err := r.safeDeliver(sctx, m)
	cancel()
	if ctx.Err() != nil {
		// Shutting down: a delivered message is recorded as sent (by
		// markSent), and an undelivered one is handed back at once rather
		// than left leased, so the next relay (here after a restart, or on
		// another node) sends it without waiting for the lease to lapse.
		if err != nil {
			r.handBack([]usher.Message{m})
			return false
		}
		return true
	}
	log := r.log.With("message_id", m.ID, "kind", m.Kind, "attempt", m.Attempts)
	if err == nil {
		log.InfoContext(ctx, "email sent", "event", "email_sent")
		return true
	}
	now := r.c.Now()
	abandon := m.Attempts >= r.c.MaxAttempts
	next := now.Add(r.backoff(m.Attempts))
	if merr := r.store.MarkFailed(ctx, m.ID, next, err.Error(), abandon); merr != nil {
		log.WarnContext(ctx, "outbox mark failed failed", "event", "outbox_mark_failed", "error", merr)
	}
	if abandon {
		log.ErrorContext(ctx, "email abandoned", "event", "email_abandoned", "error", err)
		return false
	}
	log.WarnContext(ctx, "email send failed; will retry", "event", "email_retry", "error", err, "next_attempt", next)
	return false
}

// markSent records the delivered messages ids as sent. It does not end
// with ctx: a shutdown that began during the statement would otherwise
// leave delivered messages to be sent again.
func (r *Relay) markSent(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.store.MarkSent(mctx, r.c.Now(), ids...); err != nil {
		r.log.WarnContext(ctx, "outbox mark sent failed", "event", "outbox_mark_failed", "message_ids", ids, "error", err)
	}
}

// handBack returns claimed messages to the queue at once, on shutdown,
// rather than leave them leased: the next relay (here after a restart, or
// on another node) sends them without waiting for the lease to lapse.
func (r *Relay) handBack(msgs []usher.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, m := range msgs {
		_ = r.store.MarkFailed(ctx, m.ID, r.c.Now(), "interrupted by shutdown", false)
	}
}

// safeDeliver turns a panic in delivery into an error.
func (r *Relay) safeDeliver(ctx context.Context, m usher.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.ErrorContext(ctx, "outbox delivery panicked", "event", "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = errors.New("delivery panicked")
		}
	}()
	return r.deliver(ctx, m)
}

// backoff is RetryBase × 2^(attempt-1), capped at RetryMax, with ±10% jitter
// so that relays on several nodes do not retry in step.
func (r *Relay) backoff(attempt int) time.Duration {
	d := r.c.RetryBase
	for i := 1; i < attempt && d < r.c.RetryMax; i++ {
		d *= 2
	}
	d = min(d, r.c.RetryMax)
	jitter := time.Duration(rand.Int64N(int64(d)/5 + 1))
	return d - d/10 + jitter
}
