package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	_, err := s.create(ctx, tenantID, NewUser{Email: email, Password: pw, Enabled: true}, func(tx Tx, u *usher.User) error {
		sess = s.newSession(*u)
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if s.Verify.OnRegister {
			_, err := s.issueVerification(ctx, tx, *u)
			return err
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if s.Verify.OnRegister {
		s.Notify()
	}
	return s.Tokens.Issue(sess)
}

// Login checks email and password and starts a session. Unknown emails
// cost the same work as known ones: one hash verification and one write.
func (s *Service) Login(ctx context.Context, tenantID, email, pw string) (string, error) {
	if err := s.checkLength(pw); err != nil {
		return "", err
	}
	_, key, err := NormalizeEmail(email)
	if err != nil {
		key = "invalid:" + email
	}
	u, err := s.Store.UserByEmail(ctx, tenantID, key)
	if usher.ErrorCode(err) == usher.NotFound {
		if err := s.Hasher.DummyVerify(ctx, pw); err != nil {
			return "", s.hashErr(err)
		}
		// Mirror the failure write a known user's wrong password costs.
		now := s.Now().UTC()
		err = s.Store.Update(ctx, func(tx Tx) error {
			_, err := tx.Count(ctx, counterKey("login", tenantID, key), now, now.Add(-s.Lockout.Window))
			return err
		})
		if err != nil {
			return "", err
		}
		s.Log.InfoContext(ctx, "login failed", "event", "login_failed", "reason", "unknown_email")
		return "", errLogin
	}
	if err != nil {
		return "", err
	}
	var sess usher.Session
	ok, err := s.check(ctx, u, pw, func(tx Tx) error {
		sess = s.newSession(u)
		return tx.CreateSession(ctx, sess)
	})
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errLogin
	}
	s.Log.InfoContext(ctx, "login", "event", "login", "user_id", u.ID, "session_id", sess.ID)
	return s.Tokens.Issue(sess)
}

// counterKey names a per-address counter without storing the address.
func counterKey(kind, tenantID, emailKey string) string {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + emailKey))
	return kind + ":" + hex.EncodeToString(sum[:16])
}

func (s *Service) newSession(u usher.User) usher.Session {
	now := s.Now().UTC().Truncate(time.Second) // JWT times have second precision
	return usher.Session{ID: usher.NewID(now), TenantID: u.TenantID, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.SessionTTL)}
}

// Authenticate returns the user and session of a bearer token. The token's
// signature is checked (or found in the verified-token cache), then its
// session is looked up: a session that ended is refused at once.
func (s *Service) Authenticate(ctx context.Context, tenantID, raw string) (usher.User, token.Claims, error) {
	c, err := s.Tokens.Verify(ctx, raw, tenantID)
	if err != nil {
		return usher.User{}, c, err
	}
	u, err := s.Store.SessionUser(ctx, tenantID, c.SessionID, c.UserID, s.Now())
	if usher.ErrorCode(err) == usher.NotFound || err == nil && !u.Enabled {
		return usher.User{}, c, usher.Errorf(usher.Unauthorized, "The session has ended.")
	}
	return u, c, err
}

// Logout ends one session.
func (s *Service) Logout(ctx context.Context, tenantID, sessionID string) error {
	err := s.Store.Update(ctx, func(tx Tx) error { return tx.DeleteSession(ctx, tenantID, sessionID) })
	if usher.ErrorCode(err) == usher.NotFound {
		return usher.Errorf(usher.Unauthorized, "The session has ended.")
	}
	return err
}

// enqueue seals p and adds a message of kind to the outbox in tx.
func (s *Service) enqueue(ctx context.Context, tx Tx, u usher.User, kind string, p usher.MailParams) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	id := usher.NewID(now)
	return tx.Enqueue(ctx, usher.Message{
		ID: id, TenantID: u.TenantID, Kind: kind, To: u.Email, Params: s.Box.Seal(raw, OutboxSealContext(id)),
	}, now)
}

// OutboxSealContext binds a message's sealed params to the message.
func OutboxSealContext(id string) string { return "outbox:" + id }
