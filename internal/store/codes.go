package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/usherhq/usher/internal/usher"
)

const codeColumns = `user_id, tenant_id, kind, secret, tries, created_at, expires_at`

func (s *Store) scanCode(row *sql.Row) (usher.UserCode, error) {
	var c usher.UserCode
	var created, expires int64
	err := row.Scan(idDest{&c.UserID}, idDest{&c.TenantID}, &c.Kind, &c.Secret, &c.Tries, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return c, usher.Errorf(usher.NotFound, "Code not found.")
	}
	if err != nil {
		return c, s.wrap(err)
	}
	c.CreatedAt, c.ExpiresAt = fromMillis(created), fromMillis(expires)
	return c, nil
}

// PutCode stores c, replacing the user's code of the same kind.
func (t *tx) PutCode(ctx context.Context, c usher.UserCode) error {
	if err := t.DeleteCodes(ctx, c.UserID, c.Kind); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO codes (`+codeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.s.id(c.UserID), t.s.id(c.TenantID), c.Kind, c.Secret, c.Tries, millis(c.CreatedAt), millis(c.ExpiresAt))
	return t.s.wrap(err)
}

// Code returns the user's code of a kind.
func (t *tx) Code(ctx context.Context, userID string, kind usher.CodeKind) (usher.UserCode, error) {
	return t.s.scanCode(t.row(ctx, `SELECT `+codeColumns+` FROM codes
		WHERE user_id = $1 AND kind = $2`, t.s.id(userID), kind))
}

// LockCode returns the user's code of a kind, holding it until the
// transaction ends.
func (t *tx) LockCode(ctx context.Context, userID string, kind usher.CodeKind) (usher.UserCode, error) {
	return t.s.scanCode(t.row(ctx, `SELECT `+codeColumns+` FROM codes
		WHERE user_id = $1 AND kind = $2`+t.s.d.ForUpdate, t.s.id(userID), kind))
}

// SetCodeTries records the wrong tries of a code.
func (t *tx) SetCodeTries(ctx context.Context, userID string, kind usher.CodeKind, tries int) error {
	res, err := t.exec(ctx, `UPDATE codes SET tries = $1 WHERE user_id = $2 AND kind = $3`, tries, t.s.id(userID), kind)
	return t.s.affected(res, err)
}

// DeleteCodes deletes the user's codes of the given kinds.
func (t *tx) DeleteCodes(ctx context.Context, userID string, kinds ...usher.CodeKind) error {
	for _, k := range kinds {
		if _, err := t.exec(ctx, `DELETE FROM codes WHERE user_id = $1 AND kind = $2`, t.s.id(userID), k); err != nil {
			return t.s.wrap(err)
		}
	}
	return nil
}
