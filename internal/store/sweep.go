package store

import (
	"context"
	"time"
)

// Sweep deletes what has expired: sessions, codes, day-old counters, and
// outbox rows and webhook deliveries that were queued over a week ago and
// are finished (sent or abandoned).
func (s *Store) Sweep(ctx context.Context, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	// Cut-offs are computed here: in "$1 - 86400000" PostgreSQL would type
	// $1 as a 32-bit integer, too small for a millisecond time.
	for _, d := range []struct {
		q      string
		cutoff time.Time
	}{
		{`DELETE FROM sessions WHERE expires_at <= $1`, now},
		{`DELETE FROM codes WHERE expires_at <= $1`, now},
		{`DELETE FROM refresh_tokens WHERE expires_at <= $1`, now},
		{`DELETE FROM admin_sessions WHERE expires_at <= $1`, now},
		{`DELETE FROM rate_counters WHERE window_start <= $1`, now.Add(-24 * time.Hour)},
		{`DELETE FROM outbox WHERE status <> 'pending' AND created_at <= $1`, now.Add(-7 * 24 * time.Hour)},
		{`DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at <= $1`, now.Add(-7 * 24 * time.Hour)},
	} {
		if _, err := s.w.ExecContext(ctx, d.q, millis(d.cutoff)); err != nil {
			return s.wrap(err)
		}
	}
	return nil
}
