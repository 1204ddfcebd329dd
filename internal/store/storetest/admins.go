package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// The admins and admin_sessions tables: console operators and their
// sessions.

func newAdmin(email string) usher.Admin {
	return usher.Admin{
		ID: usher.NewID(base), Email: email, EmailKey: email, Hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		TOTPSecret: "sealed", TOTPConfirmed: true, TOTPStep: 42, SetupHash: "setup-" + email,
		SetupExpires: base.Add(time.Hour), FailedChecks: 2, FailedSince: base, CreatedAt: base, UpdatedAt: base,
	}
}

func testAdmins(t *testing.T, s *store.Store) {
	a, b := newAdmin("a@example.com"), newAdmin("b@example.com")
	b.CreatedAt = base.Add(time.Second)
	b.SetupExpires, b.FailedSince, b.TOTPSecret, b.TOTPConfirmed = time.Time{}, time.Time{}, "", false
	b.FailedChecks, b.TOTPStep, b.SetupHash = 0, 0, ""
	mustUpdate(t, s, "CreateAdmin", func(tctx context.Context, tx account.Tx) error {
		if err := tx.CreateAdmin(tctx, a); err != nil {
			return err
		}
		return tx.CreateAdmin(tctx, b)
	})
	dup := newAdmin("a@example.com")
	err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.CreateAdmin(tctx, dup) })
	wantCode(t, "CreateAdmin of a taken email", err, usher.EmailTaken)

	got, err := s.AdminByID(ctx(t), a.ID)
	if err != nil {
		t.Fatalf("AdminByID: %v", err)
	}
	if d := diff(got, a); d != "" {
		t.Errorf("AdminByID: admin differs:\n%s", d)
	}
	if got, err = s.AdminByEmail(ctx(t), "b@example.com"); err != nil || got.ID != b.ID {
		t.Errorf("AdminByEmail: %v, %v", got.ID, err)
	}
	_, err = s.AdminByEmail(ctx(t), "c@example.com")
	wantCode(t, "AdminByEmail of nobody", err, usher.NotFound)
	all, err := s.Admins(ctx(t))
	if err != nil || len(all) != 2 || all[0].ID != a.ID || all[1].ID != b.ID {
		t.Fatalf("Admins: %d, %v", len(all), err)
	}

	mustUpdate(t, s, "LockAdminBySetup and UpdateAdmin", func(tctx context.Context, tx account.Tx) error {
		cur, err := tx.LockAdminBySetup(tctx, a.SetupHash)
		if err != nil {
			return err
		}
		cur.SetupHash, cur.SetupExpires, cur.Email, cur.UpdatedAt = "", time.Time{}, "A@example.com", base.Add(time.Minute)
		return tx.UpdateAdmin(tctx, cur)
	})
	got, _ = s.AdminByID(ctx(t), a.ID)
	if got.SetupHash != "" || !got.SetupExpires.IsZero() || got.Email != "A@example.com" || !got.UpdatedAt.Equal(base.Add(time.Minute)) {
		t.Errorf("after UpdateAdmin: %+v", got)
	}
	err = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
		_, err := tx.LockAdminBySetup(tctx, "")
		return err
	})
	wantCode(t, "LockAdminBySetup of no link", err, usher.NotFound)

	mustUpdate(t, s, "CountAdmins", func(tctx context.Context, tx account.Tx) error {
		n, err := tx.CountAdmins(tctx)
		if err == nil && n != 2 {
			t.Errorf("CountAdmins: %d, want 2", n)
		}
		return err
	})
}

func testAdminSessions(t *testing.T, s *store.Store) {
	a := newAdmin("a@example.com")
	x := usher.AdminSession{Hash: "h1", AdminID: a.ID, CSRF: "c1", CreatedAt: base, SeenAt: base, ExpiresAt: base.Add(time.Hour)}
	y := usher.AdminSession{Hash: "h2", AdminID: a.ID, CSRF: "c2", CreatedAt: base, SeenAt: base, ExpiresAt: base.Add(time.Minute)}
	mustUpdate(t, s, "CreateAdminSession", func(tctx context.Context, tx account.Tx) error {
		if err := tx.CreateAdmin(tctx, a); err != nil {
			return err
		}
		if err := tx.CreateAdminSession(tctx, x); err != nil {
			return err
		}
		return tx.CreateAdminSession(tctx, y)
	})
	err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
		return tx.CreateAdminSession(tctx, usher.AdminSession{Hash: "h3", AdminID: usher.NewID(base), CSRF: "c", CreatedAt: base, SeenAt: base, ExpiresAt: base})
	})
	wantCode(t, "CreateAdminSession of no admin", err, usher.NotFound)
	got, err := s.AdminSession(ctx(t), "h1")
	if err != nil {
		t.Fatalf("AdminSession: %v", err)
	}
	if d := diff(got, x); d != "" {
		t.Errorf("AdminSession differs:\n%s", d)
	}
	if err := s.TouchAdminSession(ctx(t), "h1", base.Add(time.Minute)); err != nil {
		t.Fatalf("TouchAdminSession: %v", err)
	}
	if got, _ = s.AdminSession(ctx(t), "h1"); !got.SeenAt.Equal(base.Add(time.Minute)) {
		t.Errorf("SeenAt after touch: %v", got.SeenAt)
	}
	wantCode(t, "TouchAdminSession of none", s.TouchAdminSession(ctx(t), "nope", base), usher.NotFound)

	// The sweep removes sessions past their absolute expiry.
	if err := s.Sweep(ctx(t), base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err = s.AdminSession(ctx(t), "h2")
	wantCode(t, "AdminSession after the sweep", err, usher.NotFound)

	mustUpdate(t, s, "DeleteAdminSession", func(tctx context.Context, tx account.Tx) error {
		return tx.DeleteAdminSession(tctx, "h1")
	})
	err = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.DeleteAdminSession(tctx, "h1") })
	wantCode(t, "DeleteAdminSession again", err, usher.NotFound)

	// Deleting an admin deletes its sessions.
	mustUpdate(t, s, "CreateAdminSession", func(tctx context.Context, tx account.Tx) error { return tx.CreateAdminSession(tctx, x) })
	mustUpdate(t, s, "DeleteAdmin", func(tctx context.Context, tx account.Tx) error { return tx.DeleteAdmin(tctx, a.ID) })
	_, err = s.AdminSession(ctx(t), "h1")
	wantCode(t, "AdminSession of a deleted admin", err, usher.NotFound)
	err = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.DeleteAdmin(tctx, a.ID) })
	wantCode(t, "DeleteAdmin again", err, usher.NotFound)
}
