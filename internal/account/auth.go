package account

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// errLogin is the one answer to every failed login: unknown email, wrong
// password, disabled or locked account look alike.
var errLogin = usher.Errorf(usher.Unauthorized, "Invalid email or password.")

// Register creates an enabled, unconfirmed user and logs it in: one hash,
// one transaction (user, session and, with Verify.OnRegister, the
// verification email), one token.
func (s *Service) Register(ctx context.Context, tenantID, email, pw string) (string, error) {
	var sess usher.Session
	_, err := s.create(ctx, tenantID, NewUser{Email: email, Password: pw, Enabled: true}, func(ctx context.Context, tx Tx, u *usher.User) error {
		sess = s.newSession(ctx, *u)
		if err := s.startSession(ctx, tx, sess); err != nil {
			return err
		}
		if s.c.Verify.OnRegister {
			_, err := s.issueVerification(ctx, tx, *u)
			return err
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	s.event(evUserRegistered, outOK)
	if s.c.Verify.OnRegister {
		s.c.Notify()
		s.event(evVerificationRequested, outOK)
	}
	return s.c.Tokens.Issue(sess)
}

// Login checks email and password and starts a session. Unknown emails
// cost the same work as known ones: one hash verification and one write.
// The session is created in the transaction that records the check, on
// the user as it is then: a password or email change that lands between
// the verification and that transaction wins, and the login fails.
func (s *Service) Login(ctx context.Context, tenantID, email, pw string) (string, error) {
	sess, err := s.signIn(ctx, tenantID, email, pw, s.newSession, nil)
	var mfa *mfaChallenge
	if errors.As(err, &mfa) {
		// StaticBackend's /login has no second step: its clients fail
		// safely, told to sign in with POST /token.
		return "", errMFARequired
	}
	if err != nil {
		return "", err
	}
	return s.c.Tokens.Issue(sess)
}

// signIn checks email and password and starts the session that newSess
// makes; also, when given, runs in the session's transaction.
func (s *Service) signIn(ctx context.Context, tenantID, email, pw string,
	newSess func(context.Context, usher.User) usher.Session,
	also func(context.Context, Tx, usher.Session) error) (usher.Session, error) {
	if err := s.checkLength(pw); err != nil {
		return usher.Session{}, err
	}
	_, key, err := NormalizeEmail(email)
	if err != nil {
		key = "invalid:" + email
	}
	u, err := s.c.Store.UserByEmail(ctx, tenantID, key)
	if usher.ErrorCode(err) == usher.NotFound {
		return usher.Session{}, s.unknownLogin(ctx, tenantID, key, pw)
	}
	if err != nil {
		return usher.Session{}, err
	}
	a, err := s.try(ctx, u, pw)
	a.login = true
	if usher.ErrorCode(err) == usher.NotFound {
		s.checked(evLoginSucceeded, evLoginFailed, attempt{}, false)
		return usher.Session{}, errLogin // deleted meanwhile
	}
	if err != nil {
		return usher.Session{}, err
	}
	var sess usher.Session
	var challenge *mfaChallenge
	ok := false
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		ok, sess, challenge = false, usher.Session{}, nil // afresh: a lost conflict runs this again
		cur, err := tx.LockUser(ctx, tenantID, u.ID)
		if usher.ErrorCode(err) == usher.NotFound { // deleted meanwhile
			return s.audit(ctx, tx, tenantID, AuditLoginFailed, u.ID, detail{"reason": "user_deleted"})
		}
		if err != nil {
			return err
		}
		if cur.EmailKey != key { // the address moved away meanwhile
			return s.audit(ctx, tx, tenantID, AuditLoginFailed, u.ID, detail{"reason": "address_changed"})
		}
		before := cur
		if ok, err = s.record(ctx, tx, &cur, &a); err != nil || !ok {
			return err
		}
		x, err := tx.LockTOTP(ctx, tenantID, cur.ID)
		if err != nil && usher.ErrorCode(err) != usher.NotFound {
			return err
		}
		if err == nil && x.Confirmed {
			// The password was right; the second factor decides. Until it
			// does, the attempt stays counted (its reservation): a right
			// password must not reset the count that wrong codes build.
			cur.FailedChecks, cur.FailedSince = before.FailedChecks, before.FailedSince
			if err := tx.UpdateUser(ctx, &cur); err != nil {
				return err
			}
			raw, err := s.mfaPending(ctx, tx, cur)
			if err != nil {
				return err
			}
			challenge = &mfaChallenge{token: raw}
			return nil
		}
		sess = newSess(ctx, cur)
		if err := s.startSession(ctx, tx, sess); err != nil || also == nil {
			return err
		}
		return also(ctx, tx, sess)
	})
	if err != nil {
		return usher.Session{}, err
	}
	if !ok {
		s.checked(evLoginSucceeded, evLoginFailed, a, false)
		return usher.Session{}, errLogin
	}
	s.checked(evLoginSucceeded, evLoginFailed, a, true)
	if challenge != nil {
		s.c.Log.InfoContext(ctx, "second factor required", "event", "mfa_required", "user_id", u.ID)
		return usher.Session{}, challenge
	}
	s.c.Log.InfoContext(ctx, "login", "event", "login", "user_id", u.ID, "session_id", sess.ID)
	return sess, nil
}

// unknownLogin refuses a login for an address without a user, at the cost
// of a known user's wrong password: one hash verification and one write.
func (s *Service) unknownLogin(ctx context.Context, tenantID, key, pw string) error {
	// The writes land in one of a fixed set of counters, so a stream of
	// made-up addresses cannot grow the table.
	sum := addressDigest(tenantID, key)
	bucket := "login-unknown:" + strconv.Itoa(int(binary.BigEndian.Uint16(sum[:]))%unknownBuckets)
	count := func(audit bool) error {
		now := s.c.Now().UTC()
		return s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
			if _, err := tx.Count(ctx, bucket, now, now.Add(-s.c.Lockout.Window)); err != nil || !audit {
				return err
			}
			// Recorded as a known user's failure is, without the address:
			// nothing is stored that an unknown address would not write.
			return s.audit(ctx, tx, tenantID, AuditLoginFailed, "", detail{"reason": outUnknownEmail})
		})
	}
	// A known address's attempt is reserved (one write), verified, then
	// recorded (another write): the same steps here.
	if s.c.Lockout.Max > 0 {
		if err := count(false); err != nil {
			return err
		}
	}
	if err := s.c.Hasher.DummyVerify(ctx, pw); err != nil {
		return hashErr(err)
	}
	if err := count(true); err != nil {
		return err
	}
	s.c.Log.InfoContext(ctx, "login failed", "event", "login_failed", "reason", "unknown_email")
	s.event(evLoginFailed, outUnknownEmail)
	return errLogin
}

// unknownBuckets is how many counter rows logins for unknown addresses
// write to.
const unknownBuckets = 1024

// counterKey names a per-address counter without storing the address.
func counterKey(kind, tenantID, emailKey string) string {
	sum := addressDigest(tenantID, emailKey)
	return kind + ":" + hex.EncodeToString(sum[:16])
}

// addressDigest names an address of a tenant in counters.
func addressDigest(tenantID, emailKey string) [32]byte {
	return sha256.Sum256([]byte(tenantID + "\x00" + emailKey))
}

func (s *Service) newSession(ctx context.Context, u usher.User) usher.Session {
	now := s.c.Now().UTC().Truncate(time.Second) // JWT times have second precision
	surface, ip, agent := usher.OriginOf(ctx)
	return usher.Session{ID: usher.NewID(now), TenantID: u.TenantID, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.c.SessionTTL),
		Surface: surface, ClientIP: ip, UserAgent: agent}
}

// startSession creates sess in tx and records it.
func (s *Service) startSession(ctx context.Context, tx Tx, sess usher.Session) error {
	if err := tx.CreateSession(ctx, sess); err != nil {
		return err
	}
	return s.audit(ctx, tx, sess.TenantID, AuditSessionStarted, sess.UserID, detail{"session_id": sess.ID, "surface": sess.Surface})
}

// touchEvery is how stale a session's last-used time may grow: a request
// marks its session used only when the mark is older, so a busy session
// costs one write every few minutes, not one per request.
const touchEvery = 5 * time.Minute

// Authenticate returns the user and session of a bearer token. The token's
// signature is checked (or found in the verified-token cache), then its
// session is looked up: a session that ended is refused at once.
func (s *Service) Authenticate(ctx context.Context, tenantID, raw string) (usher.User, token.Claims, error) {
	c, err := s.c.Tokens.Verify(ctx, raw, tenantID)
	if err != nil {
		return usher.User{}, c, err
	}
	now := s.c.Now()
	u, used, err := s.c.Store.SessionUser(ctx, tenantID, c.SessionID, c.UserID, now)
	if usher.ErrorCode(err) == usher.NotFound || err == nil && !u.Enabled {
		return usher.User{}, c, usher.Errorf(usher.Unauthorized, "The session has ended.")
	}
	if err == nil && now.Sub(used) >= touchEvery {
		if err := s.c.Store.TouchSession(ctx, tenantID, c.SessionID, now.UTC()); err != nil {
			// The request is served all the same: the mark is a courtesy.
			s.c.Log.WarnContext(ctx, "marking a session used failed", "event", "session_touch_failed", "error", err)
		}
	}
	return u, c, err
}

// Logout ends one session.
func (s *Service) Logout(ctx context.Context, tenantID, userID, sessionID string) error {
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.DeleteUserSession(ctx, tenantID, userID, sessionID); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditSessionEnded, userID, detail{"session_id": sessionID, "reason": "logout"})
	})
	if usher.ErrorCode(err) == usher.NotFound {
		return usher.Errorf(usher.Unauthorized, "The session has ended.")
	}
	return err
}

// enqueue adds a message of kind for u to the outbox in tx, its params
// sealed.
func (s *Service) enqueue(ctx context.Context, tx Tx, u usher.User, kind string, p usher.MailParams) error {
	return s.enqueueTo(ctx, tx, u.TenantID, u.Email, kind, p)
}

// enqueueTo adds a message of kind to an address of tenantID's to the
// outbox in tx (an address the user does not have yet: an email change's).
func (s *Service) enqueueTo(ctx context.Context, tx Tx, tenantID, to, kind string, p usher.MailParams) error {
	now := s.c.Now().UTC()
	m := usher.Message{ID: usher.NewID(now), TenantID: tenantID, Kind: kind, To: to}
	m.SealParams(s.c.Box, p)
	return tx.Enqueue(ctx, m, now)
}
