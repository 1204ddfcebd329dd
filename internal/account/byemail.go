package account

import (
	"bytes"
	"context"
	"errors"
	"slices"

	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/usher"
)

// The use cases in this file act on a user named by email address and
// guarded by its password, as the Thunder surface's calls are. Each is one
// transaction: the password check is recorded, and the change it guards is
// made, on the user as locked in that transaction.

// Access names the user a call acts on and the password that proves the
// caller may.
type Access struct {
	Email    string // the user's address, as the caller gives it
	Password string // the user's password (Thunder's "password" header)
	// Check requires Password to verify (Thunder's headerCheck); without
	// it the address alone names the user.
	Check bool
	// Alternates are other passwords that also pass the check, tried in
	// order only when Password does not match (Thunder's
	// allowCommonMistakes: the surface decides which). Each costs one more
	// hash verification on a wrong password.
	Alternates []string
}

// candidates returns the passwords a check tries: Password, then the
// Alternates, leaving out any that no policy could accept (no hashing
// work for an impossible password) and repeats.
func (s *Service) candidates(a Access) []string {
	var out []string
	for _, pw := range append([]string{a.Password}, a.Alternates...) {
		if pw == "" || s.checkLength(pw) != nil || slices.Contains(out, pw) {
			continue
		}
		out = append(out, pw)
	}
	return out
}

// Record is a user as stored after a call, with its live verification
// token ("" when it has none).
type Record struct {
	usher.User
	VerifyToken string
}

var errCredentials = usher.Errorf(usher.Unauthorized, "Unable to validate user with provided credentials.")

// ErrAccessEmail is the cause of the InvalidEmail error for an address that
// names an existing user (rather than one to store): a surface may word
// the two differently.
var ErrAccessEmail = errors.New("account: the address naming the user is not valid")

// accessKey returns the email key of an address that names a user.
func accessKey(email string) (string, error) {
	_, key, err := NormalizeEmail(email)
	if err != nil {
		return "", usher.Wrap(usher.InvalidEmail, usher.ErrorMessage(err), ErrAccessEmail)
	}
	return key, nil
}

// guarded runs act on the user named by a, after checking a's password
// when a.Check is set. prep runs between the check and the transaction (for
// hashing work), only when the password matched or is not checked. The
// transaction records the check (a wrong password counts toward lockout
// and is committed), reads the user's live verification token, and runs
// act on the locked user's Record, which act keeps up to date.
func (s *Service) guarded(ctx context.Context, tenantID string, a Access,
	prep func(u usher.User) error, act func(ctx context.Context, tx Tx, rec *Record) error) (Record, error) {
	key, err := accessKey(a.Email)
	if err != nil {
		return Record{}, err
	}
	tries := s.candidates(a)
	if a.Check && len(tries) == 0 {
		return Record{}, errCredentials // no hashing work for an impossible password
	}
	u, err := s.c.Store.UserByEmail(ctx, tenantID, key)
	if err != nil {
		return Record{}, err
	}
	var at attempt
	if a.Check {
		if at, err = s.try(ctx, u, tries[0], tries[1:]...); err != nil {
			return Record{}, err
		}
	}
	if prep != nil && (!a.Check || at.v.match) {
		if err := prep(u); err != nil {
			return Record{}, s.settle(ctx, u, at, err)
		}
	}
	var rec Record
	refused, moved := false, false
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		rec, refused, moved = Record{}, false, false // afresh: a lost conflict runs this again
		cur, err := tx.LockUser(ctx, tenantID, u.ID)
		if err != nil {
			return err
		}
		if cur.EmailKey != key {
			moved = true // the address moved away meanwhile
			if a.Check {
				return s.audit(ctx, tx, tenantID, AuditCheckFailed, cur.ID, detail{"reason": "address_changed"})
			}
			return nil
		}
		if a.Check {
			ok, err := s.record(ctx, tx, &cur, &at)
			if err != nil {
				return err
			}
			if !ok {
				refused = true
				return nil // commit the failure
			}
		}
		rec.User = cur
		if rec.VerifyToken, err = s.liveToken(ctx, tx, cur); err != nil {
			return err
		}
		if act == nil {
			return nil
		}
		return act(ctx, tx, &rec)
	})
	switch {
	case err != nil:
		return Record{}, s.settle(ctx, u, at, err)
	case moved:
		return Record{}, errNotFound
	case refused:
		s.checked(evCheckSucceeded, evCheckFailed, at, false)
		return Record{}, errCredentials
	}
	if a.Check {
		s.checked(evCheckSucceeded, evCheckFailed, at, true)
	}
	return rec, nil
}

// settle records a checked attempt whose call failed after the check (the
// change was refused, or the transaction rolled back), so that a right
// password does not stay counted as the failure its reservation assumed.
// It returns the call's error.
func (s *Service) settle(ctx context.Context, u usher.User, at attempt, callErr error) error {
	if !at.v.match || s.c.Lockout.Max == 0 {
		return callErr
	}
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockUser(ctx, u.TenantID, u.ID)
		if err != nil {
			return err
		}
		_, err = s.record(ctx, tx, &cur, &at)
		return err
	})
	if err != nil && usher.ErrorCode(err) != usher.NotFound {
		s.c.Log.WarnContext(ctx, "settling a password check failed", "event", "check_settle_failed", "user_id", u.ID, "error", err)
	}
	return callErr
}

// ReadUser returns the user named by a.
func (s *Service) ReadUser(ctx context.Context, tenantID string, a Access) (Record, error) {
	return s.guarded(ctx, tenantID, a, nil, nil)
}

// Replacement is a whole user as a client sends it back: the email, the
// password (nil or "" keeps it), and the custom data.
type Replacement struct {
	Email    string
	Password *string
	Data     []byte
}

// ReplaceUser overwrites the email, password and data of the user named by
// a. The password stays when r's is absent, is the password a proved, is
// a password hash (a client sending back the user it read) or, without a
// check, verifies against the stored hash: only another password is set
// (after the policy check), which ends sessions and voids reset codes. A
// new email clears verification, ends sessions and voids every code.
func (s *Service) ReplaceUser(ctx context.Context, tenantID string, a Access, r Replacement) (Record, error) {
	email, key, err := NormalizeEmail(r.Email)
	if err != nil {
		return Record{}, err
	}
	data, err := NormalizeData(r.Data)
	if err != nil {
		return Record{}, err
	}
	var newHash string
	prep := func(u usher.User) error {
		if !s.newPassword(ctx, u, a, r.Password) {
			return nil
		}
		if err := s.checkPolicy(*r.Password); err != nil {
			return err
		}
		newHash, err = s.hash(ctx, *r.Password)
		return err
	}
	rec, err := s.guarded(ctx, tenantID, a, prep, func(ctx context.Context, tx Tx, rec *Record) error {
		u := &rec.User
		what := keep
		type change struct {
			typ string
			d   detail
		}
		var changes []change
		if newHash != "" {
			setHash(u, newHash)
			what = revokeCredentials
			changes = append(changes, change{AuditUserPasswordChanged, nil})
		}
		if u.EmailKey != key {
			u.Confirmed, rec.VerifyToken = false, ""
			what = revokeAddress
			changes = append(changes, change{AuditUserEmailChanged, detail{"confirmed": false}})
		}
		var fields []string
		if u.Email != email && u.EmailKey == key {
			fields = append(fields, "email") // only its case or form
		}
		if !bytes.Equal(u.Data, data) {
			fields = append(fields, "data")
		}
		if len(fields) > 0 {
			changes = append(changes, change{AuditUserUpdated, detail{"fields": fields}})
		}
		u.Email, u.EmailKey, u.Data = email, key, data
		u.UpdatedAt = s.now()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		for _, c := range changes {
			if err := s.audit(ctx, tx, tenantID, c.typ, u.ID, c.d); err != nil {
				return err
			}
		}
		return revoke(ctx, tx, *u, what)
	})
	if err == nil {
		s.c.Log.InfoContext(ctx, "user changed", "event", "user_updated", "user_id", rec.ID, "password_changed", newHash != "")
	}
	return rec, err
}

// newPassword reports whether pw, sent with a whole user, is a new
// password for u rather than the current one sent back.
func (s *Service) newPassword(ctx context.Context, u usher.User, a Access, pw *string) bool {
	switch {
	case pw == nil || *pw == "" || *pw == u.Hash:
		return false
	case password.LooksLikeHash(*pw):
		// A hash the user had before an upgrade (read before a rehash, or
		// from another node): sent back, it keeps the password. No surface
		// takes a hash string as a password.
		return false
	case a.Check:
		return *pw != a.Password // a.Password was verified against u's hash
	case s.checkLength(*pw) != nil:
		return true // too long to be any password: the policy refuses it
	}
	same, _, err := s.c.Hasher.Verify(ctx, *pw, u.Hash)
	return err != nil || !same // on a busy pool, the policy and hash decide
}

// DeleteUser deletes the user named by a and returns it as it was.
func (s *Service) DeleteUser(ctx context.Context, tenantID string, a Access) (Record, error) {
	rec, err := s.guarded(ctx, tenantID, a, nil, func(ctx context.Context, tx Tx, rec *Record) error {
		if err := tx.DeleteUser(ctx, tenantID, rec.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditUserDeleted, rec.ID, nil)
	})
	if err == nil {
		s.c.Log.InfoContext(ctx, "user deleted", "event", "user_deleted", "user_id", rec.ID)
	}
	return rec, err
}

// RequestVerification marks the user named by a unverified, gives it a new
// verification token (voiding the previous one) and queues the email with
// the link, as Thunder does: the user is verified again only when the link
// is opened.
func (s *Service) RequestVerification(ctx context.Context, tenantID string, a Access) (Record, error) {
	rec, err := s.guarded(ctx, tenantID, a, nil, func(ctx context.Context, tx Tx, rec *Record) error {
		if err := s.unconfirm(ctx, tx, rec); err != nil {
			return err
		}
		var err error
		rec.VerifyToken, err = s.issueVerification(ctx, tx, rec.User)
		return err
	})
	if err != nil {
		return Record{}, err
	}
	s.c.Notify()
	s.c.Log.InfoContext(ctx, "verification sent", "event", "verification_sent", "user_id", rec.ID)
	s.event(evVerificationRequested, outOK)
	return rec, nil
}

// ClearVerification marks the user named by a unverified and voids its
// verification token.
func (s *Service) ClearVerification(ctx context.Context, tenantID string, a Access) (Record, error) {
	return s.guarded(ctx, tenantID, a, nil, func(ctx context.Context, tx Tx, rec *Record) error {
		rec.VerifyToken = ""
		if err := s.unconfirm(ctx, tx, rec); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, tenantID, AuditVerificationCleared, rec.ID, nil); err != nil {
			return err
		}
		return tx.DeleteCodes(ctx, rec.ID, usher.VerifyCode)
	})
}

// unconfirm marks rec's user unverified (Thunder's verification calls do)
// and records the change when it was verified.
func (s *Service) unconfirm(ctx context.Context, tx Tx, rec *Record) error {
	was := rec.Confirmed
	rec.Confirmed = false
	rec.UpdatedAt = s.now()
	if err := tx.UpdateUser(ctx, &rec.User); err != nil || !was {
		return err
	}
	return s.audit(ctx, tx, rec.TenantID, AuditUserUpdated, rec.ID, detail{"fields": []string{"confirmed"}, "confirmed": false})
}
