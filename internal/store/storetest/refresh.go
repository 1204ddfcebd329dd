package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// The refresh_tokens table (POST /token): tokens stored by hash, locked
// and used once inside a transaction, and gone with their session; and
// the two session calls refresh relies on, LockSession and ExtendSession.

// refreshHash is a hash as the service stores it: 64 hex digits.
func refreshHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// newRefreshToken returns a token of sess, created at base and expiring a
// month later; it is not stored.
func newRefreshToken(name string, sess usher.Session) usher.RefreshToken {
	return usher.RefreshToken{
		Hash: refreshHash(name), TenantID: sess.TenantID, SessionID: sess.ID, UserID: sess.UserID,
		CreatedAt: base, ExpiresAt: base.Add(30 * 24 * time.Hour),
	}
}

// putRefreshTokens stores tokens in one transaction.
func putRefreshTokens(t *testing.T, s *store.Store, rts ...usher.RefreshToken) {
	t.Helper()
	mustUpdate(t, s, "PutRefreshToken", func(tctx context.Context, tx account.Tx) error {
		for _, rt := range rts {
			if err := tx.PutRefreshToken(tctx, rt); err != nil {
				return err
			}
		}
		return nil
	})
}

// lockRefreshToken reads a token with Tx.LockRefreshToken, in a
// transaction of its own.
func lockRefreshToken(t *testing.T, s *store.Store, tenantID, hash string) (usher.RefreshToken, error) {
	t.Helper()
	var rt usher.RefreshToken
	err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
		var err error
		rt, err = tx.LockRefreshToken(tctx, tenantID, hash)
		return err
	})
	return rt, err
}

// wantRefreshToken fails the test unless LockRefreshToken returns want.
func wantRefreshToken(t *testing.T, s *store.Store, what string, want usher.RefreshToken) {
	t.Helper()
	got, err := lockRefreshToken(t, s, want.TenantID, want.Hash)
	if err != nil {
		t.Errorf("%s: LockRefreshToken: %v", what, err)
		return
	}
	if d := diff(got, want); d != "" {
		t.Errorf("%s: refresh token differs:\n%s", what, d)
	}
}

// refreshRows counts the stored refresh tokens of a session.
func refreshRows(t *testing.T, s *store.Store, sessionID string) int {
	t.Helper()
	return countRows(t, s, `SELECT count(*) FROM refresh_tokens WHERE session_id = $1`, s.IDArg(sessionID))
}

// useRefreshToken runs Tx.UseRefreshToken in a transaction of its own.
func useRefreshToken(t *testing.T, s *store.Store, hash string, now time.Time, next string) error {
	t.Helper()
	return s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
		return tx.UseRefreshToken(tctx, hash, now, next)
	})
}

func testRefreshTokens(t *testing.T, s *store.Store) {
	tenant, other := newTenant(t, s), newTenant(t, s)
	u := create(t, s, newUser(tenant, "refresh@example.com"))
	sess := newSession(tenant, u.ID, base.Add(time.Hour))
	createSessions(t, s, sess)

	t.Run("PutAndLock", func(t *testing.T) {
		rt := newRefreshToken("put", sess)
		putRefreshTokens(t, s, rt)
		wantRefreshToken(t, s, "a new token", rt)

		tests := []struct {
			name, tenant, hash string
		}{
			{"OtherTenant", other, rt.Hash},
			{"UnknownHash", tenant, refreshHash("unknown")},
			{"HashOfAnotherCase", tenant, refreshHash("Put")},
			{"EmptyHash", tenant, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := lockRefreshToken(t, s, tt.tenant, tt.hash)
				wantCode(t, "LockRefreshToken", err, usher.NotFound)
			})
		}
	})

	t.Run("PutRefused", func(t *testing.T) {
		rt := newRefreshToken("twice", sess)
		putRefreshTokens(t, s, rt)
		again := rt
		again.ExpiresAt = base.Add(time.Minute)
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.PutRefreshToken(tctx, again) })
		if err == nil {
			t.Errorf("PutRefreshToken of a stored hash: got nil, want an error")
		}
		wantRefreshToken(t, s, "the first token after a second put of its hash", rt)

		orphan := newRefreshToken("orphan", newSession(tenant, u.ID, base.Add(time.Hour))) // the session is not stored
		err = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.PutRefreshToken(tctx, orphan) })
		if err == nil {
			t.Errorf("PutRefreshToken of a session that does not exist: got nil, want an error")
		}
		_, err = lockRefreshToken(t, s, tenant, orphan.Hash)
		wantCode(t, "LockRefreshToken of a refused token", err, usher.NotFound)
	})

	t.Run("RolledBack", func(t *testing.T) {
		lost := newRefreshToken("lost", sess)
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.PutRefreshToken(tctx, lost); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		_, err = lockRefreshToken(t, s, tenant, lost.Hash)
		wantCode(t, "LockRefreshToken of a token put in a rolled back transaction", err, usher.NotFound)
	})

	t.Run("Use", func(t *testing.T) {
		rt := newRefreshToken("use", sess)
		putRefreshTokens(t, s, rt)
		at := base.Add(time.Minute + 7*ms)

		// A use in a transaction that rolls back leaves the token unused.
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.UseRefreshToken(tctx, rt.Hash, at, "sealed-rolled-back"); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		wantRefreshToken(t, s, "after a rolled back use", rt)

		if err := useRefreshToken(t, s, rt.Hash, at, "sealed-next"); err != nil {
			t.Fatalf("UseRefreshToken: %v", err)
		}
		used := rt
		used.UsedAt, used.Next = at, "sealed-next"
		wantRefreshToken(t, s, "after UseRefreshToken", used)

		err = useRefreshToken(t, s, rt.Hash, at.Add(time.Second), "sealed-other")
		wantCode(t, "second UseRefreshToken", err, usher.NotFound)
		wantRefreshToken(t, s, "after a second UseRefreshToken", used)

		err = useRefreshToken(t, s, refreshHash("never stored"), at, "sealed")
		wantCode(t, "UseRefreshToken of an unknown hash", err, usher.NotFound)
	})

	t.Run("LockHolds", func(t *testing.T) {
		// A second transaction that locks a token while the first holds
		// it sees the token as the first left it: used.
		rt := newRefreshToken("lock-holds", sess)
		putRefreshTokens(t, s, rt)
		at := base.Add(2 * time.Minute)
		var wg sync.WaitGroup
		var second usher.RefreshToken
		var secondErr, secondUse error
		mustUpdate(t, s, "the first refresh", func(tctx context.Context, tx account.Tx) error {
			if _, err := tx.LockRefreshToken(tctx, tenant, rt.Hash); err != nil {
				return err
			}
			wg.Go(func() {
				secondErr = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
					var err error
					if second, err = tx.LockRefreshToken(tctx, tenant, rt.Hash); err != nil {
						return err
					}
					secondUse = tx.UseRefreshToken(tctx, rt.Hash, at.Add(time.Second), "sealed-second")
					return nil
				})
			})
			return tx.UseRefreshToken(tctx, rt.Hash, at, "sealed-first")
		})
		wg.Wait()
		if secondErr != nil {
			t.Fatalf("the second refresh: %v", secondErr)
		}
		want := rt
		want.UsedAt, want.Next = at, "sealed-first"
		if d := diff(second, want); d != "" {
			t.Errorf("the token as the second transaction locked it:\n%s", d)
		}
		wantCode(t, "the second transaction's UseRefreshToken", secondUse, usher.NotFound)
		wantRefreshToken(t, s, "after both", want)
	})

	t.Run("LockSession", func(t *testing.T) {
		tests := []struct {
			name       string
			tenant, id string
			now        time.Time
			found      bool
		}{
			{"Live", tenant, sess.ID, base, true},
			{"JustBeforeExpiry", tenant, sess.ID, sess.ExpiresAt.Add(-ms), true},
			{"AtExpiry", tenant, sess.ID, sess.ExpiresAt, false},
			{"AfterExpiry", tenant, sess.ID, sess.ExpiresAt.Add(time.Hour), false},
			{"OtherTenant", other, sess.ID, base, false},
			{"UnknownSession", tenant, usher.NewID(base), base, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got usher.Session
				err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
					var err error
					got, err = tx.LockSession(tctx, tt.tenant, tt.id, tt.now)
					return err
				})
				if !tt.found {
					wantCode(t, "LockSession", err, usher.NotFound)
					return
				}
				if err != nil {
					t.Fatalf("LockSession: %v", err)
				}
				if d := diff(got, sess); d != "" {
					t.Errorf("LockSession: session differs:\n%s", d)
				}
			})
		}
	})

	t.Run("ExtendSession", func(t *testing.T) {
		short := newSession(tenant, u.ID, base.Add(time.Minute))
		createSessions(t, s, short)
		later := base.Add(2 * time.Hour)

		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.ExtendSession(tctx, other, short.ID, later) })
		wantCode(t, "ExtendSession from another tenant", err, usher.NotFound)
		err = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			return tx.ExtendSession(tctx, tenant, usher.NewID(base), later)
		})
		wantCode(t, "ExtendSession of an unknown session", err, usher.NotFound)

		mustUpdate(t, s, "ExtendSession", func(tctx context.Context, tx account.Tx) error {
			return tx.ExtendSession(tctx, tenant, short.ID, later)
		})
		at := base.Add(time.Hour) // past the old expiry, before the new one
		if _, _, err := s.SessionUser(ctx(t), tenant, short.ID, u.ID, at); err != nil {
			t.Errorf("SessionUser after ExtendSession, past the old expiry: %v", err)
		}
		var got usher.Session
		mustUpdate(t, s, "LockSession after ExtendSession", func(tctx context.Context, tx account.Tx) error {
			var err error
			got, err = tx.LockSession(tctx, tenant, short.ID, at)
			return err
		})
		want := short
		want.ExpiresAt = later
		if d := diff(got, want); d != "" {
			t.Errorf("LockSession after ExtendSession: session differs:\n%s", d)
		}
		if _, _, err := s.SessionUser(ctx(t), tenant, short.ID, u.ID, later); usher.ErrorCode(err) != usher.NotFound {
			t.Errorf("SessionUser at the new expiry: got %v, want NotFound", err)
		}

		// Shortening is a move too: refresh never goes past the maximum age.
		mustUpdate(t, s, "ExtendSession to an earlier time", func(tctx context.Context, tx account.Tx) error {
			return tx.ExtendSession(tctx, tenant, short.ID, base.Add(30*time.Second))
		})
		if _, _, err := s.SessionUser(ctx(t), tenant, short.ID, u.ID, base.Add(30*time.Second)); usher.ErrorCode(err) != usher.NotFound {
			t.Errorf("SessionUser at the shortened expiry: got %v, want NotFound", err)
		}
	})

	t.Run("SessionEndCascades", func(t *testing.T) {
		ends := []struct {
			name string
			end  func(tctx context.Context, tx account.Tx, sess usher.Session) error
		}{
			{"DeleteSession", func(tctx context.Context, tx account.Tx, sess usher.Session) error {
				return tx.DeleteSession(tctx, sess.TenantID, sess.ID)
			}},
			{"DeleteUserSession", func(tctx context.Context, tx account.Tx, sess usher.Session) error {
				return tx.DeleteUserSession(tctx, sess.TenantID, sess.UserID, sess.ID)
			}},
			{"DeleteSessions", func(tctx context.Context, tx account.Tx, sess usher.Session) error {
				return tx.DeleteSessions(tctx, sess.TenantID, sess.UserID)
			}},
			{"DeleteUser", func(tctx context.Context, tx account.Tx, sess usher.Session) error {
				return tx.DeleteUser(tctx, sess.TenantID, sess.UserID)
			}},
			{"DeleteTenant", func(tctx context.Context, tx account.Tx, sess usher.Session) error {
				return tx.DeleteTenant(tctx, sess.TenantID)
			}},
		}
		for _, tt := range ends {
			t.Run(tt.name, func(t *testing.T) {
				tn := newTenant(t, s)
				owner := create(t, s, newUser(tn, "owner@example.com"))
				bystander := create(t, s, newUser(tenant, "bystander-"+tt.name+"@example.com"))
				doomed := newSession(tn, owner.ID, base.Add(time.Hour))
				kept := newSession(tenant, bystander.ID, base.Add(time.Hour))
				createSessions(t, s, doomed, kept)
				used := newRefreshToken(tt.name+"-used", doomed)
				keptRT := newRefreshToken(tt.name+"-kept", kept)
				putRefreshTokens(t, s, used, newRefreshToken(tt.name+"-next", doomed), keptRT)
				if err := useRefreshToken(t, s, used.Hash, base.Add(time.Second), "sealed"); err != nil {
					t.Fatalf("UseRefreshToken: %v", err)
				}
				if n := refreshRows(t, s, doomed.ID); n != 2 {
					t.Fatalf("refresh tokens of the session before it ends: got %d rows, want 2", n)
				}

				mustUpdate(t, s, tt.name, func(tctx context.Context, tx account.Tx) error { return tt.end(tctx, tx, doomed) })
				if n := refreshRows(t, s, doomed.ID); n != 0 {
					t.Errorf("refresh tokens of an ended session: got %d rows, want 0", n)
				}
				_, err := lockRefreshToken(t, s, tn, used.Hash)
				wantCode(t, "LockRefreshToken of an ended session's token", err, usher.NotFound)
				wantRefreshToken(t, s, "another session's token", keptRT)
			})
		}
	})
}

// testSweepRefreshTokens: Sweep deletes refresh tokens expired at now,
// whatever their session, and keeps the others.
func testSweepRefreshTokens(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	u := create(t, s, newUser(tenant, "sweep-refresh@example.com"))
	now := base.Add(30 * 24 * time.Hour)
	sess := newSession(tenant, u.ID, now.Add(time.Hour)) // outlives the sweep
	createSessions(t, s, sess)

	at := func(name string, expires time.Time) usher.RefreshToken {
		rt := newRefreshToken(name, sess)
		rt.ExpiresAt = expires
		return rt
	}
	expired, atNow, live := at("expired", now.Add(-ms)), at("at-now", now), at("live", now.Add(ms))
	usedLive := at("used-live", now.Add(time.Hour))
	putRefreshTokens(t, s, expired, atNow, live, usedLive)
	if err := useRefreshToken(t, s, usedLive.Hash, now.Add(-time.Minute), "sealed"); err != nil {
		t.Fatalf("UseRefreshToken: %v", err)
	}
	usedLive.UsedAt, usedLive.Next = now.Add(-time.Minute), "sealed"

	if err := s.Sweep(ctx(t), now); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	for _, rt := range []usher.RefreshToken{expired, atNow} {
		if n := countRows(t, s, `SELECT count(*) FROM refresh_tokens WHERE hash = $1`, rt.Hash); n != 0 {
			t.Errorf("refresh token expired at %v: got %d rows after Sweep, want 0", rt.ExpiresAt, n)
		}
	}
	wantRefreshToken(t, s, "a live token after Sweep", live)
	wantRefreshToken(t, s, "a used, unexpired token after Sweep", usedLive)
	if _, _, err := s.SessionUser(ctx(t), tenant, sess.ID, u.ID, now); err != nil {
		t.Errorf("SessionUser of the tokens' session after Sweep: %v", err)
	}

	// An expired session takes its tokens, however long they had left.
	gone := newSession(tenant, u.ID, now.Add(-time.Minute))
	createSessions(t, s, gone)
	orphaned := newRefreshToken("of-an-expired-session", gone)
	orphaned.ExpiresAt = now.Add(time.Hour)
	putRefreshTokens(t, s, orphaned)
	if err := s.Sweep(ctx(t), now); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if n := refreshRows(t, s, gone.ID); n != 0 {
		t.Errorf("refresh tokens of a swept session: got %d rows, want 0", n)
	}
}
