package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

var userCols = []string{"id", "tenant_id", "email", "email_key", "password_hash", "confirmed", "enabled", "data",
	"created_at", "updated_at", "failed_checks", "failed_since"}

var userColumns = strings.Join(userCols, ", ") // the columns a user is written to

// userSQL holds the statements on users, in the store's dialect: with
// TenantNumbers a user's tenant is written and compared as the tenant's
// number, and read back as its ID.
type userSQL struct {
	cols, colsU                                               string // what a user is read from; colsU on "users u"
	byID, byEmail, create, update, recordFailure, sessionUser string
}

func newUserSQL(s *Store) userSQL {
	q := userSQL{cols: s.userSelect(""), colsU: s.userSelect("u")}
	q.byID = `SELECT ` + q.cols + ` FROM users WHERE id = $1 AND ` + s.tenantIs("$2")
	q.byEmail = `SELECT ` + q.cols + ` FROM users WHERE ` + s.tenantIs("$1") + ` AND email_key = $2`
	q.create = `INSERT INTO users (` + userColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)` // $2: tx.tenantValue
	q.update = `UPDATE users SET email = $1, email_key = $2, password_hash = $3,
		confirmed = $4, enabled = $5, data = $6, updated_at = $7, failed_checks = $8, failed_since = $9
		WHERE id = $10 AND ` + s.tenantIs("$11")
	q.recordFailure = `UPDATE users SET
		failed_checks = CASE WHEN failed_since < $1 THEN 1 ELSE failed_checks + 1 END,
		failed_since = CASE WHEN failed_since < $1 THEN $2 ELSE failed_since END
		WHERE id = $3 AND ` + s.tenantIs("$4")
	q.sessionUser = `SELECT ` + q.colsU + `, s.last_used_at
	FROM sessions s JOIN users u ON u.id = s.user_id
	WHERE s.id = $1 AND s.user_id = $2 AND s.tenant_id = $3 AND s.expires_at > $4`
	return q
}

// userSelect is the list of userCols to read a user from, on the table
// named alias ("" for users itself).
func (s *Store) userSelect(alias string) string {
	cols := make([]string, len(userCols))
	for i, c := range userCols {
		col := c
		if alias != "" {
			col = alias + "." + c
		}
		if c == "tenant_id" {
			col = s.tenantOf(col)
		}
		cols[i] = col
	}
	return strings.Join(cols, ", ")
}

// tenantIs is the condition that a user (on users, unaliased) belongs to
// the tenant whose ID is the parameter p.
func (s *Store) tenantIs(p string) string {
	return "tenant_id = " + s.tenantParam(p)
}

// tenantParam is what a user's tenant_id column holds for the tenant
// whose ID is the parameter p: with TenantNumbers, its number (NULL when
// there is no such tenant, which no row matches). Writes bind the number
// instead, read first (tx.tenantValue), so that an unknown tenant is
// reported as such.
func (s *Store) tenantParam(p string) string {
	if s.d.TenantNumbers {
		return "(SELECT no FROM tenants WHERE id = " + p + ")"
	}
	return p
}

// tenantOf reads the tenant ID of a user's tenant_id column col.
func (s *Store) tenantOf(col string) string {
	if s.d.TenantNumbers {
		return "(SELECT id FROM tenants WHERE no = " + col + ")"
	}
	return col
}

// UserByID returns one user.
func (s *Store) UserByID(ctx context.Context, tenantID, id string) (usher.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.scanUser(s.row(ctx, s.sql.byID, s.id(id), s.id(tenantID)))
}

// UserByEmail returns the user with the given email key.
func (s *Store) UserByEmail(ctx context.Context, tenantID, emailKey string) (usher.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.scanUser(s.row(ctx, s.sql.byEmail, s.id(tenantID), emailKey))
}

var errNotFound = usher.Errorf(usher.NotFound, "User not found.")

// scanUser reads one row of userColumns, then the extra columns into
// extra.
func (s *Store) scanUser(row *sql.Row, extra ...any) (usher.User, error) {
	var u usher.User
	var c userScan
	err := row.Scan(append(c.dests(&u), extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return u, errNotFound
	}
	if err != nil {
		return u, s.wrap(err)
	}
	c.finish(&u)
	return u, nil
}

// scanUsers reads every row of userColumns into out, and closes rows.
func (s *Store) scanUsers(rows *sql.Rows, out []usher.User) ([]usher.User, error) {
	defer rows.Close()
	for rows.Next() {
		var u usher.User
		var c userScan
		if err := rows.Scan(c.dests(&u)...); err != nil {
			return nil, s.wrap(err)
		}
		c.finish(&u)
		out = append(out, u)
	}
	return out, s.wrap(rows.Err())
}

// userScan holds the columns of a user that need converting once read.
type userScan struct {
	email                         sql.NullString
	data                          string
	hash                          []byte // text, or packed (hash.go)
	created, updated, failedSince int64
}

func (c *userScan) dests(u *usher.User) []any {
	return []any{idDest{&u.ID}, idDest{&u.TenantID}, &c.email, &u.EmailKey, &c.hash, &u.Confirmed, &u.Enabled, &c.data,
		&c.created, &c.updated, &u.FailedChecks, &c.failedSince}
}

func (c *userScan) finish(u *usher.User) {
	email, data, created, updated, failedSince := c.email, c.data, c.created, c.updated, c.failedSince
	u.Email = email.String
	if !email.Valid {
		u.Email = u.EmailKey
	}
	u.Data = []byte(data)
	u.Hash = unpackHash(c.hash)
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(updated)
	if failedSince != 0 {
		u.FailedSince = fromMillis(failedSince)
	}
}

// storedEmail is the email column of u: NULL when the address is its own
// key (the common case, lower-case ASCII), so it is not stored twice. A
// change to how keys are made must first write the old key into every NULL
// email, or those users' addresses would change with it.
func storedEmail(u *usher.User) sql.NullString {
	return sql.NullString{String: u.Email, Valid: u.Email != u.EmailKey}
}

func (t *tx) UserByID(ctx context.Context, tenantID, id string) (usher.User, error) {
	return t.s.scanUser(t.row(ctx, t.s.sql.byID, t.s.id(id), t.s.id(tenantID)))
}

func (t *tx) UserByEmail(ctx context.Context, tenantID, emailKey string) (usher.User, error) {
	return t.s.scanUser(t.row(ctx, t.s.sql.byEmail, t.s.id(tenantID), emailKey))
}

func (t *tx) LockUser(ctx context.Context, tenantID, id string) (usher.User, error) {
	return t.s.scanUser(t.row(ctx, t.s.sql.byID+t.s.d.ForUpdate, t.s.id(id), t.s.id(tenantID)))
}

var errEmailTaken = usher.Errorf(usher.EmailTaken, "A user with this email address already exists.")

func (t *tx) CreateUser(ctx context.Context, u *usher.User) error {
	tenant, err := t.tenantValue(ctx, u.TenantID)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, t.s.sql.create,
		t.s.id(u.ID), tenant, storedEmail(u), u.EmailKey, t.s.packHash(u.Hash), u.Confirmed, u.Enabled, string(u.Data),
		millis(u.CreatedAt), millis(u.UpdatedAt), u.FailedChecks, millis(u.FailedSince))
	if err != nil && t.s.d.UniqueViolation(err) {
		return usher.Wrap(usher.EmailTaken, errEmailTaken.Message, err)
	}
	if err != nil && t.s.d.ForeignKeyViolation(err) {
		return usher.Wrap(usher.NotFound, errNoTenant.Message, err)
	}
	return t.s.wrap(err)
}

func (t *tx) UpdateUser(ctx context.Context, u *usher.User) error {
	res, err := t.exec(ctx, t.s.sql.update,
		storedEmail(u), u.EmailKey, t.s.packHash(u.Hash), u.Confirmed, u.Enabled, string(u.Data), millis(u.UpdatedAt),
		u.FailedChecks, millis(u.FailedSince), t.s.id(u.ID), t.s.id(u.TenantID))
	if err != nil && t.s.d.UniqueViolation(err) {
		return usher.Wrap(usher.EmailTaken, errEmailTaken.Message, err)
	}
	return t.s.affected(res, err)
}

func (t *tx) DeleteUser(ctx context.Context, tenantID, id string) error {
	res, err := t.exec(ctx, `DELETE FROM users WHERE id = $1 AND `+t.s.tenantIs("$2"), t.s.id(id), t.s.id(tenantID))
	return t.s.affected(res, err)
}

func (t *tx) RecordFailure(ctx context.Context, tenantID, id string, now, windowStart time.Time) error {
	res, err := t.exec(ctx, t.s.sql.recordFailure, millis(windowStart), millis(now), t.s.id(id), t.s.id(tenantID))
	return t.s.affected(res, err)
}
