// Package store implements account.Store over database/sql. One
// implementation serves SQLite and PostgreSQL: the SQL text is shared (both
// drivers bind $1..$N by position) and a small Dialect holds what differs.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
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
	// ForeignKeyViolation reports a row naming a parent that does not
	// exist (a user of a tenant deleted meanwhile), by error code.
	ForeignKeyViolation func(error) bool
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
	// Replan is put before the arguments of a query whose best plan
	// depends on the data (long IN lists, filtered listings), so that it is
	// planned for its arguments and today's table on every run; a plan
	// cached when the table was empty would scan it once it is large.
	Replan []any
	// ClaimLock is run first in a webhook claim's transaction to make
	// claims take turns across nodes, so that each sees the others'
	// (committed) leases; "" when writers already take turns (SQLite).
	ClaimLock string
	// AnalyzeUsers refreshes the planner's statistics of the users table
	// after a bulk import; "" when the engine needs none for its plans.
	AnalyzeUsers string
	// Unbounded is run first in a long read (an export) to lift the
	// engine's per-statement time limit for it; "" when there is none.
	Unbounded string
	// EmailIndex is put after "FROM users" to make a search scan the
	// (tenant_id, email_key) index: " INDEXED BY users_tenant_email" on
	// SQLite, whose planner has no statistics to choose between reading
	// users in creation order and that scan. "" where the planner chooses
	// with the table's statistics (PostgreSQL): a search is then one query.
	EmailIndex string
	// AnonymousParams writes the parameters of a long list (an IN list, a
	// many-row INSERT) as "?", numbered by position, instead of "$N":
	// SQLite looks each named parameter up in a list when binding it, so a
	// statement's cost grows with the square of its named parameters.
	AnonymousParams bool
	// BinaryIDs stores IDs (user, tenant, session, message) as their 16
	// bytes instead of 36 characters of text. PostgreSQL's UUID columns
	// take and return the text form and store 16 bytes themselves.
	BinaryIDs bool
	// BinaryHashes stores an argon2id hash as its parts (hash.go) in a
	// column that takes bytes.
	BinaryHashes bool
	// TenantNumbers stores a user's tenant as the tenant's number
	// (tenants.no, a small integer given when the tenant is created, one
	// byte or none) instead of its 16-byte ID, in the row and in each of
	// its indexes. The SQL turns one into the other (users.go: tenantIs,
	// tenantOf).
	TenantNumbers bool
	// PrepareSignIn prepares the statements every password check and
	// sign-in runs (the lockout counters, the second factor, the audit
	// log) once, at New: SQLite compiles each statement it is given, and
	// compiling them cost a tenth of a sign-in's own CPU. PostgreSQL's
	// driver keeps a prepared statement per connection already, and drops
	// it when a migration changes a table under it, which a statement
	// prepared by hand would not.
	PrepareSignIn bool
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
	sql            userSQL
	searchWindow   int    // see SetSearchWindow
	qInsertUsers   string // an INSERT of insertRows users, in the dialect's parameters
}

var _ account.Store = (*Store)(nil)

// New returns a Store over the given writer and reader pools. Every
// operation is bounded by timeout (0: no bound of its own), so a database
// that stops answering costs a request a 503, never a hang.
func New(ctx context.Context, w, r *sql.DB, d Dialect, timeout time.Duration) (*Store, error) {
	s := &Store{w: w, r: r, d: d, timeout: timeout, rstmts: map[string]*sql.Stmt{}, wstmts: map[string]*sql.Stmt{}}
	s.sql = newUserSQL(s)
	s.qInsertUsers = s.insertUsersSQL(insertRows)
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
	q := s.sql
	err := prepare(r, s.rstmts, q.byID, q.byEmail, q.sessionUser)
	if err == nil {
		err = prepare(w, s.wstmts, q.byID, q.byEmail, q.byID+d.ForUpdate, q.create, q.update,
			q.recordFailure, qCreateSession, s.qInsertUsers)
	}
	if err == nil && d.PrepareSignIn {
		err = prepare(w, s.wstmts, qCount, qClearCount, qLockTOTP+d.ForUpdate, qAppendEvent, qQueueDeliveries)
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
func (t *tx) row(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.s.wstmts[q]; st != nil {
		return t.q.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, q, args...)
}

// exec runs a statement in the transaction.
func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
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
// transaction that lost a conflict. fn gets the transaction's context:
// ctx bounded by the operation timeout.
func (s *Store) Update(ctx context.Context, fn func(context.Context, account.Tx) error) error {
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

func (s *Store) update(ctx context.Context, fn func(context.Context, account.Tx) error) (err error) {
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
	if err := fn(ctx, &tx{q: sqlTx, s: s}); err != nil {
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

// replan returns args prefixed by the dialect's Replan.
func (s *Store) replan(args []any) []any {
	if len(s.d.Replan) == 0 {
		return args
	}
	return append(append(make([]any, 0, len(s.d.Replan)+len(args)), s.d.Replan...), args...)
}

// limit returns " LIMIT n" with n written into the statement rather than
// bound. SQLite plans with the value bound to a LIMIT (not an OFFSET), so a
// statement whose limit is a parameter is compiled again at its first step
// after each binding (sqlite3Reprepare): twice for every statement that is
// not prepared, and at every call of one that is. n is an int from Usher's
// code, checked where it came from a request, never text; below zero it is
// taken as 0 (SQLite reads a negative LIMIT as none at all).
func limit(n int) string { return " LIMIT " + strconv.Itoa(max(n, 0)) }

// params returns "$k+1, $k+2, …, $k+n", the placeholders of n arguments
// that follow k others: an IN list's.
func params(k, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(k+i+1))
	}
	return b.String()
}

// IDArg returns an ID as the database stores it, for SQL run outside the
// store (tests, maintenance tools).
func (s *Store) IDArg(id string) any { return s.id(id) }

// UsersOfTenant is the SQL condition that a row of users belongs to the
// tenant whose ID is the parameter p (a tenant's number stands for it in
// users on some engines), for tests that read the tables.
func (s *Store) UsersOfTenant(p string) string { return s.tenantIs(p) }

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

// nullIDDest scans a nullable ID column: NULL is "".
type nullIDDest struct{ p *string }

func (d nullIDDest) Scan(src any) error {
	if src == nil {
		*d.p = ""
		return nil
	}
	return idDest(d).Scan(src)
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// tx is account.Tx on one SQL transaction. Its statements run on the
// context each call passes: Update's, bounded by the operation timeout, so a
// statement on a connection that stopped answering cannot wait past it.
type tx struct {
	q *sql.Tx
	s *Store
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
