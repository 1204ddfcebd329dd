package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/usherhq/usher/internal/usher"
)

var errNoTOTP = usher.Errorf(usher.NotFound, "Two-factor sign-in is not set up.")

// PutTOTP stores a user's TOTP secret, replacing one it had.
func (t *tx) PutTOTP(ctx context.Context, x usher.TOTP) error {
	if _, err := t.exec(ctx, `DELETE FROM totp WHERE user_id = $1`, t.s.id(x.UserID)); err != nil {
		return t.s.wrap(err)
	}
	_, err := t.exec(ctx, `INSERT INTO totp (user_id, tenant_id, secret, confirmed, last_step, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.s.id(x.UserID), t.s.id(x.TenantID), x.Secret, boolInt(x.Confirmed), x.LastStep, millis(x.CreatedAt))
	return t.s.wrap(err)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// qLockTOTP reads a user's TOTP; every sign-in runs it (prepared on SQLite: see New).
const qLockTOTP = `SELECT secret, confirmed, last_step, created_at FROM totp WHERE user_id = $1 AND tenant_id = $2`

// LockTOTP reads a user's TOTP and holds it until the transaction ends.
func (t *tx) LockTOTP(ctx context.Context, tenantID, userID string) (usher.TOTP, error) {
	x := usher.TOTP{UserID: userID, TenantID: tenantID}
	var confirmed, created int64
	err := t.row(ctx, qLockTOTP+t.s.d.ForUpdate, t.s.id(userID), t.s.id(tenantID)).Scan(&x.Secret, &confirmed, &x.LastStep, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return x, errNoTOTP
	}
	if err != nil {
		return x, t.s.wrap(err)
	}
	x.Confirmed, x.CreatedAt = confirmed != 0, fromMillis(created)
	return x, nil
}

// SetTOTPStep records the step of an accepted code (and confirms).
func (t *tx) SetTOTPStep(ctx context.Context, userID string, step int64) error {
	res, err := t.exec(ctx, `UPDATE totp SET confirmed = 1, last_step = $1 WHERE user_id = $2`, step, t.s.id(userID))
	if err := t.s.affected(res, err); errors.Is(err, errNotFound) {
		return errNoTOTP
	} else if err != nil {
		return err
	}
	return nil
}

// DeleteTOTP removes a user's second factor and its recovery codes.
func (t *tx) DeleteTOTP(ctx context.Context, userID string) error {
	if _, err := t.exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, t.s.id(userID)); err != nil {
		return t.s.wrap(err)
	}
	_, err := t.exec(ctx, `DELETE FROM totp WHERE user_id = $1`, t.s.id(userID))
	return t.s.wrap(err)
}

// PutRecoveryCodes replaces a user's recovery codes (their hashes).
func (t *tx) PutRecoveryCodes(ctx context.Context, userID string, hashes []string) error {
	if _, err := t.exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, t.s.id(userID)); err != nil {
		return t.s.wrap(err)
	}
	for _, h := range hashes {
		if _, err := t.exec(ctx, `INSERT INTO recovery_codes (user_id, hash) VALUES ($1, $2)`, t.s.id(userID), h); err != nil {
			return t.s.wrap(err)
		}
	}
	return nil
}

// UseRecoveryCode spends a recovery code (NotFound: none such).
func (t *tx) UseRecoveryCode(ctx context.Context, userID, hash string) error {
	res, err := t.exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1 AND hash = $2`, t.s.id(userID), hash)
	return t.s.affected(res, err)
}
