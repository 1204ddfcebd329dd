package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

var errNoRefresh = usher.Errorf(usher.NotFound, "Refresh token not found.")

// PutRefreshToken stores a new refresh token.
func (t *tx) PutRefreshToken(ctx context.Context, rt usher.RefreshToken) error {
	_, err := t.exec(ctx, `INSERT INTO refresh_tokens (hash, tenant_id, session_id, user_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, rt.Hash, t.s.id(rt.TenantID), t.s.id(rt.SessionID), t.s.id(rt.UserID),
		millis(rt.CreatedAt), millis(rt.ExpiresAt))
	return t.s.wrap(err)
}

// LockRefreshToken reads a refresh token of a tenant by its hash and holds
// it against concurrent refreshes until the transaction ends.
func (t *tx) LockRefreshToken(ctx context.Context, tenantID, hash string) (usher.RefreshToken, error) {
	rt := usher.RefreshToken{Hash: hash}
	var created, expires, used int64
	err := t.row(ctx, `SELECT tenant_id, session_id, user_id, created_at, expires_at, used_at, next
		FROM refresh_tokens WHERE hash = $1 AND tenant_id = $2`+t.s.d.ForUpdate, hash, t.s.id(tenantID)).
		Scan(idDest{&rt.TenantID}, idDest{&rt.SessionID}, idDest{&rt.UserID}, &created, &expires, &used, &rt.Next)
	if errors.Is(err, sql.ErrNoRows) {
		return rt, errNoRefresh
	}
	if err != nil {
		return rt, t.s.wrap(err)
	}
	rt.CreatedAt, rt.ExpiresAt = fromMillis(created), fromMillis(expires)
	if used != 0 {
		rt.UsedAt = fromMillis(used)
	}
	return rt, nil
}

// RefreshTokenSession returns the session of a tenant's refresh token,
// without holding anything: a refresh locks the session first, then the
// token, in the order every session-ending write takes them.
func (t *tx) RefreshTokenSession(ctx context.Context, tenantID, hash string) (string, error) {
	var sid string
	err := t.row(ctx, `SELECT session_id FROM refresh_tokens WHERE hash = $1 AND tenant_id = $2`, hash, t.s.id(tenantID)).
		Scan(idDest{&sid})
	if errors.Is(err, sql.ErrNoRows) {
		return "", errNoRefresh
	}
	return sid, t.s.wrap(err)
}

// UseRefreshToken marks a refresh token used at now, keeping the next one
// sealed.
func (t *tx) UseRefreshToken(ctx context.Context, hash string, now time.Time, next string) error {
	res, err := t.exec(ctx, `UPDATE refresh_tokens SET used_at = $1, next = $2 WHERE hash = $3 AND used_at = 0`,
		millis(now), next, hash)
	if err := t.s.affected(res, err); errors.Is(err, errNotFound) {
		return errNoRefresh
	} else if err != nil {
		return err
	}
	return nil
}

// LockSession reads a live session (unexpired at now) and holds it until
// the transaction ends.
func (t *tx) LockSession(ctx context.Context, tenantID, id string, now time.Time) (usher.Session, error) {
	x := usher.Session{ID: id, TenantID: tenantID}
	var created, expires int64
	err := t.row(ctx, `SELECT user_id, created_at, expires_at FROM sessions
		WHERE id = $1 AND tenant_id = $2 AND expires_at > $3`+t.s.d.ForUpdate, t.s.id(id), t.s.id(tenantID), millis(now)).
		Scan(idDest{&x.UserID}, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return x, errNoSession
	}
	if err != nil {
		return x, t.s.wrap(err)
	}
	x.CreatedAt, x.ExpiresAt = fromMillis(created), fromMillis(expires)
	return x, nil
}

// ExtendSession moves a session's expiry.
func (t *tx) ExtendSession(ctx context.Context, tenantID, id string, expires time.Time) error {
	res, err := t.exec(ctx, `UPDATE sessions SET expires_at = $1 WHERE id = $2 AND tenant_id = $3`,
		millis(expires), t.s.id(id), t.s.id(tenantID))
	return noSession(t.s.affected(res, err))
}
