package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// The sessions table: creating, reading (SessionUser) and deleting
// sessions.

func newSession(tenantID, userID string, expires time.Time) usher.Session {
	return usher.Session{ID: usher.NewID(base), TenantID: tenantID, UserID: userID, CreatedAt: base, ExpiresAt: expires}
}

// createSessions stores sessions in one transaction.
func createSessions(t *testing.T, s *store.Store, sessions ...usher.Session) {
	t.Helper()
	mustUpdate(t, s, "CreateSession", func(tctx context.Context, tx account.Tx) error {
		for _, sess := range sessions {
			if err := tx.CreateSession(tctx, sess); err != nil {
				return err
			}
		}
		return nil
	})
}

// wantLive fails the test unless sess is live at base and names u.
func wantLive(t *testing.T, s *store.Store, what string, sess usher.Session, u usher.User) {
	t.Helper()
	got, _, err := s.SessionUser(ctx(t), sess.TenantID, sess.ID, sess.UserID, base)
	if err != nil {
		t.Errorf("%s: SessionUser: got %v, want the user", what, err)
		return
	}
	wantUser(t, what+": SessionUser", got, u)
}

// wantGone fails the test unless sess is not found at base.
func wantGone(t *testing.T, s *store.Store, what string, sess usher.Session) {
	t.Helper()
	_, _, err := s.SessionUser(ctx(t), sess.TenantID, sess.ID, sess.UserID, base)
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
				got, _, err := s.SessionUser(ctx(t), tt.tenant, tt.id, tt.userID, tt.now)
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
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.CreateSession(tctx, lost); err != nil {
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

		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.DeleteSession(tctx, other, doomed.ID) })
		wantCode(t, "DeleteSession from another tenant", err, usher.NotFound)
		wantLive(t, s, "after DeleteSession from another tenant", doomed, alice)

		mustUpdate(t, s, "DeleteSession", func(tctx context.Context, tx account.Tx) error { return tx.DeleteSession(tctx, tenant, doomed.ID) })
		wantGone(t, s, "after DeleteSession", doomed)
		err = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.DeleteSession(tctx, tenant, doomed.ID) })
		wantCode(t, "second DeleteSession", err, usher.NotFound)
		wantLive(t, s, "another session after DeleteSession", sess, alice)
	})

	t.Run("DeleteSessions", func(t *testing.T) {
		a1, a2 := newSession(tenant, alice.ID, base.Add(time.Hour)), newSession(tenant, alice.ID, base.Add(2*time.Hour))
		b1 := newSession(tenant, bob.ID, base.Add(time.Hour))
		createSessions(t, s, a1, a2, b1)

		mustUpdate(t, s, "DeleteSessions from another tenant", func(tctx context.Context, tx account.Tx) error {
			return tx.DeleteSessions(tctx, other, alice.ID)
		})
		wantLive(t, s, "after DeleteSessions from another tenant", a1, alice)

		mustUpdate(t, s, "DeleteSessions", func(tctx context.Context, tx account.Tx) error { return tx.DeleteSessions(tctx, tenant, alice.ID) })
		for _, gone := range []usher.Session{sess, a1, a2} {
			wantGone(t, s, "the user's session after DeleteSessions", gone)
		}
		wantLive(t, s, "another user's session after DeleteSessions", b1, bob)

		mustUpdate(t, s, "DeleteSessions of a user without sessions", func(tctx context.Context, tx account.Tx) error {
			return tx.DeleteSessions(tctx, tenant, alice.ID)
		})
	})

	t.Run("DeleteUserCascades", func(t *testing.T) {
		carol := create(t, s, newUser(tenant, "carol@example.com"))
		createSessions(t, s, newSession(tenant, carol.ID, base.Add(time.Hour)), newSession(tenant, carol.ID, base.Add(time.Hour)))
		mustUpdate(t, s, "DeleteUser", func(tctx context.Context, tx account.Tx) error { return tx.DeleteUser(tctx, tenant, carol.ID) })
		if n := countRows(t, s, `SELECT count(*) FROM sessions WHERE user_id = $1`, s.IDArg(carol.ID)); n != 0 {
			t.Errorf("sessions of a deleted user: got %d rows, want 0", n)
		}
	})
}
