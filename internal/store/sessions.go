package store

import (
	"context"
	"errors"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// SessionUser returns the user of a live session (one that exists, belongs
// to userID in tenantID, and has not expired at now) and when the session
// was last marked used.
func (s *Store) SessionUser(ctx context.Context, tenantID, sessionID, userID string, now time.Time) (usher.User, time.Time, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var lastUsed int64
	u, err := s.scanUser(s.row(ctx, s.sql.sessionUser, s.id(sessionID), s.id(userID), s.id(tenantID), millis(now)), &lastUsed)
	if usher.ErrorCode(err) == usher.NotFound {
		return u, time.Time{}, usher.Errorf(usher.NotFound, "Session not found.")
	}
	if err != nil {
		return u, time.Time{}, err
	}
	var last time.Time
	if lastUsed != 0 {
		last = fromMillis(lastUsed)
	}
	return u, last, nil
}

// TouchSession marks a session used at now. It is one statement of its
// own, outside any use case's transaction: a lost touch costs nothing but
// a less recent time.
func (s *Store) TouchSession(ctx context.Context, tenantID, id string, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.w.ExecContext(ctx, `UPDATE sessions SET last_used_at = $1 WHERE id = $2 AND tenant_id = $3`,
		millis(now), s.id(id), s.id(tenantID))
	return s.wrap(err)
}

// Sessions returns a user's live sessions at now, newest first.
func (s *Store) Sessions(ctx context.Context, tenantID, userID string, now time.Time) ([]usher.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT id, created_at, expires_at, last_used_at, surface, client_ip, user_agent
		FROM sessions WHERE user_id = $1 AND tenant_id = $2 AND expires_at > $3
		ORDER BY created_at DESC, id`, s.id(userID), s.id(tenantID), millis(now))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []usher.Session
	for rows.Next() {
		x := usher.Session{TenantID: tenantID, UserID: userID}
		var created, expires, used int64
		if err := rows.Scan(idDest{&x.ID}, &created, &expires, &used, &x.Surface, &x.ClientIP, &x.UserAgent); err != nil {
			return nil, s.wrap(err)
		}
		x.CreatedAt, x.ExpiresAt = fromMillis(created), fromMillis(expires)
		if used != 0 {
			x.LastUsedAt = fromMillis(used)
		}
		out = append(out, x)
	}
	return out, s.wrap(rows.Err())
}

const qCreateSession = `INSERT INTO sessions (id, tenant_id, user_id, created_at, expires_at, surface, client_ip, user_agent)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

func (t *tx) CreateSession(ctx context.Context, s usher.Session) error {
	_, err := t.exec(ctx, qCreateSession, t.s.id(s.ID), t.s.id(s.TenantID), t.s.id(s.UserID), millis(s.CreatedAt), millis(s.ExpiresAt),
		s.Surface, s.ClientIP, s.UserAgent)
	return t.s.wrap(err)
}

var errNoSession = usher.Errorf(usher.NotFound, "Session not found.")

func (t *tx) DeleteSession(ctx context.Context, tenantID, id string) error {
	res, err := t.exec(ctx, `DELETE FROM sessions WHERE id = $1 AND tenant_id = $2`, t.s.id(id), t.s.id(tenantID))
	return noSession(t.s.affected(res, err))
}

// DeleteUserSession ends one session of a user: NotFound when the user has
// no such session.
func (t *tx) DeleteUserSession(ctx context.Context, tenantID, userID, id string) error {
	res, err := t.exec(ctx, `DELETE FROM sessions WHERE id = $1 AND user_id = $2 AND tenant_id = $3`,
		t.s.id(id), t.s.id(userID), t.s.id(tenantID))
	return noSession(t.s.affected(res, err))
}

// noSession names the session in a NotFound that affected made.
func noSession(err error) error {
	if errors.Is(err, errNotFound) {
		return errNoSession
	}
	return err
}

func (t *tx) DeleteSessions(ctx context.Context, tenantID, userID string) error {
	_, err := t.exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND tenant_id = $2`, t.s.id(userID), t.s.id(tenantID))
	return t.s.wrap(err)
}

// DeleteOtherSessions ends every session of a user but keep.
func (t *tx) DeleteOtherSessions(ctx context.Context, tenantID, userID, keep string) error {
	_, err := t.exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND tenant_id = $2 AND id <> $3`,
		t.s.id(userID), t.s.id(tenantID), t.s.id(keep))
	return t.s.wrap(err)
}
