package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// The codes table: one-time codes (usher.UserCode), at most one per user and
// kind. Codes are read only in a transaction (Tx.Code, Tx.LockCode).

func newCode(u usher.User, kind usher.CodeKind, secret string, created time.Time) usher.UserCode {
	return usher.UserCode{
		UserID: u.ID, TenantID: u.TenantID, Kind: kind, Secret: secret,
		CreatedAt: created, ExpiresAt: created.Add(15 * time.Minute),
	}
}

func putCodes(t *testing.T, s *store.Store, codes ...usher.UserCode) {
	t.Helper()
	mustUpdate(t, s, "PutCode", func(tctx context.Context, tx account.Tx) error {
		for _, c := range codes {
			if err := tx.PutCode(tctx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// readCode reads a code with Tx.Code, in a transaction of its own.
func readCode(t *testing.T, s *store.Store, userID string, kind usher.CodeKind) (usher.UserCode, error) {
	t.Helper()
	var c usher.UserCode
	err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
		var err error
		c, err = tx.Code(tctx, userID, kind)
		return err
	})
	return c, err
}

// wantUserCode fails the test unless Tx.Code returns want.
func wantUserCode(t *testing.T, s *store.Store, what string, want usher.UserCode) {
	t.Helper()
	got, err := readCode(t, s, want.UserID, want.Kind)
	if err != nil {
		t.Errorf("%s: Code: %v", what, err)
		return
	}
	if d := diff(got, want); d != "" {
		t.Errorf("%s: code differs:\n%s", what, d)
	}
}

// wantNoUserCode fails the test unless Tx.Code finds no code.
func wantNoUserCode(t *testing.T, s *store.Store, what, userID string, kind usher.CodeKind) {
	t.Helper()
	_, err := readCode(t, s, userID, kind)
	wantCode(t, what+": Code", err, usher.NotFound)
}

func testCodes(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	alice := create(t, s, newUser(tenant, "alice@example.com"))
	bob := create(t, s, newUser(tenant, "bob@example.com"))
	const kindOther usher.CodeKind = "storetest"
	zone := time.FixedZone("UTC-3", -3*3600)

	reset := newCode(alice, usher.ResetCode, "sha256:first", base.In(zone))
	reset.Tries = 1
	putCodes(t, s, reset)

	t.Run("PutAndRead", func(t *testing.T) {
		wantUserCode(t, s, "after PutCode", reset)
		wantNoUserCode(t, s, "another kind", alice.ID, usher.VerifyCode)
		wantNoUserCode(t, s, "another user", bob.ID, usher.ResetCode)
	})

	t.Run("Replace", func(t *testing.T) {
		next := newCode(alice, usher.ResetCode, "sha256:second", base.Add(time.Minute+7*ms))
		next.Tries = 0
		putCodes(t, s, next)
		wantUserCode(t, s, "after a second PutCode", next)
		if n := countRows(t, s, `SELECT count(*) FROM codes WHERE user_id = $1 AND kind = $2`, s.IDArg(alice.ID), usher.ResetCode); n != 1 {
			t.Errorf("rows for one user and kind: got %d, want 1", n)
		}
		reset = next
	})

	verify := newCode(alice, usher.VerifyCode, "sealed:verify", base.Add(2*time.Minute))
	t.Run("KindsIndependent", func(t *testing.T) {
		putCodes(t, s, verify)
		wantUserCode(t, s, "reset after PutCode of verify", reset)
		wantUserCode(t, s, "verify", verify)

		next := newCode(alice, usher.ResetCode, "sha256:third", base.Add(3*time.Minute))
		putCodes(t, s, next)
		wantUserCode(t, s, "verify after PutCode of reset", verify)
		wantUserCode(t, s, "reset", next)
		reset = next
	})

	// Tx.Code sees the transaction's own writes, and agrees with LockCode.
	t.Run("ReadOwnWriteInTx", func(t *testing.T) {
		own := newCode(bob, usher.VerifyCode, "sealed:own", base.Add(4*time.Minute))
		mustUpdate(t, s, "PutCode then Code", func(tctx context.Context, tx account.Tx) error {
			if err := tx.PutCode(tctx, own); err != nil {
				return err
			}
			for _, read := range []struct {
				name string
				get  func() (usher.UserCode, error)
			}{
				{"Code", func() (usher.UserCode, error) { return tx.Code(tctx, bob.ID, usher.VerifyCode) }},
				{"LockCode", func() (usher.UserCode, error) { return tx.LockCode(tctx, bob.ID, usher.VerifyCode) }},
			} {
				got, err := read.get()
				if err != nil {
					return fmt.Errorf("%s after PutCode: %w", read.name, err)
				}
				if d := diff(got, own); d != "" {
					t.Errorf("%s after PutCode: code differs:\n%s", read.name, d)
				}
			}
			return tx.DeleteCodes(tctx, bob.ID, usher.VerifyCode)
		})
		wantNoUserCode(t, s, "after PutCode and DeleteCodes in one transaction", bob.ID, usher.VerifyCode)
	})

	t.Run("RolledBack", func(t *testing.T) {
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.PutCode(tctx, newCode(alice, usher.ResetCode, "sha256:lost", base.Add(time.Hour))); err != nil {
				return err
			}
			if err := tx.SetCodeTries(tctx, alice.ID, usher.VerifyCode, 9); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		wantUserCode(t, s, "reset after a rolled back PutCode", reset)
		wantUserCode(t, s, "verify after a rolled back SetCodeTries", verify)
	})

	t.Run("LockAndSetTries", func(t *testing.T) {
		mustUpdate(t, s, "LockCode and SetCodeTries", func(tctx context.Context, tx account.Tx) error {
			got, err := tx.LockCode(tctx, alice.ID, usher.ResetCode)
			if err != nil {
				return fmt.Errorf("LockCode: %w", err)
			}
			if d := diff(got, reset); d != "" {
				t.Errorf("LockCode: code differs:\n%s", d)
			}
			if err := tx.SetCodeTries(tctx, alice.ID, usher.ResetCode, got.Tries+3); err != nil {
				return fmt.Errorf("SetCodeTries: %w", err)
			}
			again, err := tx.LockCode(tctx, alice.ID, usher.ResetCode)
			if err != nil {
				return fmt.Errorf("LockCode after SetCodeTries: %w", err)
			}
			if again.Tries != got.Tries+3 {
				t.Errorf("LockCode after SetCodeTries: got %d tries, want %d", again.Tries, got.Tries+3)
			}
			return nil
		})
		reset.Tries += 3
		wantUserCode(t, s, "reset after SetCodeTries", reset)
		wantUserCode(t, s, "verify after SetCodeTries of reset", verify)
	})

	t.Run("Missing", func(t *testing.T) {
		ops := []struct {
			name string
			fn   func(tctx context.Context, tx account.Tx) error
		}{
			{"Code", func(tctx context.Context, tx account.Tx) error {
				_, err := tx.Code(tctx, bob.ID, usher.ResetCode)
				return err
			}},
			{"LockCode", func(tctx context.Context, tx account.Tx) error {
				_, err := tx.LockCode(tctx, bob.ID, usher.ResetCode)
				return err
			}},
			{"SetCodeTries", func(tctx context.Context, tx account.Tx) error {
				return tx.SetCodeTries(tctx, bob.ID, usher.ResetCode, 1)
			}},
			{"SetCodeTriesOtherKind", func(tctx context.Context, tx account.Tx) error {
				return tx.SetCodeTries(tctx, alice.ID, kindOther, 1)
			}},
		}
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				err := s.Update(ctx(t), op.fn)
				wantCode(t, op.name+" of a missing code", err, usher.NotFound)
			})
		}
		wantNoUserCode(t, s, "after SetCodeTries of a missing code", alice.ID, kindOther)
	})

	t.Run("DeleteCodes", func(t *testing.T) {
		kept := newCode(alice, kindOther, "other", base)
		bobs := newCode(bob, usher.ResetCode, "sha256:bob", base)
		putCodes(t, s, kept, bobs)

		mustUpdate(t, s, "DeleteCodes of no kind", func(tctx context.Context, tx account.Tx) error {
			return tx.DeleteCodes(tctx, alice.ID)
		})
		wantUserCode(t, s, "reset after DeleteCodes of no kind", reset)

		mustUpdate(t, s, "DeleteCodes", func(tctx context.Context, tx account.Tx) error {
			return tx.DeleteCodes(tctx, alice.ID, usher.ResetCode, usher.VerifyCode)
		})
		wantNoUserCode(t, s, "reset after DeleteCodes", alice.ID, usher.ResetCode)
		wantNoUserCode(t, s, "verify after DeleteCodes", alice.ID, usher.VerifyCode)
		wantUserCode(t, s, "a kind not deleted", kept)
		wantUserCode(t, s, "another user's code", bobs)

		mustUpdate(t, s, "DeleteCodes of absent codes", func(tctx context.Context, tx account.Tx) error {
			return tx.DeleteCodes(tctx, alice.ID, usher.ResetCode, usher.VerifyCode)
		})
	})

	t.Run("DeleteUserCascades", func(t *testing.T) {
		carol := create(t, s, newUser(tenant, "carol@example.com"))
		putCodes(t, s, newCode(carol, usher.ResetCode, "r", base), newCode(carol, usher.VerifyCode, "v", base))
		mustUpdate(t, s, "DeleteUser", func(tctx context.Context, tx account.Tx) error { return tx.DeleteUser(tctx, tenant, carol.ID) })
		if n := countRows(t, s, `SELECT count(*) FROM codes WHERE user_id = $1`, s.IDArg(carol.ID)); n != 0 {
			t.Errorf("codes of a deleted user: got %d rows, want 0", n)
		}
	})
}
