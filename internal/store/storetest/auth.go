package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// This file covers the rest of the store: sessions, tickets, counters, the
// outbox, signing keys, the sweep and tenant lookup. Where a field is not
// exposed by any method (outbox status and params, rows left behind by a
// cascade), the tests read the tables through s.DB(), with SQL that both
// engines accept.

// mustUpdate runs fn in one transaction, failing the test on error.
func mustUpdate(t *testing.T, s *store.Store, what string, fn func(tx account.Tx) error) {
	t.Helper()
	if err := s.Update(ctx(t), fn); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// countRows returns the count(*) of a query on the writer pool.
func countRows(t *testing.T, s *store.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(ctx(t), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// ms is the smallest step of the stores' clock.
const ms = time.Millisecond

// --- Sessions ---

func newSession(tenantID, userID string, expires time.Time) usher.Session {
	return usher.Session{ID: usher.NewID(base), TenantID: tenantID, UserID: userID, CreatedAt: base, ExpiresAt: expires}
}

// createSessions stores sessions in one transaction.
func createSessions(t *testing.T, s *store.Store, sessions ...usher.Session) {
	t.Helper()
	mustUpdate(t, s, "CreateSession", func(tx account.Tx) error {
		for _, sess := range sessions {
			if err := tx.CreateSession(ctx(t), sess); err != nil {
				return err
			}
		}
		return nil
	})
}

// wantLive fails the test unless sess is live at base and names u.
func wantLive(t *testing.T, s *store.Store, what string, sess usher.Session, u usher.User) {
	t.Helper()
	got, err := s.SessionUser(ctx(t), sess.TenantID, sess.ID, sess.UserID, base)
	if err != nil {
		t.Errorf("%s: SessionUser: got %v, want the user", what, err)
		return
	}
	wantUser(t, what+": SessionUser", got, u)
}

// wantGone fails the test unless sess is not found at base.
func wantGone(t *testing.T, s *store.Store, what string, sess usher.Session) {
	t.Helper()
	_, err := s.SessionUser(ctx(t), sess.TenantID, sess.ID, sess.UserID, base)
	wantCode(t, what+": SessionUser", err, usher.NotFound)
}

func testSessions(t *testing.T, s *store.Store) {
	tenant, other := newTenant(t, s), newTenant(t, s)
	alice := create(t, s, newUser(tenant, "alice@example.com"))
	bob := create(t, s, newUser(tenant, "bob@example.com"))
	sess := newSession(tenant, alice.ID, base.Add(time.Hour))
	createSessions(t, s, sess)

	t.Run("SessionUser", func(t *testing.T) {
		tests := []struct {
			name               string
			tenant, id, userID string
			now                time.Time
			found              bool
		}{
			{"Live", tenant, sess.ID, alice.ID, base, true},
			{"JustBeforeExpiry", tenant, sess.ID, alice.ID, sess.ExpiresAt.Add(-ms), true},
			{"AtExpiry", tenant, sess.ID, alice.ID, sess.ExpiresAt, false},
			{"AfterExpiry", tenant, sess.ID, alice.ID, sess.ExpiresAt.Add(time.Hour), false},
			{"OtherUser", tenant, sess.ID, bob.ID, base, false},
			{"OtherTenant", other, sess.ID, alice.ID, base, false},
			{"UnknownSession", tenant, usher.NewID(base), alice.ID, base, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.SessionUser(ctx(t), tt.tenant, tt.id, tt.userID, tt.now)
				if !tt.found {
					wantCode(t, "SessionUser", err, usher.NotFound)
					return
				}
				if err != nil {
					t.Fatalf("SessionUser: %v", err)
				}
				wantUser(t, "SessionUser", got, alice)
			})
		}
	})

	t.Run("RolledBack", func(t *testing.T) {
		lost := newSession(tenant, alice.ID, base.Add(time.Hour))
		err := s.Update(ctx(t), func(tx account.Tx) error {
			if err := tx.CreateSession(ctx(t), lost); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		wantGone(t, s, "session created in a rolled back transaction", lost)
	})

	t.Run("DeleteSession", func(t *testing.T) {
		doomed := newSession(tenant, alice.ID, base.Add(time.Hour))
		createSessions(t, s, doomed)

		err := s.Update(ctx(t), func(tx account.Tx) error { return tx.DeleteSession(ctx(t), other, doomed.ID) })
		wantCode(t, "DeleteSession from another tenant", err, usher.NotFound)
		wantLive(t, s, "after DeleteSession from another tenant", doomed, alice)

		mustUpdate(t, s, "DeleteSession", func(tx account.Tx) error { return tx.DeleteSession(ctx(t), tenant, doomed.ID) })
		wantGone(t, s, "after DeleteSession", doomed)
		err = s.Update(ctx(t), func(tx account.Tx) error { return tx.DeleteSession(ctx(t), tenant, doomed.ID) })
		wantCode(t, "second DeleteSession", err, usher.NotFound)
		wantLive(t, s, "another session after DeleteSession", sess, alice)
	})

	t.Run("DeleteSessions", func(t *testing.T) {
		a1, a2 := newSession(tenant, alice.ID, base.Add(time.Hour)), newSession(tenant, alice.ID, base.Add(2*time.Hour))
		b1 := newSession(tenant, bob.ID, base.Add(time.Hour))
		createSessions(t, s, a1, a2, b1)

		mustUpdate(t, s, "DeleteSessions from another tenant", func(tx account.Tx) error {
			return tx.DeleteSessions(ctx(t), other, alice.ID)
		})
		wantLive(t, s, "after DeleteSessions from another tenant", a1, alice)

		mustUpdate(t, s, "DeleteSessions", func(tx account.Tx) error { return tx.DeleteSessions(ctx(t), tenant, alice.ID) })
		for _, gone := range []usher.Session{sess, a1, a2} {
			wantGone(t, s, "the user's session after DeleteSessions", gone)
		}
		wantLive(t, s, "another user's session after DeleteSessions", b1, bob)

		mustUpdate(t, s, "DeleteSessions of a user without sessions", func(tx account.Tx) error {
			return tx.DeleteSessions(ctx(t), tenant, alice.ID)
		})
	})

	t.Run("DeleteUserCascades", func(t *testing.T) {
		carol := create(t, s, newUser(tenant, "carol@example.com"))
		createSessions(t, s, newSession(tenant, carol.ID, base.Add(time.Hour)), newSession(tenant, carol.ID, base.Add(time.Hour)))
		mustUpdate(t, s, "DeleteUser", func(tx account.Tx) error { return tx.DeleteUser(ctx(t), tenant, carol.ID) })
		if n := countRows(t, s, `SELECT count(*) FROM sessions WHERE user_id = $1`, s.IDArg(carol.ID)); n != 0 {
			t.Errorf("sessions of a deleted user: got %d rows, want 0", n)
		}
	})
}

// --- Tickets ---

func newTicket(u usher.User, purpose, secret string, created time.Time) usher.Ticket {
	return usher.Ticket{
		UserID: u.ID, TenantID: u.TenantID, Purpose: purpose, Secret: secret,
		CreatedAt: created, ExpiresAt: created.Add(15 * time.Minute),
	}
}

func putTickets(t *testing.T, s *store.Store, tickets ...usher.Ticket) {
	t.Helper()
	mustUpdate(t, s, "PutTicket", func(tx account.Tx) error {
		for _, k := range tickets {
			if err := tx.PutTicket(ctx(t), k); err != nil {
				return err
			}
		}
		return nil
	})
}

// wantTicket fails the test unless Ticket returns want.
func wantTicket(t *testing.T, s *store.Store, what string, want usher.Ticket) {
	t.Helper()
	got, err := s.Ticket(ctx(t), want.UserID, want.Purpose)
	if err != nil {
		t.Errorf("%s: Ticket: %v", what, err)
		return
	}
	if d := diff(got, want); d != "" {
		t.Errorf("%s: ticket differs:\n%s", what, d)
	}
}

func wantNoTicket(t *testing.T, s *store.Store, what, userID, purpose string) {
	t.Helper()
	_, err := s.Ticket(ctx(t), userID, purpose)
	wantCode(t, what+": Ticket", err, usher.NotFound)
}

func testTickets(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	alice := create(t, s, newUser(tenant, "alice@example.com"))
	bob := create(t, s, newUser(tenant, "bob@example.com"))
	const purposeOther = "storetest"
	zone := time.FixedZone("UTC-3", -3*3600)

	reset := newTicket(alice, usher.PurposeReset, "sha256:first", base.In(zone))
	reset.Tries = 1
	putTickets(t, s, reset)

	t.Run("PutAndRead", func(t *testing.T) {
		wantTicket(t, s, "after PutTicket", reset)
		wantNoTicket(t, s, "another purpose", alice.ID, usher.PurposeVerify)
		wantNoTicket(t, s, "another user", bob.ID, usher.PurposeReset)
	})

	t.Run("Replace", func(t *testing.T) {
		next := newTicket(alice, usher.PurposeReset, "sha256:second", base.Add(time.Minute+7*ms))
		next.Tries = 0
		putTickets(t, s, next)
		wantTicket(t, s, "after a second PutTicket", next)
		if n := countRows(t, s, `SELECT count(*) FROM codes WHERE user_id = $1 AND purpose = $2`, s.IDArg(alice.ID), usher.PurposeReset); n != 1 {
			t.Errorf("rows for one user and purpose: got %d, want 1", n)
		}
		reset = next
	})

	verify := newTicket(alice, usher.PurposeVerify, "sealed:verify", base.Add(2*time.Minute))
	t.Run("PurposesIndependent", func(t *testing.T) {
		putTickets(t, s, verify)
		wantTicket(t, s, "reset after PutTicket of verify", reset)
		wantTicket(t, s, "verify", verify)

		next := newTicket(alice, usher.PurposeReset, "sha256:third", base.Add(3*time.Minute))
		putTickets(t, s, next)
		wantTicket(t, s, "verify after PutTicket of reset", verify)
		wantTicket(t, s, "reset", next)
		reset = next
	})

	t.Run("RolledBack", func(t *testing.T) {
		err := s.Update(ctx(t), func(tx account.Tx) error {
			if err := tx.PutTicket(ctx(t), newTicket(alice, usher.PurposeReset, "sha256:lost", base.Add(time.Hour))); err != nil {
				return err
			}
			if err := tx.SetTicketTries(ctx(t), alice.ID, usher.PurposeVerify, 9); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		wantTicket(t, s, "reset after a rolled back PutTicket", reset)
		wantTicket(t, s, "verify after a rolled back SetTicketTries", verify)
	})

	t.Run("LockAndSetTries", func(t *testing.T) {
		mustUpdate(t, s, "LockTicket and SetTicketTries", func(tx account.Tx) error {
			got, err := tx.LockTicket(ctx(t), alice.ID, usher.PurposeReset)
			if err != nil {
				return fmt.Errorf("LockTicket: %w", err)
			}
			if d := diff(got, reset); d != "" {
				t.Errorf("LockTicket: ticket differs:\n%s", d)
			}
			if err := tx.SetTicketTries(ctx(t), alice.ID, usher.PurposeReset, got.Tries+3); err != nil {
				return fmt.Errorf("SetTicketTries: %w", err)
			}
			again, err := tx.LockTicket(ctx(t), alice.ID, usher.PurposeReset)
			if err != nil {
				return fmt.Errorf("LockTicket after SetTicketTries: %w", err)
			}
			if again.Tries != got.Tries+3 {
				t.Errorf("LockTicket after SetTicketTries: got %d tries, want %d", again.Tries, got.Tries+3)
			}
			return nil
		})
		reset.Tries += 3
		wantTicket(t, s, "reset after SetTicketTries", reset)
		wantTicket(t, s, "verify after SetTicketTries of reset", verify)
	})

	t.Run("Missing", func(t *testing.T) {
		ops := []struct {
			name string
			fn   func(tx account.Tx) error
		}{
			{"LockTicket", func(tx account.Tx) error {
				_, err := tx.LockTicket(ctx(t), bob.ID, usher.PurposeReset)
				return err
			}},
			{"SetTicketTries", func(tx account.Tx) error { return tx.SetTicketTries(ctx(t), bob.ID, usher.PurposeReset, 1) }},
			{"SetTicketTriesOtherPurpose", func(tx account.Tx) error {
				return tx.SetTicketTries(ctx(t), alice.ID, purposeOther, 1)
			}},
		}
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				err := s.Update(ctx(t), op.fn)
				wantCode(t, op.name+" of a missing ticket", err, usher.NotFound)
			})
		}
		wantNoTicket(t, s, "after SetTicketTries of a missing ticket", alice.ID, purposeOther)
	})

	t.Run("DeleteTickets", func(t *testing.T) {
		kept := newTicket(alice, purposeOther, "other", base)
		bobs := newTicket(bob, usher.PurposeReset, "sha256:bob", base)
		putTickets(t, s, kept, bobs)

		mustUpdate(t, s, "DeleteTickets of no purpose", func(tx account.Tx) error { return tx.DeleteTickets(ctx(t), alice.ID) })
		wantTicket(t, s, "reset after DeleteTickets of no purpose", reset)

		mustUpdate(t, s, "DeleteTickets", func(tx account.Tx) error {
			return tx.DeleteTickets(ctx(t), alice.ID, usher.PurposeReset, usher.PurposeVerify)
		})
		wantNoTicket(t, s, "reset after DeleteTickets", alice.ID, usher.PurposeReset)
		wantNoTicket(t, s, "verify after DeleteTickets", alice.ID, usher.PurposeVerify)
		wantTicket(t, s, "a purpose not deleted", kept)
		wantTicket(t, s, "another user's ticket", bobs)

		mustUpdate(t, s, "DeleteTickets of absent tickets", func(tx account.Tx) error {
			return tx.DeleteTickets(ctx(t), alice.ID, usher.PurposeReset, usher.PurposeVerify)
		})
	})

	t.Run("DeleteUserCascades", func(t *testing.T) {
		carol := create(t, s, newUser(tenant, "carol@example.com"))
		putTickets(t, s, newTicket(carol, usher.PurposeReset, "r", base), newTicket(carol, usher.PurposeVerify, "v", base))
		mustUpdate(t, s, "DeleteUser", func(tx account.Tx) error { return tx.DeleteUser(ctx(t), tenant, carol.ID) })
		if n := countRows(t, s, `SELECT count(*) FROM codes WHERE user_id = $1`, s.IDArg(carol.ID)); n != 0 {
			t.Errorf("tickets of a deleted user: got %d rows, want 0", n)
		}
	})
}

// --- Counters ---

// count runs Count in a transaction of its own.
func count(t *testing.T, s *store.Store, key string, now, windowStart time.Time) (int, error) {
	var n int
	err := s.Update(ctx(t), func(tx account.Tx) error {
		var err error
		n, err = tx.Count(ctx(t), key, now, windowStart)
		return err
	})
	return n, err
}

func testCount(t *testing.T, s *store.Store) {
	const window = time.Hour
	steps := []struct {
		name       string
		key        string
		now        time.Time
		windowFrom time.Time // zero: now - window
		want       int
	}{
		{"First", "a", base, time.Time{}, 1},
		{"Second", "a", base.Add(time.Minute), time.Time{}, 2},
		{"Third", "a", base.Add(2 * time.Minute), time.Time{}, 3},
		{"AtWindowStartCounts", "a", base.Add(window), base, 4},
		{"AfterWindowRestarts", "a", base.Add(window + ms), base.Add(ms), 1},
		{"NewWindowCounts", "a", base.Add(window + 2*time.Minute), time.Time{}, 2},
		{"OtherKeyIndependent", "b", base.Add(window + 3*time.Minute), time.Time{}, 1},
		{"FirstKeyUnaffected", "a", base.Add(window + 4*time.Minute), time.Time{}, 3},
		{"OtherKeyCounts", "b", base.Add(window + 5*time.Minute), time.Time{}, 2},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			from := st.windowFrom
			if from.IsZero() {
				from = st.now.Add(-window)
			}
			got, err := count(t, s, st.key, st.now, from)
			if err != nil {
				t.Fatalf("Count: %v", err)
			}
			if got != st.want {
				t.Errorf("Count(%q): got %d, want %d", st.key, got, st.want)
			}
		})
	}

	t.Run("RolledBack", func(t *testing.T) {
		now := base.Add(window + 6*time.Minute)
		err := s.Update(ctx(t), func(tx account.Tx) error {
			if _, err := tx.Count(ctx(t), "a", now, now.Add(-window)); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		got, err := count(t, s, "a", now, now.Add(-window))
		if err != nil {
			t.Fatalf("Count: %v", err)
		}
		if got != 4 {
			t.Errorf("Count after a rolled back Count: got %d, want 4", got)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		const n = 20
		got := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = count(t, s, "concurrent", base, base.Add(-window))
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Count %d: %v", i, err)
			}
		}
		slices.Sort(got)
		for i, v := range got {
			if v != i+1 {
				t.Fatalf("values of %d concurrent Counts: got %v, want 1..%d once each", n, got, n)
			}
		}
		last, err := count(t, s, "concurrent", base, base.Add(-window))
		if err != nil {
			t.Fatalf("Count: %v", err)
		}
		if last != n+1 {
			t.Errorf("Count after %d concurrent Counts: got %d, want %d", n, last, n+1)
		}
	})
}

// --- Outbox ---

// outboxRow is what the outbox holds of a message beyond usher.Message.
type outboxRow struct {
	Status, Params, LastError string
	Attempts                  int
	NextAttemptAt, SentAt     int64 // Unix milliseconds
}

func readOutbox(t *testing.T, s *store.Store, id string) outboxRow {
	t.Helper()
	var r outboxRow
	err := s.DB().QueryRowContext(ctx(t), `SELECT status, params, last_error, attempts, next_attempt_at, sent_at
		FROM outbox WHERE id = $1`, s.IDArg(id)).Scan(&r.Status, &r.Params, &r.LastError, &r.Attempts, &r.NextAttemptAt, &r.SentAt)
	if err != nil {
		t.Fatalf("reading outbox row %s: %v", id, err)
	}
	return r
}

// emptyOutbox deletes every message, so a case claims only its own.
func emptyOutbox(t *testing.T, s *store.Store) {
	t.Helper()
	if _, err := s.DB().ExecContext(ctx(t), `DELETE FROM outbox`); err != nil {
		t.Fatalf("emptying the outbox: %v", err)
	}
}

func newMessage(tenantID string, i int) usher.Message {
	return usher.Message{
		ID: usher.NewID(base), TenantID: tenantID, Kind: usher.MailReset,
		To: fmt.Sprintf("to%d@example.com", i), Params: fmt.Sprintf("sealed-params-%d", i),
	}
}

func enqueue(t *testing.T, s *store.Store, m usher.Message, now time.Time) {
	t.Helper()
	mustUpdate(t, s, "Enqueue", func(tx account.Tx) error { return tx.Enqueue(ctx(t), m, now) })
}

func claim(t *testing.T, s *store.Store, now time.Time, lease time.Duration, limit int) []usher.Message {
	t.Helper()
	got, err := s.Claim(ctx(t), now, lease, limit)
	if err != nil {
		t.Fatalf("Claim at %v: %v", now, err)
	}
	return got
}

// wantClaimed fails the test unless got is exactly want, in any order.
func wantClaimed(t *testing.T, what string, got []usher.Message, want ...usher.Message) {
	t.Helper()
	byID := func(a, b usher.Message) int { return strings.Compare(a.ID, b.ID) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if len(got) != len(want) {
		t.Errorf("%s: got %d messages %v, want %d %v", what, len(got), got, len(want), want)
		return
	}
	for i := range got {
		if d := diff(got[i], want[i]); d != "" {
			t.Errorf("%s: message %s differs:\n%s", what, want[i].ID, d)
		}
	}
}

func testOutbox(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	const lease = time.Minute
	future := base.Add(365 * 24 * time.Hour)

	t.Run("EnqueueRolledBack", func(t *testing.T) {
		emptyOutbox(t, s)
		err := s.Update(ctx(t), func(tx account.Tx) error {
			if err := tx.Enqueue(ctx(t), newMessage(tenant, 0), base); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		wantClaimed(t, "Claim after a rolled back Enqueue", claim(t, s, future, lease, 10))
	})

	t.Run("ClaimLeases", func(t *testing.T) {
		emptyOutbox(t, s)
		m := newMessage(tenant, 1)
		enqueue(t, s, m, base)
		if r := readOutbox(t, s, m.ID); r.Status != "pending" || r.Params != m.Params || r.Attempts != 0 {
			t.Errorf("enqueued row: got %+v, want pending with its params and no attempt", r)
		}
		want := m
		want.Attempts = 1
		wantClaimed(t, "first Claim", claim(t, s, base, lease, 10), want)
		wantClaimed(t, "second Claim at the same time", claim(t, s, base, lease, 10))
		wantClaimed(t, "Claim just before the lease lapses", claim(t, s, base.Add(lease-ms), lease, 10))
		want.Attempts = 2
		wantClaimed(t, "Claim once the lease lapsed", claim(t, s, base.Add(lease), lease, 10), want)
	})

	t.Run("NotYetDue", func(t *testing.T) {
		emptyOutbox(t, s)
		m := newMessage(tenant, 2)
		due := base.Add(time.Hour)
		enqueue(t, s, m, due)
		wantClaimed(t, "Claim before the message is due", claim(t, s, base, lease, 10))
		wantClaimed(t, "Claim just before the message is due", claim(t, s, due.Add(-ms), lease, 10))
		m.Attempts = 1
		wantClaimed(t, "Claim when the message is due", claim(t, s, due, lease, 10), m)
	})

	t.Run("MarkSent", func(t *testing.T) {
		emptyOutbox(t, s)
		m := newMessage(tenant, 3)
		enqueue(t, s, m, base)
		claim(t, s, base, lease, 10)
		sent := base.Add(time.Second)
		if err := s.MarkSent(ctx(t), m.ID, sent); err != nil {
			t.Fatalf("MarkSent: %v", err)
		}
		r := readOutbox(t, s, m.ID)
		if r.Status != "sent" || r.Params != "" || r.SentAt != sent.UnixMilli() {
			t.Errorf("sent row: got status %q, params %q, sent_at %d; want \"sent\", \"\", %d", r.Status, r.Params, r.SentAt, sent.UnixMilli())
		}
		wantClaimed(t, "Claim of a sent message once its lease lapsed", claim(t, s, future, lease, 10))
	})

	t.Run("MarkFailedRetries", func(t *testing.T) {
		emptyOutbox(t, s)
		m := newMessage(tenant, 4)
		enqueue(t, s, m, base)
		claim(t, s, base, time.Hour, 10) // a lease longer than the retry delay
		next := base.Add(10 * time.Minute)
		const reason = "smtp: 451 try again later"
		if err := s.MarkFailed(ctx(t), m.ID, next, reason, false); err != nil {
			t.Fatalf("MarkFailed: %v", err)
		}
		r := readOutbox(t, s, m.ID)
		if r.Status != "pending" || r.Params != m.Params || r.LastError != reason || r.NextAttemptAt != next.UnixMilli() {
			t.Errorf("failed row: got %+v, want pending with its params, error %q, next attempt %d", r, reason, next.UnixMilli())
		}
		wantClaimed(t, "Claim before the next attempt", claim(t, s, next.Add(-ms), lease, 10))
		m.Attempts = 2
		wantClaimed(t, "Claim at the next attempt", claim(t, s, next, lease, 10), m)
	})

	t.Run("MarkFailedAbandons", func(t *testing.T) {
		emptyOutbox(t, s)
		m := newMessage(tenant, 5)
		enqueue(t, s, m, base)
		claim(t, s, base, lease, 10)
		if err := s.MarkFailed(ctx(t), m.ID, base.Add(10*time.Minute), "smtp: 550 no such user", true); err != nil {
			t.Fatalf("MarkFailed: %v", err)
		}
		if r := readOutbox(t, s, m.ID); r.Status != "abandoned" || r.Params != "" {
			t.Errorf("abandoned row: got status %q, params %q; want \"abandoned\", \"\"", r.Status, r.Params)
		}
		wantClaimed(t, "Claim of an abandoned message", claim(t, s, future, lease, 10))
	})

	// A delivery error is arbitrary text: MarkFailed must store a long one,
	// non-ASCII included, or the message can never be rescheduled.
	t.Run("MarkFailedLongReason", func(t *testing.T) {
		emptyOutbox(t, s)
		m := newMessage(tenant, 6)
		enqueue(t, s, m, base)
		claim(t, s, base, lease, 10)
		reason := "smtp: 554 " + strings.Repeat("x", 489) + strings.Repeat("é", 100) // "é" straddles byte 500
		next := base.Add(time.Minute)
		if err := s.MarkFailed(ctx(t), m.ID, next, reason, false); err != nil {
			t.Fatalf("MarkFailed with a %d-byte reason: %v", len(reason), err)
		}
		r := readOutbox(t, s, m.ID)
		if len(r.LastError) == 0 || len(r.LastError) > 500 || !strings.HasPrefix(reason, r.LastError) || !utf8.ValidString(r.LastError) {
			t.Errorf("stored reason: got %d bytes ending %q (valid UTF-8: %t), want a non-empty valid UTF-8 prefix of at most 500 bytes",
				len(r.LastError), r.LastError[max(0, len(r.LastError)-12):], utf8.ValidString(r.LastError))
		}
		m.Attempts = 2
		wantClaimed(t, "Claim at the next attempt", claim(t, s, next, lease, 10), m)
	})

	t.Run("Limit", func(t *testing.T) {
		emptyOutbox(t, s)
		var msgs []usher.Message
		for i := range 5 {
			m := newMessage(tenant, 10+i)
			// Enqueued latest first, so an order by insertion is caught.
			enqueue(t, s, m, base.Add(time.Duration(5-i)*time.Second))
			m.Attempts = 1
			msgs = append(msgs, m)
		}
		now := base.Add(time.Minute)
		wantClaimed(t, "first Claim of 2", claim(t, s, now, lease, 2), msgs[4], msgs[3])
		wantClaimed(t, "second Claim of 2", claim(t, s, now, lease, 2), msgs[2], msgs[1])
		wantClaimed(t, "third Claim of 2", claim(t, s, now, lease, 2), msgs[0])
		wantClaimed(t, "fourth Claim of 2", claim(t, s, now, lease, 2))
	})

	t.Run("ConcurrentClaims", func(t *testing.T) {
		emptyOutbox(t, s)
		const messages, claimers = 40, 4
		mustUpdate(t, s, "Enqueue", func(tx account.Tx) error {
			for i := range messages {
				if err := tx.Enqueue(ctx(t), newMessage(tenant, 100+i), base); err != nil {
					return err
				}
			}
			return nil
		})
		now := base.Add(time.Minute)
		got := make([][]string, claimers)
		errs := make([]error, claimers)
		var wg sync.WaitGroup
		for i := range claimers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					batch, err := s.Claim(ctx(t), now, lease, 3)
					if err != nil {
						errs[i] = err
						return
					}
					if len(batch) == 0 {
						return
					}
					for _, m := range batch {
						got[i] = append(got[i], m.ID)
					}
				}
			}()
		}
		wg.Wait()
		seen := map[string]int{}
		for i := range claimers {
			if errs[i] != nil {
				t.Errorf("claimer %d: %v", i, errs[i])
			}
			for _, id := range got[i] {
				seen[id]++
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("message %s: claimed %d times, want once", id, n)
			}
		}
		if len(seen) != messages {
			t.Errorf("concurrent claimers: got %d distinct messages, want %d", len(seen), messages)
		}
		if n := countRows(t, s, `SELECT count(*) FROM outbox WHERE attempts = 1`); n != messages {
			t.Errorf("rows with one attempt: got %d, want %d", n, messages)
		}
	})
}

// --- Signing keys ---

func testSigningKeys(t *testing.T, s *store.Store) {
	keys, err := s.SigningKeys(ctx(t))
	if err != nil {
		t.Fatalf("SigningKeys of an empty store: %v", err)
	}
	if len(keys) != 0 {
		t.Errorf("SigningKeys of an empty store: got %d keys, want none", len(keys))
	}

	// KIDs sort against creation, so an order by KID is caught.
	newKey := func(kid string, created time.Time) usher.SigningKey {
		return usher.SigningKey{KID: kid, Algorithm: "EdDSA", Public: "pub-" + kid, Private: "sealed-" + kid, CreatedAt: created}
	}
	k1 := newKey("z-first", base)
	k2 := newKey("m-second", base.Add(24*time.Hour))
	k3 := newKey("a-third", base.Add(48*time.Hour+ms))

	steps := []struct {
		name string
		add  usher.SigningKey
		want []usher.SigningKey // after the add
	}{
		{"First", k1, []usher.SigningKey{k1}},
		{"SecondRetiresFirst", k2, []usher.SigningKey{retired(k1, k2.CreatedAt), k2}},
		{"ThirdRetiresOnlyActive", k3, []usher.SigningKey{retired(k1, k2.CreatedAt), retired(k2, k3.CreatedAt), k3}},
	}
	var last []usher.SigningKey
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.AddSigningKey(ctx(t), st.add); err != nil {
				t.Fatalf("AddSigningKey(%s): %v", st.add.KID, err)
			}
			wantKeys(t, s, st.want)
			last = st.want
		})
	}

	// One transaction: a key that cannot be stored retires nothing.
	t.Run("FailedAddRetiresNothing", func(t *testing.T) {
		dup := newKey(k3.KID, base.Add(72*time.Hour))
		if err := s.AddSigningKey(ctx(t), dup); err == nil {
			t.Fatalf("AddSigningKey of a taken KID: got nil error, want one")
		}
		wantKeys(t, s, last)
	})
}

func retired(k usher.SigningKey, at time.Time) usher.SigningKey {
	k.RetiredAt = at
	return k
}

func wantKeys(t *testing.T, s *store.Store, want []usher.SigningKey) {
	t.Helper()
	got, err := s.SigningKeys(ctx(t))
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("SigningKeys: got %d keys %+v, want %d", len(got), got, len(want))
	}
	for i := range got {
		if d := diff(got[i], want[i]); d != "" {
			t.Errorf("SigningKeys[%d] (want %s): key differs:\n%s", i, want[i].KID, d)
		}
		if want[i].RetiredAt.IsZero() && !got[i].RetiredAt.IsZero() {
			t.Errorf("SigningKeys[%d]: got RetiredAt %v, want the zero time", i, got[i].RetiredAt)
		}
	}
}

// --- Sweep ---

func testSweep(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	u := create(t, s, newUser(tenant, "sweep@example.com"))
	now := base.Add(30 * 24 * time.Hour)
	const week = 7 * 24 * time.Hour

	expired := newSession(tenant, u.ID, now.Add(-ms))
	atNow := newSession(tenant, u.ID, now) // dead to SessionUser already
	live := newSession(tenant, u.ID, now.Add(ms))
	createSessions(t, s, expired, atNow, live)

	oldTicket := newTicket(u, usher.PurposeReset, "old", now.Add(-time.Hour))
	oldTicket.ExpiresAt = now
	liveTicket := newTicket(u, usher.PurposeVerify, "live", now.Add(-time.Minute))
	putTickets(t, s, oldTicket, liveTicket)

	for _, c := range []struct {
		key string
		at  time.Time
	}{{"old", now.Add(-48 * time.Hour)}, {"recent", now.Add(-time.Minute)}} {
		if _, err := count(t, s, c.key, c.at, c.at.Add(-time.Hour)); err != nil {
			t.Fatalf("Count(%s): %v", c.key, err)
		}
	}

	sentOld, abandonedOld, pendingOld, sentRecent := newMessage(tenant, 1), newMessage(tenant, 2), newMessage(tenant, 3), newMessage(tenant, 4)
	for _, m := range []usher.Message{sentOld, abandonedOld, pendingOld} {
		enqueue(t, s, m, now.Add(-week-time.Hour))
	}
	enqueue(t, s, sentRecent, now.Add(-time.Hour))
	for _, m := range []struct {
		id string
		at time.Time
	}{{sentOld.ID, now.Add(-week - 30*time.Minute)}, {sentRecent.ID, now.Add(-30 * time.Minute)}} {
		if err := s.MarkSent(ctx(t), m.id, m.at); err != nil {
			t.Fatalf("MarkSent: %v", err)
		}
	}
	if err := s.MarkFailed(ctx(t), abandonedOld.ID, now.Add(-week-30*time.Minute), "gave up", true); err != nil {
		t.Fatalf("MarkFailed: %v", err)
	}

	if err := s.Sweep(ctx(t), now); err != nil {
		t.Fatalf("Sweep: %v", err)
	}

	t.Run("Sessions", func(t *testing.T) {
		for _, sess := range []usher.Session{expired, atNow} {
			if n := countRows(t, s, `SELECT count(*) FROM sessions WHERE id = $1`, s.IDArg(sess.ID)); n != 0 {
				t.Errorf("session expired at %v: got %d rows after Sweep, want 0", sess.ExpiresAt, n)
			}
		}
		got, err := s.SessionUser(ctx(t), tenant, live.ID, u.ID, now)
		if err != nil {
			t.Fatalf("SessionUser of a live session after Sweep: %v", err)
		}
		wantUser(t, "SessionUser after Sweep", got, u)
	})

	t.Run("Tickets", func(t *testing.T) {
		wantNoTicket(t, s, "expired ticket after Sweep", u.ID, usher.PurposeReset)
		wantTicket(t, s, "live ticket after Sweep", liveTicket)
	})

	t.Run("Counters", func(t *testing.T) {
		// A window start long before both counters: a kept counter goes on
		// counting, a swept one starts again at 1.
		for _, c := range []struct {
			key  string
			want int
		}{{"old", 1}, {"recent", 2}} {
			got, err := count(t, s, c.key, now, now.Add(-72*time.Hour))
			if err != nil {
				t.Fatalf("Count(%s): %v", c.key, err)
			}
			if got != c.want {
				t.Errorf("Count(%s) after Sweep: got %d, want %d", c.key, got, c.want)
			}
		}
	})

	t.Run("Outbox", func(t *testing.T) {
		for _, m := range []struct {
			name string
			id   string
			kept bool
		}{
			{"sent over a week ago", sentOld.ID, false},
			{"abandoned over a week ago", abandonedOld.ID, false},
			{"pending for over a week", pendingOld.ID, true},
			{"sent within the week", sentRecent.ID, true},
		} {
			n := countRows(t, s, `SELECT count(*) FROM outbox WHERE id = $1`, s.IDArg(m.id))
			if want := map[bool]int{true: 1, false: 0}[m.kept]; n != want {
				t.Errorf("message %s: got %d rows after Sweep, want %d", m.name, n, want)
			}
		}
		want := pendingOld
		want.Attempts = 1
		wantClaimed(t, "Claim after Sweep", claim(t, s, now, time.Minute, 10), want)
	})
}

// --- Tenants ---

func testTenantByKey(t *testing.T, s *store.Store) {
	var tenants []usher.Tenant
	for i := range 2 {
		tn, err := s.EnsureTenant(ctx(t), usher.Tenant{
			ID: usher.NewID(base), Name: fmt.Sprintf("tenant %d", i), PublicKey: fmt.Sprintf("pk_test_%d", i),
			CreatedAt: base.Add(time.Duration(i) * time.Hour),
		})
		if err != nil {
			t.Fatalf("EnsureTenant: %v", err)
		}
		tenants = append(tenants, tn)
	}
	for _, want := range tenants {
		t.Run(want.PublicKey, func(t *testing.T) {
			got, err := s.TenantByKey(ctx(t), want.PublicKey)
			if err != nil {
				t.Fatalf("TenantByKey: %v", err)
			}
			if d := diff(got, want); d != "" {
				t.Errorf("TenantByKey: tenant differs:\n%s", d)
			}
		})
	}
	for _, key := range []string{"pk_test_unknown", "", "PK_TEST_0"} {
		t.Run(fmt.Sprintf("Unknown%q", key), func(t *testing.T) {
			_, err := s.TenantByKey(ctx(t), key)
			wantCode(t, "TenantByKey of an unknown key", err, usher.NotFound)
		})
	}
}
