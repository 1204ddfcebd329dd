package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// DeliveryStore is the webhook relay's view of the database.
type DeliveryStore interface {
	// ClaimDeliveries leases up to limit due deliveries until now+lease,
	// none of an endpoint that has one in flight.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]usher.Delivery, error)
	MarkDelivered(ctx context.Context, eventID, endpointID string, now time.Time) error
	MarkDeliveryFailed(ctx context.Context, eventID, endpointID string, next time.Time, reason string, abandon bool) error
	// ReleaseDelivery hands a claimed delivery back unsent, due at next,
	// its claim's attempt not counted.
	ReleaseDelivery(ctx context.Context, eventID, endpointID string, next time.Time) error
}

// Post sends one delivery.
type Post func(ctx context.Context, d usher.Delivery) error

// ErrPermanent marks a delivery error that no retry can mend (the event
// was pruned before it was sent): the delivery is given up at once.
var ErrPermanent = errors.New("permanent failure")

// WebhookConfig tunes a WebhookRelay.
type WebhookConfig struct {
	Workers int // requests in flight at once
	Config      // attempts, backoff, poll interval, per-request timeout, clock
}

// WebhookRelay delivers webhook events. Deliveries of one endpoint go one
// after the other, on one worker; endpoints go in parallel on up to
// Workers workers. The store gives no relay (on any node) an endpoint that
// has a delivery in flight, so a slow or dead endpoint ties up one worker
// at most, never the others' deliveries, and never email, which has a
// relay of its own.
type WebhookRelay struct {
	r     Relay // backoff and the shared settings
	store DeliveryStore
	post  Post
	log   *slog.Logger
	wake  chan struct{}
	done  chan struct{}
}

// NewWebhookRelay returns a WebhookRelay.
func NewWebhookRelay(store DeliveryStore, post Post, log *slog.Logger, c WebhookConfig) *WebhookRelay {
	if c.Now == nil {
		c.Now = time.Now
	}
	return &WebhookRelay{
		r: Relay{c: c.Config}, store: store, post: post, log: log,
		wake: make(chan struct{}, 1), done: make(chan struct{}, c.Workers),
	}
}

// Notify wakes the relay to look for deliveries now. It never blocks.
func (w *WebhookRelay) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// workers is how many deliveries a relay sends at once.
func (w *WebhookRelay) workers() int { return cap(w.done) }

// Run delivers until ctx ends; the requests in flight then end too, and
// their deliveries are handed back.
func (w *WebhookRelay) Run(ctx context.Context) error {
	t := time.NewTicker(w.r.c.PollInterval)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	busy := 0
	for {
		for busy < w.workers() && ctx.Err() == nil {
			free := w.workers() - busy
			// A worker sends its endpoint's deliveries one after another:
			// the lease covers them all, and a relay that died mid-send
			// gives them up soon after.
			lease := w.r.c.SendTimeout*time.Duration(free+1) + 5*time.Second
			ds, err := w.store.ClaimDeliveries(ctx, w.r.c.Now(), lease, free)
			if err != nil {
				if ctx.Err() == nil {
					w.log.WarnContext(ctx, "webhook claim failed", "event", "webhook_claim_failed", "error", err)
				}
				break
			}
			for _, group := range byEndpoint(ds) {
				busy++
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i, d := range group {
						if ctx.Err() != nil {
							w.handBack(group[i:])
							break
						}
						if next, failed := w.send(ctx, d); failed {
							// The endpoint is failing: the rest wait for its
							// retry, neither spending attempts nor a worker
							// on it meanwhile, and go after it.
							w.release(group[i+1:], next)
							break
						}
					}
					w.done <- struct{}{}
				}()
			}
			if len(ds) < free {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.done:
			busy--
		case <-t.C:
		case <-w.wake:
		}
	}
}

// byEndpoint groups deliveries by endpoint, keeping their order.
func byEndpoint(ds []usher.Delivery) [][]usher.Delivery {
	index := map[string]int{}
	var groups [][]usher.Delivery
	for _, d := range ds {
		i, ok := index[d.Endpoint.ID]
		if !ok {
			i = len(groups)
			index[d.Endpoint.ID] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], d)
	}
	return groups
}

// send posts one delivery and records the outcome; failed reports a
// failure that will be retried, at next.
func (w *WebhookRelay) send(ctx context.Context, d usher.Delivery) (next time.Time, failed bool) {
	sctx, cancel := context.WithTimeout(ctx, w.r.c.SendTimeout)
	err := w.safePost(sctx, d)
	cancel()
	log := w.log.With("event_id", d.Event.ID, "webhook_id", d.Endpoint.ID, "attempt", d.Attempts)
	if ctx.Err() != nil && err != nil {
		w.handBack([]usher.Delivery{d}) // shutting down: the next relay sends it
		return time.Time{}, false
	}
	mctx, mcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer mcancel()
	now := w.r.c.Now()
	if err == nil {
		if err := w.store.MarkDelivered(mctx, d.Event.ID, d.Endpoint.ID, now); err != nil {
			log.WarnContext(ctx, "webhook mark sent failed", "event", "webhook_mark_failed", "error", err)
		}
		log.InfoContext(ctx, "webhook delivered", "event", "webhook_delivered")
		return time.Time{}, false
	}
	abandon := d.Attempts >= w.r.c.MaxAttempts || errors.Is(err, ErrPermanent)
	next = now.Add(w.r.backoff(d.Attempts))
	if merr := w.store.MarkDeliveryFailed(mctx, d.Event.ID, d.Endpoint.ID, next, err.Error(), abandon); merr != nil {
		log.WarnContext(ctx, "webhook mark failed failed", "event", "webhook_mark_failed", "error", merr)
	}
	if abandon {
		log.ErrorContext(ctx, "webhook delivery abandoned", "event", "webhook_abandoned", "error", err)
		return time.Time{}, false
	}
	log.WarnContext(ctx, "webhook delivery failed; will retry", "event", "webhook_retry", "error", err, "next_attempt", next)
	return next, true
}

// release hands claimed deliveries back unsent, due at next.
func (w *WebhookRelay) release(ds []usher.Delivery, next time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, d := range ds {
		if err := w.store.ReleaseDelivery(ctx, d.Event.ID, d.Endpoint.ID, next); err != nil {
			w.log.WarnContext(ctx, "webhook release failed", "event", "webhook_mark_failed", "error", err)
		}
	}
}

// handBack returns claimed deliveries to the queue at once.
func (w *WebhookRelay) handBack(ds []usher.Delivery) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, d := range ds {
		_ = w.store.MarkDeliveryFailed(ctx, d.Event.ID, d.Endpoint.ID, w.r.c.Now(), "interrupted by shutdown", false)
	}
}

// safePost turns a panic in a post into an error.
func (w *WebhookRelay) safePost(ctx context.Context, d usher.Delivery) (err error) {
	defer func() {
		if p := recover(); p != nil {
			w.log.ErrorContext(ctx, "webhook delivery panicked", "event", "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = errors.New("delivery panicked")
		}
	}()
	return w.post(ctx, d)
}
