package store

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/usherhq/usher/internal/usher"
)

// Enqueue adds a message to the outbox, due now.
func (t *tx) Enqueue(ctx context.Context, m usher.Message, now time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO outbox (id, tenant_id, kind, recipient, params, status, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)`, t.s.id(m.ID), t.s.id(m.TenantID), m.Kind, m.To, m.Params, millis(now))
	return t.s.wrap(err)
}

// Claim takes up to n due messages for sending, leasing them until
// now+lease so that no other relay takes them meanwhile. A relay that dies
// mid-send loses its lease, and the message is sent again later.
func (s *Store) Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]usher.Message, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.w.QueryContext(ctx, `UPDATE outbox SET claimed_until = $1, attempts = attempts + 1
		WHERE id IN (SELECT id FROM outbox
			WHERE status = 'pending' AND next_attempt_at <= $2 AND claimed_until <= $2
			ORDER BY next_attempt_at`+limit(n)+s.d.SkipLocked+`)
		RETURNING id, tenant_id, kind, recipient, params, attempts`, millis(now.Add(lease)), millis(now))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []usher.Message
	for rows.Next() {
		var m usher.Message
		if err := rows.Scan(idDest{&m.ID}, idDest{&m.TenantID}, &m.Kind, &m.To, &m.Params, &m.Attempts); err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, m)
	}
	return out, s.wrap(rows.Err())
}

// MarkSent records delivered messages and wipes their contents, in one
// statement: a relay marks a claimed batch at once, one commit rather than
// one per message. ids are as Claim returned them (at most the n a
// claim was given); on PostgreSQL one that is not an ID fails the statement.
func (s *Store) MarkSent(ctx context.Context, now time.Time, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	args := make([]any, 0, 1+len(ids))
	args = append(args, millis(now))
	for _, id := range ids {
		args = append(args, s.id(id))
	}
	_, err := s.w.ExecContext(ctx, `UPDATE outbox SET status = 'sent', params = '', sent_at = $1, last_error = ''
		WHERE id IN (`+params(1, len(ids))+`)`, args...)
	return s.wrap(err)
}

// MarkFailed records a failed attempt: the message is tried again at next,
// or, when abandon is set, given up (and its contents wiped).
func (s *Store) MarkFailed(ctx context.Context, id string, next time.Time, reason string, abandon bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	reason = truncateReason(reason)
	q := `UPDATE outbox SET next_attempt_at = $1, claimed_until = 0, last_error = $2 WHERE id = $3`
	if abandon {
		q = `UPDATE outbox SET status = 'abandoned', params = '', next_attempt_at = $1, claimed_until = 0, last_error = $2 WHERE id = $3`
	}
	_, err := s.w.ExecContext(ctx, q, millis(next), reason, s.id(id))
	return s.wrap(err)
}

// truncateReason cuts a failure's reason to 500 bytes, never inside a
// character: PostgreSQL refuses invalid UTF-8.
func truncateReason(reason string) string {
	if len(reason) <= 500 {
		return reason
	}
	cut := 500
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}
