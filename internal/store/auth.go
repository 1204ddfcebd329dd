package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// SessionUser returns the user of a live session: one that exists, belongs
// to userID in tenantID, and has not expired at now.
func (s *Store) SessionUser(ctx context.Context, tenantID, sessionID, userID string, now time.Time) (usher.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := s.scanUser(s.row(ctx, qSessionUser, s.id(sessionID), s.id(userID), s.id(tenantID), millis(now)))
	if usher.ErrorCode(err) == usher.NotFound {
		return u, usher.Errorf(usher.NotFound, "Session not found.")
	}
	return u, err
}

var qSessionUser = `SELECT ` + userColumnsU + `
	FROM sessions s JOIN users u ON u.id = s.user_id
	WHERE s.id = $1 AND s.user_id = $2 AND s.tenant_id = $3 AND s.expires_at > $4`

const qCreateSession = `INSERT INTO sessions (id, tenant_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`

// Ticket returns a user's live ticket for purpose.
func (s *Store) Ticket(ctx context.Context, userID, purpose string) (usher.Ticket, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.scanTicket(s.row(ctx, `SELECT `+ticketColumns+` FROM codes
		WHERE user_id = $1 AND purpose = $2`, s.id(userID), purpose))
}

const ticketColumns = `user_id, tenant_id, purpose, secret, tries, created_at, expires_at`

func (s *Store) scanTicket(row *sql.Row) (usher.Ticket, error) {
	var t usher.Ticket
	var created, expires int64
	err := row.Scan(idDest{&t.UserID}, idDest{&t.TenantID}, &t.Purpose, &t.Secret, &t.Tries, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return t, usher.Errorf(usher.NotFound, "Code not found.")
	}
	if err != nil {
		return t, s.wrap(err)
	}
	t.CreatedAt, t.ExpiresAt = fromMillis(created), fromMillis(expires)
	return t, nil
}

func (t *tx) CreateSession(ctx context.Context, s usher.Session) error {
	_, err := t.exec(ctx, qCreateSession, t.s.id(s.ID), t.s.id(s.TenantID), t.s.id(s.UserID), millis(s.CreatedAt), millis(s.ExpiresAt))
	return t.s.wrap(err)
}

func (t *tx) DeleteSession(ctx context.Context, tenantID, id string) error {
	res, err := t.exec(ctx, `DELETE FROM sessions WHERE id = $1 AND tenant_id = $2`, t.s.id(id), t.s.id(tenantID))
	return t.s.affected(res, err)
}

func (t *tx) DeleteSessions(ctx context.Context, tenantID, userID string) error {
	_, err := t.exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND tenant_id = $2`, t.s.id(userID), t.s.id(tenantID))
	return t.s.wrap(err)
}

func (t *tx) PutTicket(ctx context.Context, k usher.Ticket) error {
	if _, err := t.exec(ctx, `DELETE FROM codes WHERE user_id = $1 AND purpose = $2`, t.s.id(k.UserID), k.Purpose); err != nil {
		return t.s.wrap(err)
	}
	_, err := t.exec(ctx, `INSERT INTO codes (`+ticketColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.s.id(k.UserID), t.s.id(k.TenantID), k.Purpose, k.Secret, k.Tries, millis(k.CreatedAt), millis(k.ExpiresAt))
	return t.s.wrap(err)
}

func (t *tx) LockTicket(ctx context.Context, userID, purpose string) (usher.Ticket, error) {
	return t.s.scanTicket(t.row(ctx, `SELECT `+ticketColumns+` FROM codes
		WHERE user_id = $1 AND purpose = $2`+t.s.d.ForUpdate, t.s.id(userID), purpose))
}

func (t *tx) SetTicketTries(ctx context.Context, userID, purpose string, tries int) error {
	res, err := t.exec(ctx, `UPDATE codes SET tries = $1 WHERE user_id = $2 AND purpose = $3`, tries, t.s.id(userID), purpose)
	return t.s.affected(res, err)
}

func (t *tx) DeleteTickets(ctx context.Context, userID string, purposes ...string) error {
	for _, p := range purposes {
		if _, err := t.exec(ctx, `DELETE FROM codes WHERE user_id = $1 AND purpose = $2`, t.s.id(userID), p); err != nil {
			return t.s.wrap(err)
		}
	}
	return nil
}

func (t *tx) Count(ctx context.Context, key string, now, windowStart time.Time) (int, error) {
	var n int
	err := t.row(ctx, `INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN rate_counters.window_start < $3 THEN 1 ELSE rate_counters.count + 1 END,
			window_start = CASE WHEN rate_counters.window_start < $3 THEN $2 ELSE rate_counters.window_start END
		RETURNING count`, key, millis(now), millis(windowStart)).Scan(&n)
	return n, t.s.wrap(err)
}

func (t *tx) Enqueue(ctx context.Context, m usher.Message, now time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO outbox (id, tenant_id, kind, recipient, params, status, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)`, t.s.id(m.ID), t.s.id(m.TenantID), m.Kind, m.To, m.Params, millis(now))
	return t.s.wrap(err)
}

// Sweep deletes what has expired: sessions, tickets, day-old counters, and
// outbox rows that were queued over a week ago and are finished (sent or
// abandoned).
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
		{`DELETE FROM rate_counters WHERE window_start <= $1`, now.Add(-24 * time.Hour)},
		{`DELETE FROM outbox WHERE status <> 'pending' AND created_at <= $1`, now.Add(-7 * 24 * time.Hour)},
	} {
		if _, err := s.w.ExecContext(ctx, d.q, millis(d.cutoff)); err != nil {
			return s.wrap(err)
		}
	}
	return nil
}
