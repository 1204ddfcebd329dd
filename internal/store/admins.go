package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

const adminColumns = `id, email, email_key, password_hash, totp_secret, totp_confirmed, totp_step,
	setup_hash, setup_expires, failed_checks, failed_since, created_at, updated_at`

var (
	errNoAdmin        = usher.Errorf(usher.NotFound, "Admin not found.")
	errAdminTaken     = usher.Errorf(usher.EmailTaken, "An admin with this email address already exists.")
	errNoAdminSession = usher.Errorf(usher.NotFound, "Session not found.")
)

func (s *Store) scanAdmin(row interface{ Scan(...any) error }) (usher.Admin, error) {
	var a usher.Admin
	var setupExp, failedSince, created, updated int64
	err := row.Scan(idDest{&a.ID}, &a.Email, &a.EmailKey, &a.Hash, &a.TOTPSecret, &a.TOTPConfirmed, &a.TOTPStep,
		&a.SetupHash, &setupExp, &a.FailedChecks, &failedSince, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return a, errNoAdmin
	}
	if err != nil {
		return a, s.wrap(err)
	}
	if setupExp != 0 {
		a.SetupExpires = fromMillis(setupExp)
	}
	if failedSince != 0 {
		a.FailedSince = fromMillis(failedSince)
	}
	a.CreatedAt, a.UpdatedAt = fromMillis(created), fromMillis(updated)
	return a, nil
}

// Admins returns every admin, oldest first.
func (s *Store) Admins(ctx context.Context) ([]usher.Admin, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT `+adminColumns+` FROM admins ORDER BY created_at, id`)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []usher.Admin
	for rows.Next() {
		a, err := s.scanAdmin(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, s.wrap(rows.Err())
}

// AdminByID returns one admin.
func (s *Store) AdminByID(ctx context.Context, id string) (usher.Admin, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.scanAdmin(s.row(ctx, `SELECT `+adminColumns+` FROM admins WHERE id = $1`, s.id(id)))
}

// AdminByEmail returns the admin of an email key.
func (s *Store) AdminByEmail(ctx context.Context, emailKey string) (usher.Admin, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.scanAdmin(s.row(ctx, `SELECT `+adminColumns+` FROM admins WHERE email_key = $1`, emailKey))
}

// AdminSession returns a session by its hash with its admin, expired or
// not (the caller decides).
func (s *Store) AdminSession(ctx context.Context, hash string) (usher.AdminSession, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.scanAdminSession(s.row(ctx, `SELECT hash, admin_id, csrf, created_at, seen_at, expires_at
		FROM admin_sessions WHERE hash = $1`, hash))
}

func (s *Store) scanAdminSession(row *sql.Row) (usher.AdminSession, error) {
	var x usher.AdminSession
	var created, seen, expires int64
	err := row.Scan(&x.Hash, idDest{&x.AdminID}, &x.CSRF, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return x, errNoAdminSession
	}
	if err != nil {
		return x, s.wrap(err)
	}
	x.CreatedAt, x.SeenAt, x.ExpiresAt = fromMillis(created), fromMillis(seen), fromMillis(expires)
	return x, nil
}

// TouchAdminSession marks a session seen at now.
func (s *Store) TouchAdminSession(ctx context.Context, hash string, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.affected(s.w.ExecContext(ctx, `UPDATE admin_sessions SET seen_at = $1 WHERE hash = $2`, millis(now), hash))
}

// CreateAdmin inserts a; a taken email key is usher.EmailTaken.
func (t *tx) CreateAdmin(ctx context.Context, a usher.Admin) error {
	_, err := t.exec(ctx, `INSERT INTO admins (`+adminColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		t.s.id(a.ID), a.Email, a.EmailKey, a.Hash, a.TOTPSecret, a.TOTPConfirmed, a.TOTPStep,
		a.SetupHash, millis(a.SetupExpires), a.FailedChecks, millis(a.FailedSince), millis(a.CreatedAt), millis(a.UpdatedAt))
	if err != nil && t.s.d.UniqueViolation(err) {
		return usher.Wrap(usher.EmailTaken, errAdminTaken.Message, err)
	}
	return t.s.wrap(err)
}

// LockAdmin reads an admin and holds it until the transaction ends.
func (t *tx) LockAdmin(ctx context.Context, id string) (usher.Admin, error) {
	return t.s.scanAdmin(t.row(ctx, `SELECT `+adminColumns+` FROM admins WHERE id = $1`+t.s.d.ForUpdate, t.s.id(id)))
}

// LockAdminBySetup reads the admin of a setup link's hash and holds it.
func (t *tx) LockAdminBySetup(ctx context.Context, hash string) (usher.Admin, error) {
	if hash == "" {
		return usher.Admin{}, errNoAdmin
	}
	return t.s.scanAdmin(t.row(ctx, `SELECT `+adminColumns+` FROM admins WHERE setup_hash = $1`+t.s.d.ForUpdate, hash))
}

// UpdateAdmin writes a's mutable fields.
func (t *tx) UpdateAdmin(ctx context.Context, a usher.Admin) error {
	res, err := t.exec(ctx, `UPDATE admins SET email = $1, email_key = $2, password_hash = $3, totp_secret = $4,
		totp_confirmed = $5, totp_step = $6, setup_hash = $7, setup_expires = $8, failed_checks = $9,
		failed_since = $10, updated_at = $11 WHERE id = $12`,
		a.Email, a.EmailKey, a.Hash, a.TOTPSecret, a.TOTPConfirmed, a.TOTPStep, a.SetupHash, millis(a.SetupExpires),
		a.FailedChecks, millis(a.FailedSince), millis(a.UpdatedAt), t.s.id(a.ID))
	if err != nil && t.s.d.UniqueViolation(err) {
		return usher.Wrap(usher.EmailTaken, errAdminTaken.Message, err)
	}
	if err := t.s.affected(res, err); err != nil {
		if usher.ErrorCode(err) == usher.NotFound {
			return errNoAdmin
		}
		return err
	}
	return nil
}

// DeleteAdmin deletes an admin and its sessions.
func (t *tx) DeleteAdmin(ctx context.Context, id string) error {
	err := t.s.affected(t.exec(ctx, `DELETE FROM admins WHERE id = $1`, t.s.id(id)))
	if usher.ErrorCode(err) == usher.NotFound {
		return errNoAdmin
	}
	return err
}

// CountAdmins counts the admins.
func (t *tx) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := t.row(ctx, `SELECT COUNT(*) FROM admins`).Scan(&n)
	return n, t.s.wrap(err)
}

// CreateAdminSession stores a new console session.
func (t *tx) CreateAdminSession(ctx context.Context, x usher.AdminSession) error {
	_, err := t.exec(ctx, `INSERT INTO admin_sessions (hash, admin_id, csrf, created_at, seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, x.Hash, t.s.id(x.AdminID), x.CSRF, millis(x.CreatedAt), millis(x.SeenAt), millis(x.ExpiresAt))
	if err != nil && t.s.d.ForeignKeyViolation(err) {
		return usher.Wrap(usher.NotFound, errNoAdmin.Message, err)
	}
	return t.s.wrap(err)
}

// DeleteAdminSession ends one console session (NotFound: none).
func (t *tx) DeleteAdminSession(ctx context.Context, hash string) error {
	err := t.s.affected(t.exec(ctx, `DELETE FROM admin_sessions WHERE hash = $1`, hash))
	if usher.ErrorCode(err) == usher.NotFound {
		return errNoAdminSession
	}
	return err
}

// DeleteAdminSessions ends every console session of an admin.
func (t *tx) DeleteAdminSessions(ctx context.Context, adminID string) error {
	_, err := t.exec(ctx, `DELETE FROM admin_sessions WHERE admin_id = $1`, t.s.id(adminID))
	return t.s.wrap(err)
}
