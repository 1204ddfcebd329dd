package account

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/totp"
	"github.com/usherhq/usher/internal/usher"
)

// TOTP two-factor sign-in: a user enrols (a secret, shown once), confirms
// with a first code (and gets ten recovery codes, shown once), and from
// then on a right password alone gives no session: it gives an mfa token,
// which a code (or a recovery code) turns into one.

// MFA event types.
const (
	AuditMFAEnabled            = "mfa.enabled"
	AuditMFADisabled           = "mfa.disabled"
	AuditMFARecoveryRegenerate = "mfa.recovery_codes_regenerated"
	AuditMFAVerified           = "mfa.verified"
	AuditMFAFailed             = "mfa.failed"
)

// Second-factor rules.
const (
	mfaTokenTTL   = 5 * time.Minute // an mfa token waits this long for its code
	mfaTokenTries = 5               // wrong codes one mfa token takes
	recoveryCodes = 10
	mfaPrefix     = "mt_"
	totpIssuer    = "Usher"
)

var (
	errMFARequired = usher.Errorf(usher.MFARequired, "This account signs in with a second factor: use POST /token (grant_type=password, then mfa).")
	errMFACode     = usher.Errorf(usher.InvalidCode, "The code is not right, or was used already.")
	errMFAToken    = usher.Errorf(usher.Unauthorized, "The mfa token is invalid, expired or used.")
	errMFAOn       = usher.Errorf(usher.Conflict, "Two-factor sign-in is on already; turn it off first.")
)

func totpSealContext(userID string) string { return "totp:" + userID }

func recoveryHash(userID, code string) string {
	return token.HashCode("recovery", userID, totp.NormalizeRecoveryCode(code))
}

// recoveryHashes are what is stored of a user's recovery codes.
func recoveryHashes(userID string, codes []string) []string {
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = recoveryHash(userID, c)
	}
	return hashes
}

// EnrollTOTP gives a signed-in user a new TOTP secret, not yet in force:
// ConfirmTOTP with a first code puts it in force.
func (s *Service) EnrollTOTP(ctx context.Context, tenantID, userID string) (totp.Key, error) {
	u, err := s.User(ctx, tenantID, userID)
	if err != nil {
		return totp.Key{}, err
	}
	k, err := totp.Generate(totpIssuer, u.Email)
	if err != nil {
		return totp.Key{}, usher.Wrap(usher.Internal, "", err)
	}
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if _, err := tx.LockUser(ctx, tenantID, userID); err != nil {
			return err // and two enrolments of one user take turns
		}
		cur, err := tx.LockTOTP(ctx, tenantID, userID)
		if err == nil && cur.Confirmed {
			return errMFAOn
		}
		if err != nil && usher.ErrorCode(err) != usher.NotFound {
			return err
		}
		return tx.PutTOTP(ctx, usher.TOTP{UserID: userID, TenantID: tenantID, CreatedAt: s.now(),
			Secret: s.c.Box.Seal([]byte(k.Secret), totpSealContext(userID))})
	})
	return k, err
}

// checkFactor checks code, a TOTP code or a recovery code, against u's
// second factor in tx: a TOTP code is good once (its step is recorded), a
// recovery code is spent. A wrong code counts toward u's lockout.
func (s *Service) checkFactor(ctx context.Context, tx Tx, u usher.User, x usher.TOTP, code string, confirmed bool) (bool, error) {
	if confirmed && !x.Confirmed {
		return false, usher.Errorf(usher.NotFound, "Two-factor sign-in is not set up.")
	}
	secret, err := s.c.Box.Open(x.Secret, totpSealContext(u.ID))
	if err != nil {
		return false, usher.Wrap(usher.Internal, "", err)
	}
	now := s.c.Now().UTC()
	if step, ok := totp.Check(string(secret), code, now, x.LastStep); ok {
		return true, tx.SetTOTPStep(ctx, u.ID, step)
	}
	if x.Confirmed && len(totp.NormalizeRecoveryCode(code)) == totp.RecoveryCodeLen {
		err := tx.UseRecoveryCode(ctx, u.ID, recoveryHash(u.ID, code))
		if err == nil {
			return true, nil
		}
		if usher.ErrorCode(err) != usher.NotFound {
			return false, err
		}
	}
	return false, tx.RecordFailure(ctx, u.TenantID, u.ID, now, now.Add(-s.c.Lockout.Window))
}

// ConfirmTOTP puts an enrolled secret in force with its first code and
// returns ten recovery codes, shown this once. Every other session of the
// user ends: one opened with a password alone must not outlive the
// second factor (a user turns it on fearing the password is known).
func (s *Service) ConfirmTOTP(ctx context.Context, tenantID, userID, sessionID, code string) ([]string, error) {
	codes := totp.NewRecoveryCodes(recoveryCodes)
	err := s.withFactor(ctx, tenantID, userID, code, true, func(ctx context.Context, tx Tx) error {
		if err := tx.PutRecoveryCodes(ctx, userID, recoveryHashes(userID, codes)); err != nil {
			return err
		}
		end := func() error { return tx.DeleteOtherSessions(ctx, tenantID, userID, sessionID) }
		if sessionID == "" {
			end = func() error { return tx.DeleteSessions(ctx, tenantID, userID) }
		}
		if err := end(); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditMFAEnabled, userID, nil)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP turns a user's second factor off, given a code or a recovery
// code.
func (s *Service) DisableTOTP(ctx context.Context, tenantID, userID, code string) error {
	return s.withFactor(ctx, tenantID, userID, code, false, func(ctx context.Context, tx Tx) error {
		if err := tx.DeleteTOTP(ctx, userID); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditMFADisabled, userID, detail{"by": "self"})
	})
}

// RegenerateRecoveryCodes replaces a user's recovery codes, given a code;
// the new ones are shown this once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, tenantID, userID, code string) ([]string, error) {
	codes := totp.NewRecoveryCodes(recoveryCodes)
	err := s.withFactor(ctx, tenantID, userID, code, false, func(ctx context.Context, tx Tx) error {
		if err := tx.PutRecoveryCodes(ctx, userID, recoveryHashes(userID, codes)); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditMFARecoveryRegenerate, userID, nil)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// withFactor runs then in a transaction when code is right for the user's
// second factor: the one in force, or, confirming, the one enrolled and
// not yet in force. A wrong code is committed: it counts.
func (s *Service) withFactor(ctx context.Context, tenantID, userID, code string, confirming bool, then func(context.Context, Tx) error) error {
	ok := false
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		ok = false
		u, err := tx.LockUser(ctx, tenantID, userID)
		if err != nil {
			return err
		}
		x, err := tx.LockTOTP(ctx, tenantID, userID)
		if err != nil {
			return err
		}
		if confirming && x.Confirmed {
			return errMFAOn
		}
		if ok, err = s.checkFactor(ctx, tx, u, x, code, !confirming); err != nil || !ok {
			return err
		}
		return then(ctx, tx)
	})
	if err == nil && !ok {
		return errMFACode
	}
	return err
}

// HasTOTP reports whether a user's second factor is in force.
func (s *Service) HasTOTP(ctx context.Context, tenantID, userID string) (bool, error) {
	if _, err := s.User(ctx, tenantID, userID); err != nil {
		return false, err
	}
	on := false
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		x, err := tx.LockTOTP(ctx, tenantID, userID)
		on = err == nil && x.Confirmed
		if usher.ErrorCode(err) == usher.NotFound {
			return nil
		}
		return err
	})
	return on, err
}

// RemoveTOTP turns a user's second factor off from the backend (a user who
// lost both the device and the recovery codes).
func (s *Service) RemoveTOTP(ctx context.Context, tenantID, userID string) error {
	if !usher.ValidID(userID) {
		return errNotFound
	}
	return s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if _, err := tx.LockUser(ctx, tenantID, userID); err != nil {
			return err
		}
		if err := tx.DeleteTOTP(ctx, userID); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditMFADisabled, userID, detail{"by": "backend"})
	})
}

// mfaPending stores a sign-in waiting for its second factor and returns
// its token (mt_<user id>.<random>).
func (s *Service) mfaPending(ctx context.Context, tx Tx, u usher.User) (string, error) {
	raw := mfaPrefix + u.ID + "." + token.NewLinkToken()
	now := s.c.Now().UTC()
	err := tx.PutCode(ctx, usher.UserCode{
		UserID: u.ID, TenantID: u.TenantID, Kind: usher.MFACode,
		Secret: token.HashCode(string(usher.MFACode), u.ID, raw), CreatedAt: now, ExpiresAt: now.Add(mfaTokenTTL),
	})
	return raw, err
}

// MFAGrant completes a sign-in that waits for its second factor: the mfa
// token of PasswordGrant and a code (or a recovery code) give the pair. A
// wrong code counts toward the lockout; an mfa token takes few tries.
func (s *Service) MFAGrant(ctx context.Context, tenantID, mfaToken, code string) (TokenPair, error) {
	userID, _, found := strings.Cut(strings.TrimPrefix(mfaToken, mfaPrefix), ".")
	if !strings.HasPrefix(mfaToken, mfaPrefix) || !found || !usher.ValidID(userID) || len(mfaToken) > 128 {
		return TokenPair{}, errMFAToken
	}
	want := token.HashCode(string(usher.MFACode), userID, mfaToken)
	var sess usher.Session
	var raw string
	ok, wrong := false, false
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		ok, wrong, sess, raw = false, false, usher.Session{}, ""
		// The user first, then its code: the order every other writer
		// takes them in.
		u, err := tx.LockUser(ctx, tenantID, userID)
		if usher.ErrorCode(err) == usher.NotFound {
			return errMFAToken
		}
		if err != nil {
			return err
		}
		c, err := tx.LockCode(ctx, userID, usher.MFACode)
		if err != nil || c.TenantID != tenantID || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(want)) != 1 ||
			!s.c.Now().Before(c.ExpiresAt) {
			if usher.ErrorCode(err) == usher.NotFound || err == nil {
				return errMFAToken
			}
			return err
		}
		if !u.Enabled || s.locked(u, s.c.Now().UTC()) {
			return errMFAToken
		}
		x, err := tx.LockTOTP(ctx, tenantID, userID)
		if err != nil {
			return err
		}
		if ok, err = s.checkFactor(ctx, tx, u, x, code, true); err != nil {
			return err
		}
		if !ok {
			wrong = true
			if c.Tries+1 >= mfaTokenTries {
				if err := tx.DeleteCodes(ctx, userID, usher.MFACode); err != nil {
					return err
				}
			} else if err := tx.SetCodeTries(ctx, userID, usher.MFACode, c.Tries+1); err != nil {
				return err
			}
			return s.audit(ctx, tx, tenantID, AuditMFAFailed, userID, nil)
		}
		if err := tx.DeleteCodes(ctx, userID, usher.MFACode); err != nil {
			return err
		}
		// Both factors passed: now the failures are cleared.
		if u.FailedChecks != 0 {
			u.FailedChecks, u.FailedSince = 0, time.Time{}
			if err := tx.UpdateUser(ctx, &u); err != nil {
				return err
			}
		}
		if err := s.audit(ctx, tx, tenantID, AuditMFAVerified, userID, nil); err != nil {
			return err
		}
		sess = s.newRefreshSession(ctx, u)
		if err := s.startSession(ctx, tx, sess); err != nil {
			return err
		}
		raw, err = s.newRefreshToken(ctx, tx, sess)
		return err
	})
	if err != nil {
		return TokenPair{}, err
	}
	if wrong {
		return TokenPair{}, errMFACode
	}
	return s.pair(sess, raw)
}

// mfaChallenge is signIn's answer for a right password of a user with a
// second factor: the token the second step takes.
type mfaChallenge struct{ token string }

func (m *mfaChallenge) Error() string { return "a second factor is required" }
