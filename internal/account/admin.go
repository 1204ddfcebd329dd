package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// Console admins: accounts of their own, outside every tenant. An admin is
// created with a one-time setup link (the CLI prints it) on which they
// choose a password; the first admin of a fresh install may instead be
// created by the console's install link. They sign in with email and
// password (argon2id, the same hashing pool and the same lockout rules as
// users) and, once they turn it on, a TOTP code.

// Admin event types: written to the default tenant's audit log (admins
// belong to no tenant), with the admin's id in detail.admin_id.
const (
	AuditAdminCreated      = "admin.created"
	AuditAdminSetUp        = "admin.set_up" // chose a password on a setup link
	AuditAdminReset        = "admin.reset"  // a new setup link; password and second factor voided
	AuditAdminDeleted      = "admin.deleted"
	AuditAdminSignedIn     = "admin.signed_in"
	AuditAdminSignInFailed = "admin.sign_in_failed" // detail.reason
	AuditAdminSignedOut    = "admin.signed_out"
	AuditAdminMFAEnabled   = "admin.mfa_enabled"
)

// AdminRules are the console's session and setup-link rules.
type AdminRules struct {
	SetupTTL    time.Duration // a setup link dies this long after it was made
	Idle        time.Duration // a console session unused this long ends
	MaxAge      time.Duration // a console session ends this long after sign-in
	RequireTOTP bool          // admins must turn on a second factor before anything else
}

func (r AdminRules) withDefaults() AdminRules {
	if r.SetupTTL <= 0 {
		r.SetupTTL = 24 * time.Hour
	}
	if r.Idle <= 0 {
		r.Idle = 30 * time.Minute
	}
	if r.MaxAge <= 0 {
		r.MaxAge = 12 * time.Hour
	}
	return r
}

var (
	errAdminNotFound = usher.Errorf(usher.NotFound, "Admin not found.")
	errAdminLogin    = usher.Errorf(usher.Unauthorized, "Invalid email, password or code.")
	errAdminSetup    = usher.Errorf(usher.InvalidCode, "This setup link is invalid, expired or used.")
	errAdminSession  = usher.Errorf(usher.Unauthorized, "Your session has ended; sign in again.")
	errAdminMFA      = usher.Errorf(usher.MFARequired, "Enter the code from your authenticator app.")
	errAdminPassword = usher.Errorf(usher.Forbidden, "The password is not right.")
	errAdminExists   = usher.Errorf(usher.Conflict, "An admin exists already: ask them for a setup link (usher admin create).")
)

// hashSecret is what is stored of a setup link's token or a session's
// cookie: its SHA-256. Both carry 256 random bits, so no salt is needed.
func hashSecret(kind, raw string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + raw))
	return hex.EncodeToString(sum[:])
}

func adminTOTPContext(id string) string { return "admin-totp:" + id }

// auditAdmin records an event about admin id in the default tenant's log.
func (s *Service) auditAdmin(ctx context.Context, tx Tx, typ, id string, d detail) error {
	if d == nil {
		d = detail{}
	}
	d["admin_id"] = id
	return s.audit(ctx, tx, usher.DefaultTenantID, typ, "", d)
}

// Admins returns every admin, oldest first.
func (s *Service) Admins(ctx context.Context) ([]usher.Admin, error) {
	return s.c.Store.Admins(ctx)
}

// HasAdmins reports whether any admin exists (a fresh install has none).
func (s *Service) HasAdmins(ctx context.Context) (bool, error) {
	as, err := s.c.Store.Admins(ctx)
	return len(as) > 0, err
}

// Admin returns an admin by id or email.
func (s *Service) Admin(ctx context.Context, ref string) (usher.Admin, error) {
	if usher.ValidID(ref) {
		return s.c.Store.AdminByID(ctx, ref)
	}
	_, key, err := NormalizeEmail(ref)
	if err != nil {
		return usher.Admin{}, errAdminNotFound
	}
	return s.c.Store.AdminByEmail(ctx, key)
}

// CreateAdmin adds an admin without a password and returns its one-time
// setup token, shown this once: the admin chooses a password with it.
func (s *Service) CreateAdmin(ctx context.Context, email string) (usher.Admin, string, error) {
	email, key, err := NormalizeEmail(email)
	if err != nil {
		return usher.Admin{}, "", err
	}
	raw := token.NewLinkToken()
	now := s.now()
	a := usher.Admin{ID: usher.NewID(now), Email: email, EmailKey: key, SetupHash: hashSecret("admin-setup", raw),
		SetupExpires: now.Add(s.c.Admin.SetupTTL), CreatedAt: now, UpdatedAt: now}
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.CreateAdmin(ctx, a); err != nil {
			return err
		}
		return s.auditAdmin(ctx, tx, AuditAdminCreated, a.ID, nil)
	})
	if err != nil {
		return usher.Admin{}, "", err
	}
	s.c.Log.InfoContext(ctx, "admin created", "event", "admin_created", "admin_id", a.ID)
	return a, raw, nil
}

// CreateFirstAdmin creates the first admin of a fresh install with a
// password: refused once any admin exists.
func (s *Service) CreateFirstAdmin(ctx context.Context, email, pw string) (usher.Admin, error) {
	email, key, err := NormalizeEmail(email)
	if err != nil {
		return usher.Admin{}, err
	}
	if err := s.checkPolicy(pw); err != nil {
		return usher.Admin{}, err
	}
	if ok, err := s.HasAdmins(ctx); err != nil || ok {
		if err == nil {
			err = errAdminExists
		}
		return usher.Admin{}, err
	}
	hash, err := s.hash(ctx, pw)
	if err != nil {
		return usher.Admin{}, err
	}
	now := s.now()
	a := usher.Admin{ID: usher.NewID(now), Email: email, EmailKey: key, Hash: hash, CreatedAt: now, UpdatedAt: now}
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		// Creations queue on the default tenant's row, which always
		// exists: under PostgreSQL's read committed, two could otherwise
		// both count no admin and both insert one.
		if _, err := tx.LockTenant(ctx, usher.DefaultTenantID); err != nil {
			return err
		}
		n, err := tx.CountAdmins(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return errAdminExists
		}
		if err := tx.CreateAdmin(ctx, a); err != nil {
			return err
		}
		return s.auditAdmin(ctx, tx, AuditAdminCreated, a.ID, detail{"first": true})
	})
	if err != nil {
		return usher.Admin{}, err
	}
	s.c.Log.InfoContext(ctx, "admin created", "event", "admin_created", "admin_id", a.ID, "first", true)
	return a, nil
}

// AdminSetupEmail returns the email of a live setup link's admin, for the
// page that asks for a password.
func (s *Service) AdminSetupEmail(ctx context.Context, raw string) (string, error) {
	var email string
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		a, err := tx.LockAdminBySetup(ctx, hashSecret("admin-setup", raw))
		if err != nil || !s.c.Now().Before(a.SetupExpires) {
			return errAdminSetup
		}
		email = a.Email
		return nil
	})
	return email, err
}

// SetUpAdmin sets the password of the admin of a setup link; the link dies.
func (s *Service) SetUpAdmin(ctx context.Context, raw, pw string) (usher.Admin, error) {
	if err := s.checkPolicy(pw); err != nil {
		return usher.Admin{}, err
	}
	if _, err := s.AdminSetupEmail(ctx, raw); err != nil {
		return usher.Admin{}, err // no hashing work for a dead link
	}
	hash, err := s.hash(ctx, pw)
	if err != nil {
		return usher.Admin{}, err
	}
	var a usher.Admin
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		a, err = tx.LockAdminBySetup(ctx, hashSecret("admin-setup", raw))
		if err != nil || !s.c.Now().Before(a.SetupExpires) {
			return errAdminSetup
		}
		a.Hash, a.SetupHash, a.SetupExpires, a.FailedChecks, a.FailedSince = hash, "", time.Time{}, 0, time.Time{}
		a.UpdatedAt = s.now()
		if err := tx.UpdateAdmin(ctx, a); err != nil {
			return err
		}
		return s.auditAdmin(ctx, tx, AuditAdminSetUp, a.ID, nil)
	})
	if err != nil {
		return usher.Admin{}, err
	}
	s.c.Log.InfoContext(ctx, "admin set up", "event", "admin_set_up", "admin_id", a.ID)
	return a, nil
}

// ResetAdmin voids an admin's password, second factor and sessions, and
// returns a new setup token.
func (s *Service) ResetAdmin(ctx context.Context, ref string) (usher.Admin, string, error) {
	a, err := s.Admin(ctx, ref)
	if err != nil {
		return usher.Admin{}, "", err
	}
	raw := token.NewLinkToken()
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockAdmin(ctx, a.ID)
		if err != nil {
			return err
		}
		now := s.now()
		cur.Hash, cur.TOTPSecret, cur.TOTPConfirmed, cur.TOTPStep = "", "", false, 0
		cur.SetupHash, cur.SetupExpires = hashSecret("admin-setup", raw), now.Add(s.c.Admin.SetupTTL)
		cur.FailedChecks, cur.FailedSince, cur.UpdatedAt = 0, time.Time{}, now
		if err := tx.UpdateAdmin(ctx, cur); err != nil {
			return err
		}
		if err := tx.DeleteAdminSessions(ctx, cur.ID); err != nil {
			return err
		}
		a = cur
		return s.auditAdmin(ctx, tx, AuditAdminReset, cur.ID, nil)
	})
	if err != nil {
		return usher.Admin{}, "", err
	}
	s.c.Log.InfoContext(ctx, "admin reset", "event", "admin_reset", "admin_id", a.ID)
	return a, raw, nil
}

// DeleteAdmin removes an admin (by id or email) and its sessions.
func (s *Service) DeleteAdmin(ctx context.Context, ref string) error {
	a, err := s.Admin(ctx, ref)
	if err != nil {
		return err
	}
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.DeleteAdmin(ctx, a.ID); err != nil {
			return err
		}
		return s.auditAdmin(ctx, tx, AuditAdminDeleted, a.ID, nil)
	})
	if err == nil {
		s.c.Log.InfoContext(ctx, "admin deleted", "event", "admin_deleted", "admin_id", a.ID)
	}
	return err
}

// AdminRules returns the console's rules.
func (s *Service) AdminRules() AdminRules { return s.c.Admin }
