package store

import (
	"context"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// The email queue as the console shows it, and an operator's retry and
// discard.

// QueuedMessages returns up to n of a tenant's unsent messages in a
// state (usher.QueuePending, QueueFailed or QueueAbandoned), oldest first.
func (s *Store) QueuedMessages(ctx context.Context, tenantID, state string, n int) ([]usher.QueuedMessage, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	cond := `status = 'pending' AND last_error = ''`
	switch state {
	case usher.QueueFailed:
		cond = `status = 'pending' AND last_error <> ''`
	case usher.QueueAbandoned:
		cond = `status = 'abandoned'`
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, tenant_id, kind, recipient, status, attempts, next_attempt_at, last_error, created_at
		FROM outbox WHERE tenant_id = $1 AND `+cond+` ORDER BY created_at, id`+limit(n), s.id(tenantID))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []usher.QueuedMessage
	for rows.Next() {
		var m usher.QueuedMessage
		var next, created int64
		if err := rows.Scan(idDest{&m.ID}, idDest{&m.TenantID}, &m.Kind, &m.To, &m.Status, &m.Attempts, &next, &m.LastError, &created); err != nil {
			return nil, s.wrap(err)
		}
		m.NextAttemptAt, m.CreatedAt = fromMillis(next), fromMillis(created)
		out = append(out, m)
	}
	return out, s.wrap(rows.Err())
}

// RetryMessage makes a tenant's pending message due at now (NotFound: no
// pending message of that id; an abandoned one has no contents left).
func (t *tx) RetryMessage(ctx context.Context, tenantID, id string, now time.Time) error {
	return t.s.affected(t.exec(ctx, `UPDATE outbox SET next_attempt_at = $1, claimed_until = 0
		WHERE id = $2 AND tenant_id = $3 AND status = 'pending'`, millis(now), t.s.id(id), t.s.id(tenantID)))
}

// DiscardMessage deletes a tenant's unsent message (NotFound: none).
func (t *tx) DiscardMessage(ctx context.Context, tenantID, id string) error {
	return t.s.affected(t.exec(ctx, `DELETE FROM outbox WHERE id = $1 AND tenant_id = $2 AND status <> 'sent'`,
		t.s.id(id), t.s.id(tenantID)))
}

// EventCounts counts a tenant's events of types from since on, per bucket
// of the given width (buckets start at multiples of it since the epoch).
func (s *Store) EventCounts(ctx context.Context, tenantID string, types []string, since time.Time, bucket time.Duration) ([]usher.EventCount, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if len(types) == 0 {
		return nil, nil
	}
	width := bucket.Milliseconds()
	args := []any{s.id(tenantID), millis(since), width}
	in := params(len(args), len(types))
	for _, t := range types {
		args = append(args, t)
	}
	// The events_type index (tenant_id, type, id) serves this: ids are
	// time-ordered, and time bounds the same range.
	rows, err := s.r.QueryContext(ctx, `SELECT type, time / $3 AS b, COUNT(*) FROM events
		WHERE tenant_id = $1 AND time >= $2 AND type IN (`+in+`) GROUP BY type, b ORDER BY b, type`, args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []usher.EventCount
	for rows.Next() {
		var c usher.EventCount
		var b int64
		if err := rows.Scan(&c.Type, &b, &c.Count); err != nil {
			return nil, s.wrap(err)
		}
		c.Bucket = fromMillis(b * width)
		out = append(out, c)
	}
	return out, s.wrap(rows.Err())
}
