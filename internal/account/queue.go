package account

import (
	"context"
	"slices"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// The email queue as operators see it, and the activity the audit log
// records, counted.

// Email queue event types: an operator's retry and discard.
const (
	AuditEmailRetried   = "email.retried"
	AuditEmailDiscarded = "email.discarded"
)

// MaxQueueList bounds one listing of the email queue.
const MaxQueueList = 200

var errNoMessage = usher.Errorf(usher.NotFound, "No such unsent message (sent messages and abandoned ones cannot be retried).")

// QueuedMessages lists a tenant's unsent email in a state: pending,
// failed (waiting for another attempt) or abandoned. Contents are never
// shown: they hold codes and tokens.
func (s *Service) QueuedMessages(ctx context.Context, tenantID, state string) ([]usher.QueuedMessage, error) {
	if !slices.Contains([]string{usher.QueuePending, usher.QueueFailed, usher.QueueAbandoned}, state) {
		return nil, usher.Errorf(usher.Invalid, "The state is pending, failed or abandoned.")
	}
	return s.c.Store.QueuedMessages(ctx, tenantID, state, MaxQueueList)
}

// RetryMessage makes a pending or failed message due now and wakes the
// relay. An abandoned message's contents were wiped when it was given up,
// so it cannot be sent again: send a new email from the user's page.
func (s *Service) RetryMessage(ctx context.Context, tenantID, id string) error {
	if !usher.ValidID(id) {
		return errNoMessage
	}
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.RetryMessage(ctx, tenantID, id, s.now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditEmailRetried, "", detail{"message_id": id})
	})
	if usher.ErrorCode(err) == usher.NotFound {
		return errNoMessage
	}
	if err == nil {
		s.c.Log.InfoContext(ctx, "email retried", "event", "email_retried", "message_id", id)
		s.c.Notify()
	}
	return err
}

// DiscardMessage removes an unsent message from the queue.
func (s *Service) DiscardMessage(ctx context.Context, tenantID, id string) error {
	if !usher.ValidID(id) {
		return errNoMessage
	}
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.DiscardMessage(ctx, tenantID, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditEmailDiscarded, "", detail{"message_id": id})
	})
	if usher.ErrorCode(err) == usher.NotFound {
		return errNoMessage
	}
	if err == nil {
		s.c.Log.InfoContext(ctx, "email discarded", "event", "email_discarded", "message_id", id)
	}
	return err
}

// ActivityTypes are the event types the activity charts count.
var ActivityTypes = []string{AuditUserCreated, AuditLoginSucceeded, AuditLoginFailed, AuditLockoutStarted, AuditResetCompleted}

// Activity is event counts per bucket: one series per type, each with a
// value for every bucket from Start on.
type Activity struct {
	Start  time.Time
	Bucket time.Duration
	Series map[string][]int
}

// Activity counts a tenant's events of ActivityTypes over the last n
// buckets of width bucket (an hour or a day), the current one included.
func (s *Service) Activity(ctx context.Context, tenantID string, bucket time.Duration, n int) (Activity, error) {
	if bucket <= 0 || n < 1 || n > 1000 {
		return Activity{}, usher.Errorf(usher.Invalid, "An activity range is 1 to 1000 buckets.")
	}
	now := s.c.Now().UTC()
	start := now.Truncate(bucket).Add(-time.Duration(n-1) * bucket)
	counts, err := s.c.Store.EventCounts(ctx, tenantID, ActivityTypes, start, bucket)
	if err != nil {
		return Activity{}, err
	}
	a := Activity{Start: start, Bucket: bucket, Series: map[string][]int{}}
	for _, t := range ActivityTypes {
		a.Series[t] = make([]int, n)
	}
	for _, c := range counts {
		i := int(c.Bucket.Sub(start) / bucket)
		if i >= 0 && i < n {
			a.Series[c.Type][i] += c.Count
		}
	}
	return a, nil
}
