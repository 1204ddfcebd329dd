package store

import (
	"context"
	"fmt"
	"time"
)

// Stats are database-wide figures for operators (metrics), read by one
// statement.
type Stats struct {
	// Outbox messages by state. Pending and Failed are both waiting to be
	// sent: Failed are those whose last attempt failed (retried with
	// backoff), Pending the others (never tried yet, or being sent). Sent
	// and Abandoned stay until Sweep deletes them, a week after they were
	// queued; each count stops at MaxCounted.
	Pending, Failed, Sent, Abandoned int64
	// OldestPending is when the oldest message still waiting to be sent
	// (Pending or Failed) was queued; zero when none is.
	OldestPending time.Time
	// Sessions counts sessions that have not expired, up to MaxCounted.
	Sessions int64
	// Webhook deliveries, as the outbox's messages: waiting (Pending and
	// Failed), Abandoned (counted up to MaxCounted), and when the oldest
	// waiting one was queued.
	HookPending, HookFailed, HookAbandoned int64
	HookOldestPending                      time.Time
}

// MaxCounted bounds the counts of sessions and of finished outbox messages
// in Stats, so that reading them costs the same however large the tables
// grow. Sessions have no index on their expiry (no hot path needs one, and
// every login would pay to keep it up to date), so counting them reads the
// table: measured with warm caches, a million rows take about 70 ms on
// SQLite and 60 ms on PostgreSQL, and Stats over a million sessions and
// half a million sent messages about 130 ms on either; a cold cache or ten
// million rows would cost far more, every time the metrics are read.
// Finished messages are counted from the outbox index, at a similar cost
// per row. Messages waiting to be sent are not bounded: a working relay
// keeps them few, and when it does not, their number and age are what an
// operator needs.
const MaxCounted = 1_000_000

// qStats reads every figure in one statement. Each row is named: a UNION's
// rows come in no promised order. Expired sessions are few among those read:
// Sweep deletes them every few minutes.
const qStats = `
	SELECT 'pending', count(*), count(CASE WHEN last_error <> '' THEN 1 END), coalesce(min(created_at), 0)
		FROM outbox WHERE status = 'pending'
	UNION ALL SELECT 'sent', count(*), 0, 0 FROM (SELECT 1 AS one FROM outbox WHERE status = 'sent' LIMIT $2) AS o
	UNION ALL SELECT 'abandoned', count(*), 0, 0 FROM (SELECT 1 AS one FROM outbox WHERE status = 'abandoned' LIMIT $2) AS o
	UNION ALL SELECT 'sessions', count(*), 0, 0 FROM (SELECT 1 AS one FROM sessions WHERE expires_at > $1 LIMIT $2) AS s
	UNION ALL SELECT 'hooks', count(*), count(CASE WHEN last_error <> '' THEN 1 END), coalesce(min(created_at), 0)
		FROM webhook_deliveries WHERE status = 'pending'
	UNION ALL SELECT 'hooks_abandoned', count(*), 0, 0 FROM (SELECT 1 AS one FROM webhook_deliveries WHERE status = 'abandoned' LIMIT $2) AS h`

// Stats reads the outbox and session figures as of now.
func (s *Store) Stats(ctx context.Context, now time.Time) (Stats, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, qStats, millis(now), MaxCounted)
	if err != nil {
		return Stats{}, s.wrap(err)
	}
	defer rows.Close()
	var st Stats
	into := map[string]*int64{"pending": &st.Pending, "sent": &st.Sent, "abandoned": &st.Abandoned, "sessions": &st.Sessions,
		"hooks": &st.HookPending, "hooks_abandoned": &st.HookAbandoned}
	var oldest, hookOldest int64
	for rows.Next() {
		var name string
		var n, failed, first int64
		if err := rows.Scan(&name, &n, &failed, &first); err != nil {
			return Stats{}, s.wrap(err)
		}
		p, ok := into[name]
		if !ok {
			return Stats{}, s.wrap(fmt.Errorf("stats: unexpected row %q", name))
		}
		delete(into, name)
		*p = n
		switch name {
		case "pending":
			st.Failed, oldest = failed, first
		case "hooks":
			st.HookFailed, hookOldest = failed, first
		}
	}
	if err := rows.Err(); err != nil {
		return Stats{}, s.wrap(err)
	}
	if len(into) > 0 {
		return Stats{}, s.wrap(fmt.Errorf("stats: %d rows missing", len(into)))
	}
	st.Pending -= st.Failed
	st.HookPending -= st.HookFailed
	if oldest > 0 {
		st.OldestPending = fromMillis(oldest)
	}
	if hookOldest > 0 {
		st.HookOldestPending = fromMillis(hookOldest)
	}
	return st, nil
}
