package store

import (
	"context"
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
