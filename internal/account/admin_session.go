package account

import (
	"context"
	"time"

	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/totp"
	"github.com/usherhq/usher/internal/usher"
)

// AdminSignIn is a signed-in console session: the cookie's token and the
// CSRF token its forms carry, both shown only to the browser.
type AdminSignIn struct {
	Admin usher.Admin
	Token string
	CSRF  string
}

// adminLocked reports whether a's failures within the window reached the
// account-wide limit.
func (s *Service) adminLocked(a usher.Admin, now time.Time) bool {
	if s.c.Lockout.Max <= 0 {
		return false
	}
	return a.FailedChecks >= s.c.Lockout.accountMax() && a.FailedSince.After(now.Add(-s.c.Lockout.Window))
}

// SignInAdmin checks an admin's email, password and (when their second
// factor is on) code, and starts a console session. An unknown email costs
// a dummy verification; failures count toward the admin's lockout per
// client address and account-wide, as a user's do.
func (s *Service) SignInAdmin(ctx context.Context, email, pw, code string) (AdminSignIn, error) {
	if err := s.checkLength(pw); err != nil {
		return AdminSignIn{}, errAdminLogin
	}
	_, key, err := NormalizeEmail(email)
	if err != nil {
		key = "invalid:" + email
	}
	a, err := s.c.Store.AdminByEmail(ctx, key)
	if usher.ErrorCode(err) == usher.NotFound || err == nil && a.Hash == "" {
		// The steps of a known admin's wrong password: a write, a hash, a
		// write, so the time does not tell which addresses are admins.
		now := s.c.Now().UTC()
		err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
			_, err := tx.Count(ctx, "admin-login-unknown", now, now.Add(-time.Minute))
			return err
		})
		if err != nil {
			return AdminSignIn{}, err
		}
		if err := s.c.Hasher.DummyVerify(ctx, pw); err != nil {
			return AdminSignIn{}, hashErr(err)
		}
		return AdminSignIn{}, s.adminFailed(ctx, a.ID, "unknown_email", errAdminLogin)
	}
	if err != nil {
		return AdminSignIn{}, err
	}
	source, err := s.checkAdminPassword(ctx, a, pw, "")
	if err != nil {
		return AdminSignIn{}, err
	}
	var out AdminSignIn
	reason := ""
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		out, reason = AdminSignIn{}, ""
		cur, err := tx.LockAdmin(ctx, a.ID)
		if err != nil {
			return err
		}
		if cur.Hash != a.Hash {
			reason = "password_changed"
			return nil
		}
		now := s.c.Now().UTC()
		if cur.TOTPConfirmed {
			if code == "" {
				reason = "code_required"
				return nil
			}
			step, ok := s.adminCode(cur, code, now)
			if !ok {
				reason = "wrong_code"
				return nil
			}
			cur.TOTPStep = step
		}
		if err := s.clearAdminFailures(ctx, tx, &cur, source); err != nil {
			return err
		}
		cur.UpdatedAt = s.now()
		if err := tx.UpdateAdmin(ctx, cur); err != nil {
			return err
		}
		out = AdminSignIn{Admin: cur, Token: token.NewLinkToken(), CSRF: token.NewLinkToken()}
		at := now.Truncate(time.Millisecond)
		err = tx.CreateAdminSession(ctx, usher.AdminSession{Hash: hashSecret("admin-session", out.Token), AdminID: cur.ID,
			CSRF: out.CSRF, CreatedAt: at, SeenAt: at, ExpiresAt: at.Add(s.c.Admin.MaxAge)})
		if err != nil {
			return err
		}
		return s.auditAdmin(ctx, tx, AuditAdminSignedIn, cur.ID, nil)
	})
	switch {
	case err != nil:
		return AdminSignIn{}, err
	case reason == "code_required":
		// The attempt stays counted until the code is given: a right
		// password alone must not clear what wrong codes build up.
		return AdminSignIn{}, errAdminMFA
	case reason != "":
		return AdminSignIn{}, s.adminFailed(ctx, a.ID, reason, errAdminLogin)
	}
	s.c.Log.InfoContext(ctx, "admin signed in", "event", "admin_login", "admin_id", a.ID)
	return out, nil
}

// checkAdminPassword verifies an admin's password under the sign-in's
// lockout: the attempt is counted as a failure before the hash (so that
// concurrent guesses queue on the admin's row and at most the limit are
// verified), and a locked admin costs a dummy hash. It returns the
// attempt's per-address counter, which the caller clears once the whole
// attempt succeeds, or errAdminLogin (recorded with the reason, prefixed
// by what the attempt was for).
func (s *Service) checkAdminPassword(ctx context.Context, a usher.Admin, pw, what string) (source string, err error) {
	source = sourceKey(ctx, "admin-login", a.ID)
	locked := false
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockAdmin(ctx, a.ID)
		if err != nil {
			return err
		}
		now := s.c.Now().UTC()
		locked = false
		if s.c.Lockout.Max <= 0 {
			return nil
		}
		n, err := tx.Count(ctx, source, now, now.Add(-s.c.Lockout.Window))
		if err != nil {
			return err
		}
		if locked = n > s.c.Lockout.Max || s.adminLocked(cur, now); locked {
			return nil
		}
		s.countAdminFailure(&cur, now)
		return tx.UpdateAdmin(ctx, cur)
	})
	if err != nil {
		return "", err
	}
	if locked {
		if err := s.c.Hasher.DummyVerify(ctx, pw); err != nil {
			return "", hashErr(err)
		}
		return "", s.adminFailed(ctx, a.ID, what+"locked", errAdminLogin)
	}
	match, _, err := s.c.Hasher.Verify(ctx, pw, a.Hash)
	if err != nil {
		return "", hashErr(err)
	}
	if !match {
		return "", s.adminFailed(ctx, a.ID, what+"wrong_password", errAdminLogin)
	}
	return source, nil
}

// clearAdminFailures ends the failures counted against an admin once an
// attempt has succeeded.
func (s *Service) clearAdminFailures(ctx context.Context, tx Tx, cur *usher.Admin, source string) error {
	if s.c.Lockout.Max > 0 {
		if err := tx.ClearCount(ctx, source); err != nil {
			return err
		}
	}
	cur.FailedChecks, cur.FailedSince = 0, time.Time{}
	return nil
}

// countAdminFailure adds a failure to a's count in the current window.
func (s *Service) countAdminFailure(a *usher.Admin, now time.Time) {
	if a.FailedSince.IsZero() || !a.FailedSince.After(now.Add(-s.c.Lockout.Window)) {
		a.FailedChecks, a.FailedSince = 0, now.Truncate(time.Millisecond)
	}
	a.FailedChecks++
}

// adminCode checks a TOTP code against a's secret.
func (s *Service) adminCode(a usher.Admin, code string, now time.Time) (int64, bool) {
	secret, err := s.c.Box.Open(a.TOTPSecret, adminTOTPContext(a.ID))
	if err != nil {
		return 0, false
	}
	return totp.Check(string(secret), code, now, a.TOTPStep)
}

// adminFailed records a failed sign-in and returns err.
func (s *Service) adminFailed(ctx context.Context, id, reason string, err error) error {
	aerr := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		return s.auditAdmin(ctx, tx, AuditAdminSignInFailed, id, detail{"reason": reason})
	})
	s.c.Log.InfoContext(ctx, "admin sign-in failed", "event", "admin_login_failed", "admin_id", id, "reason", reason)
	if aerr != nil {
		return aerr
	}
	return err
}

// touchAdminEvery is how stale a session's last-seen time may grow: a
// request writes it at most this often.
const touchAdminEvery = time.Minute

// AdminSession returns the admin and session of a session cookie's token,
// when the session lives: not idle longer than AdminRules.Idle, not older
// than AdminRules.MaxAge, its admin still there and still able to sign in.
func (s *Service) AdminSession(ctx context.Context, raw string) (usher.Admin, usher.AdminSession, error) {
	if raw == "" {
		return usher.Admin{}, usher.AdminSession{}, errAdminSession
	}
	x, err := s.c.Store.AdminSession(ctx, hashSecret("admin-session", raw))
	if usher.ErrorCode(err) == usher.NotFound {
		return usher.Admin{}, usher.AdminSession{}, errAdminSession
	}
	if err != nil {
		return usher.Admin{}, usher.AdminSession{}, err
	}
	now := s.c.Now().UTC()
	if !now.Before(x.ExpiresAt) || !now.Before(x.SeenAt.Add(s.c.Admin.Idle)) {
		return usher.Admin{}, usher.AdminSession{}, errAdminSession
	}
	a, err := s.c.Store.AdminByID(ctx, x.AdminID)
	if usher.ErrorCode(err) == usher.NotFound || err == nil && a.Hash == "" {
		return usher.Admin{}, usher.AdminSession{}, errAdminSession
	}
	if err != nil {
		return usher.Admin{}, usher.AdminSession{}, err
	}
	// Under a short idle limit, write more often: at a quarter of it, so a
	// session in use never reaches its idle end unseen.
	if now.Sub(x.SeenAt) >= min(touchAdminEvery, s.c.Admin.Idle/4) {
		if err := s.c.Store.TouchAdminSession(ctx, x.Hash, now.Truncate(time.Millisecond)); err != nil && usher.ErrorCode(err) != usher.NotFound {
			return usher.Admin{}, usher.AdminSession{}, err
		}
		x.SeenAt = now
	}
	return a, x, nil
}

// SignOutAdmin ends a console session.
func (s *Service) SignOutAdmin(ctx context.Context, raw string) error {
	x, err := s.c.Store.AdminSession(ctx, hashSecret("admin-session", raw))
	if err != nil {
		return err
	}
	return s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.DeleteAdminSession(ctx, x.Hash); err != nil {
			return err
		}
		return s.auditAdmin(ctx, tx, AuditAdminSignedOut, x.AdminID, nil)
	})
}

// EnrollAdminTOTP gives an admin a new TOTP secret, in force once
// ConfirmAdminTOTP has its first code. It asks for the admin's password.
func (s *Service) EnrollAdminTOTP(ctx context.Context, id, pw string) (totp.Key, error) {
	a, err := s.c.Store.AdminByID(ctx, id)
	if err != nil {
		return totp.Key{}, err
	}
	if a.TOTPConfirmed {
		return totp.Key{}, errMFAOn
	}
	// The password again, under the sign-in's lockout: a session alone
	// (a browser left open, a stolen cookie) must not be able to put a
	// second factor of its choosing on the account.
	if err := s.checkLength(pw); err != nil {
		return totp.Key{}, errAdminPassword
	}
	source, err := s.checkAdminPassword(ctx, a, pw, "totp_enroll_")
	if usher.ErrorCode(err) == usher.Unauthorized {
		return totp.Key{}, errAdminPassword
	}
	if err != nil {
		return totp.Key{}, err
	}
	k, err := totp.Generate(totpIssuer+" console", a.Email)
	if err != nil {
		return totp.Key{}, usher.Wrap(usher.Internal, "", err)
	}
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockAdmin(ctx, id)
		if err != nil {
			return err
		}
		if cur.TOTPConfirmed {
			return errMFAOn
		}
		if cur.Hash != a.Hash {
			return errAdminPassword // changed since it was checked
		}
		if err := s.clearAdminFailures(ctx, tx, &cur, source); err != nil {
			return err
		}
		cur.TOTPSecret, cur.TOTPStep, cur.UpdatedAt = s.c.Box.Seal([]byte(k.Secret), adminTOTPContext(id)), 0, s.now()
		return tx.UpdateAdmin(ctx, cur)
	})
	return k, err
}

// ConfirmAdminTOTP puts an enrolled secret in force with its first code.
// Every session of the admin ends (this one too): each was opened with a
// password alone, and the admin signs in again with a code.
func (s *Service) ConfirmAdminTOTP(ctx context.Context, id, code string) error {
	return s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockAdmin(ctx, id)
		if err != nil {
			return err
		}
		if cur.TOTPConfirmed {
			return errMFAOn
		}
		if cur.TOTPSecret == "" {
			return usher.Errorf(usher.NotFound, "Two-factor sign-in is not set up.")
		}
		step, ok := s.adminCode(cur, code, s.c.Now().UTC())
		if !ok {
			return errMFACode
		}
		cur.TOTPConfirmed, cur.TOTPStep, cur.UpdatedAt = true, step, s.now()
		if err := tx.UpdateAdmin(ctx, cur); err != nil {
			return err
		}
		if err := tx.DeleteAdminSessions(ctx, id); err != nil {
			return err
		}
		return s.auditAdmin(ctx, tx, AuditAdminMFAEnabled, id, nil)
	})
}
