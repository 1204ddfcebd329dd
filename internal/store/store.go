// Package store implements account.Store over database/sql. One
// implementation serves SQLite and PostgreSQL: the SQL text is shared (both
// drivers bind $1..$N by position) and a small Dialect holds what differs.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// Dialect is what differs between database engines.
type Dialect struct {
	Name string
	// UniqueViolation reports a unique-constraint violation, by error code.
	UniqueViolation func(error) bool
	// Unavailable reports that the database cannot be reached or is busy:
	// the request may succeed if retried later.
	Unavailable func(error) bool
	// Retryable reports a transaction that lost a conflict (serialization
	// failure, deadlock) and may simply be run again.
	Retryable func(error) bool
	// ForUpdate is appended to a SELECT that locks the rows it reads.
	ForUpdate string
	// SkipLocked is appended to the outbox claim's inner SELECT, so relays
	// on several nodes claim different rows without waiting on each other.
	SkipLocked string
	// BinaryIDs stores IDs (user, tenant, session, message) as their 16
	// bytes instead of 36 characters of text. PostgreSQL's UUID columns
	// take and return the text form and store 16 bytes themselves.
	BinaryIDs bool
}

// Store is account.Store on a SQL database. Writes go through w; reads go
// through r (on SQLite a separate pool of read-only connections; on
// PostgreSQL the same pool).
type Store struct {
	w, r    *sql.DB
	d       Dialect
	timeout time.Duration
	// Hot statements, prepared once at New (reads on r, transaction
	// statements on w) and never changed after: SQLite spends more time
	// compiling a query than running it. Preparing later, inside a
	// transaction, could wait forever for the writer's one connection.
	rstmts, wstmts map[string]*sql.Stmt
}

var _ account.Store = (*Store)(nil)

// New returns a Store over the given writer and reader pools. Every
// operation is bounded by timeout (0: no bound of its own), so a database
// that stops answering costs a request a 503, never a hang.
func New(ctx context.Context, w, r *sql.DB, d Dialect, timeout time.Duration) (*Store, error) {
	s := &Store{w: w, r: r, d: d, timeout: timeout, rstmts: map[string]*sql.Stmt{}, wstmts: map[string]*sql.Stmt{}}
	prepare := func(db *sql.DB, into map[string]*sql.Stmt, queries ...string) error {
		for _, q := range queries {
			st, err := db.PrepareContext(ctx, q)
			if err != nil {
				return s.wrap(err)
			}
			into[q] = st
		}
		return nil
	}
	err := prepare(r, s.rstmts, qUserByID, qUserByEmail, qSessionUser)
	if err == nil {
		err = prepare(w, s.wstmts, qUserByID, qUserByEmail, qUserByID+d.ForUpdate, qCreateUser, qUpdateUser,
			qRecordFailure, qRecordSuccess, qCreateSession)
	}
	if err != nil {
		s.closeStmts()
		return nil, err
	}
	return s, nil
}

func (s *Store) closeStmts() {
	for _, m := range []map[string]*sql.Stmt{s.rstmts, s.wstmts} {
		for _, st := range m {
			st.Close()
		}
	}
}

// row runs a one-row read on the reader pool, prepared when it is hot.
func (s *Store) row(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.rstmts[q]; st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.r.QueryRowContext(ctx, q, args...)
}

// row runs a one-row query in the transaction.
func (t *tx) row(_ context.Context, q string, args ...any) *sql.Row {
	ctx := t.ctx
	if st := t.s.wstmts[q]; st != nil {
		return t.q.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, q, args...)
}

// exec runs a statement in the transaction.
func (t *tx) exec(_ context.Context, q string, args ...any) (sql.Result, error) {
	ctx := t.ctx
	if st := t.s.wstmts[q]; st != nil {
		return t.q.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, q, args...)
}

// bound applies the operation timeout to ctx.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// Close closes both pools.
func (s *Store) Close() error {
	s.closeStmts()
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// DB returns the writer pool, for migrations and tests.
func (s *Store) DB() *sql.DB { return s.w }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.wrap(s.w.PingContext(ctx))
}

const maxAttempts = 5

// Update runs fn in a write transaction and commits it, retrying a
// transaction that lost a conflict.
func (s *Store) Update(ctx context.Context, fn func(account.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.update(ctx, fn)
		if err == nil || s.d.Retryable == nil || !s.d.Retryable(err) || attempt == maxAttempts {
			return err
		}
		select {
		case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Store) update(ctx context.Context, fn func(account.Tx) error) (err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	defer func() {
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(&tx{q: sqlTx, s: s, ctx: ctx}); err != nil {
		return err
	}
	return s.wrap(sqlTx.Commit())
}

// wrap turns a driver error into a domain error. Domain errors and context
// errors pass through.
func (s *Store) wrap(err error) error {
	var ue *usher.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue):
		return err
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return usher.Wrap(usher.Unavailable, "The database is unavailable; try again shortly.", err)
	case s.d.Unavailable(err):
		return usher.Wrap(usher.Unavailable, "The database is unavailable; try again shortly.", err)
	}
	return usher.Wrap(usher.Internal, "", fmt.Errorf("%s: %w", s.d.Name, err))
}

var userCols = []string{"id", "tenant_id", "email", "email_key", "password_hash", "confirmed", "enabled", "data",
	"created_at", "updated_at", "failed_checks", "failed_since"}

var (
	userColumns  = strings.Join(userCols, ", ")
	userColumnsU = "u." + strings.Join(userCols, ", u.") // for joins on users u

	qUserByID    = `SELECT ` + userColumns + ` FROM users WHERE id = $1 AND tenant_id = $2`
	qUserByEmail = `SELECT ` + userColumns + ` FROM users WHERE tenant_id = $1 AND email_key = $2`
	qCreateUser  = `INSERT INTO users (` + userColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	qUpdateUser = `UPDATE users SET email = $1, email_key = $2, password_hash = $3,
		confirmed = $4, enabled = $5, data = $6, updated_at = $7, failed_checks = $8, failed_since = $9
		WHERE id = $10 AND tenant_id = $11`
	qRecordFailure = `UPDATE users SET
		failed_checks = CASE WHEN failed_since < $1 THEN 1 ELSE failed_checks + 1 END,
		failed_since = CASE WHEN failed_since < $1 THEN $2 ELSE failed_since END
		WHERE id = $3 AND tenant_id = $4`
	// Written even when already clear, so a right password costs the same
	// write as a wrong one.
	qRecordSuccess = `UPDATE users SET failed_checks = 0, failed_since = 0 WHERE id = $1 AND tenant_id = $2`
)

// UserByID returns one user.
func (s *Store) UserByID(ctx context.Context, tenantID, id string) (usher.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.scanUser(s.row(ctx, qUserByID, s.id(id), s.id(tenantID)))
}

// UserByEmail returns the user with the given email key.
func (s *Store) UserByEmail(ctx context.Context, tenantID, emailKey string) (usher.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.scanUser(s.row(ctx, qUserByEmail, s.id(tenantID), emailKey))
}

var errNotFound = usher.Errorf(usher.NotFound, "User not found.")

func (s *Store) scanUser(row *sql.Row) (usher.User, error) {
	var u usher.User
	var email sql.NullString
	var data string
	var created, updated, failedSince int64
	err := row.Scan(idDest{&u.ID}, idDest{&u.TenantID}, &email, &u.EmailKey, &u.Hash, &u.Confirmed, &u.Enabled, &data,
		&created, &updated, &u.FailedChecks, &failedSince)
	if errors.Is(err, sql.ErrNoRows) {
		return u, errNotFound
	}
	if err != nil {
		return u, s.wrap(err)
	}
	u.Email = email.String
	if !email.Valid {
		u.Email = u.EmailKey
	}
	u.Data = []byte(data)
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(updated)
	if failedSince != 0 {
		u.FailedSince = fromMillis(failedSince)
	}
	return u, nil
}

// storedEmail is the email column of u: NULL when the address is its own
// key (the common case, lower-case ASCII), so it is not stored twice. A
// change to how keys are made must first write the old key into every NULL
// email, or those users' addresses would change with it.
func storedEmail(u *usher.User) sql.NullString {
	return sql.NullString{String: u.Email, Valid: u.Email != u.EmailKey}
}

// IDArg returns an ID as the database stores it, for SQL run outside the
// store (tests, maintenance tools).
func (s *Store) IDArg(id string) any { return s.id(id) }

// id is an ID as the database stores it.
func (s *Store) id(v string) any {
	if !s.d.BinaryIDs {
		return v
	}
	if b, ok := usher.ParseID(v); ok {
		return b[:]
	}
	return v // matches nothing: every stored ID is 16 bytes
}

// idDest scans an ID column, stored in either form, into a string.
type idDest struct{ p *string }

func (d idDest) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*d.p = v
	case []byte:
		if len(v) != 16 {
			return fmt.Errorf("an ID of %d bytes", len(v))
		}
		*d.p = usher.FormatID([16]byte(v))
	default:
		return fmt.Errorf("an ID of type %T", src)
	}
	return nil
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// tx is account.Tx on one SQL transaction.
type tx struct {
	q *sql.Tx
	s *Store
	// ctx is the transaction's: Update's ctx bounded by the operation
	// timeout. Every statement runs on it, whatever ctx the caller's fn
	// passes (in Usher, always Update's own, unbounded one): a statement on
	// a connection that stopped answering must not wait past the timeout,
	// and database/sql's rollback of the expired transaction waits for the
	// statement to return.
	ctx context.Context
}

func (t *tx) UserByID(ctx context.Context, tenantID, id string) (usher.User, error) {
	return t.s.scanUser(t.row(ctx, qUserByID, t.s.id(id), t.s.id(tenantID)))
}

func (t *tx) UserByEmail(ctx context.Context, tenantID, emailKey string) (usher.User, error) {
	return t.s.scanUser(t.row(ctx, qUserByEmail, t.s.id(tenantID), emailKey))
}

func (t *tx) LockUser(ctx context.Context, tenantID, id string) (usher.User, error) {
	return t.s.scanUser(t.row(ctx, qUserByID+t.s.d.ForUpdate, t.s.id(id), t.s.id(tenantID)))
}

var errEmailTaken = usher.Errorf(usher.EmailTaken, "A user with this email address already exists.")

func (t *tx) CreateUser(ctx context.Context, u *usher.User) error {
	_, err := t.exec(ctx, qCreateUser,
		t.s.id(u.ID), t.s.id(u.TenantID), storedEmail(u), u.EmailKey, u.Hash, u.Confirmed, u.Enabled, string(u.Data),
		millis(u.CreatedAt), millis(u.UpdatedAt), u.FailedChecks, millis(u.FailedSince))
	if err != nil && t.s.d.UniqueViolation(err) {
		return usher.Wrap(usher.EmailTaken, errEmailTaken.Message, err)
	}
	return t.s.wrap(err)
}

func (t *tx) UpdateUser(ctx context.Context, u *usher.User) error {
	res, err := t.exec(ctx, qUpdateUser,
		storedEmail(u), u.EmailKey, u.Hash, u.Confirmed, u.Enabled, string(u.Data), millis(u.UpdatedAt),
		u.FailedChecks, millis(u.FailedSince), t.s.id(u.ID), t.s.id(u.TenantID))
	if err != nil && t.s.d.UniqueViolation(err) {
		return usher.Wrap(usher.EmailTaken, errEmailTaken.Message, err)
	}
	return t.s.affected(res, err)
}

func (t *tx) DeleteUser(ctx context.Context, tenantID, id string) error {
	res, err := t.exec(ctx, `DELETE FROM users WHERE id = $1 AND tenant_id = $2`, t.s.id(id), t.s.id(tenantID))
	return t.s.affected(res, err)
}

func (t *tx) RecordCheck(ctx context.Context, tenantID, id string, failed bool, now, windowStart time.Time) error {
	var res sql.Result
	var err error
	if failed {
		res, err = t.exec(ctx, qRecordFailure, millis(windowStart), millis(now), t.s.id(id), t.s.id(tenantID))
	} else {
		res, err = t.exec(ctx, qRecordSuccess, t.s.id(id), t.s.id(tenantID))
	}
	return t.s.affected(res, err)
}

// affected maps an UPDATE or DELETE that touched no row to NotFound.
func (s *Store) affected(res sql.Result, err error) error {
	if err != nil {
		return s.wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(err)
	}
	if n == 0 {
		return errNotFound
	}
	return nil
}

// EnsureTenant creates the tenant if it does not exist and returns it as
// stored (a tenant created earlier keeps its public key).
func (s *Store) EnsureTenant(ctx context.Context, t usher.Tenant) (usher.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.w.ExecContext(ctx, `INSERT INTO tenants (id, name, public_key, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`, s.id(t.ID), t.Name, t.PublicKey, millis(t.CreatedAt))
	if err != nil {
		return usher.Tenant{}, s.wrap(err)
	}
	var created int64
	err = s.row(ctx, `SELECT id, name, public_key, created_at FROM tenants WHERE id = $1`, s.id(t.ID)).
		Scan(idDest{&t.ID}, &t.Name, &t.PublicKey, &created)
	if err != nil {
		return usher.Tenant{}, s.wrap(err)
	}
	t.CreatedAt = fromMillis(created)
	return t, nil
}

// TenantByKey returns the tenant whose public key is key.
func (s *Store) TenantByKey(ctx context.Context, key string) (usher.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var t usher.Tenant
	var created int64
	err := s.row(ctx, `SELECT id, name, public_key, created_at FROM tenants WHERE public_key = $1`, key).
		Scan(idDest{&t.ID}, &t.Name, &t.PublicKey, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return t, usher.Errorf(usher.NotFound, "Tenant not found.")
	}
	if err != nil {
		return t, s.wrap(err)
	}
	t.CreatedAt = fromMillis(created)
	return t, nil
}
