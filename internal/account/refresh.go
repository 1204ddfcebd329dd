package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// Refresh are the rules of sessions started for refresh tokens (the public
// API's POST /token).
type Refresh struct {
	AccessTTL time.Duration // an access token's lifetime
	Idle      time.Duration // a session unused this long ends
	MaxAge    time.Duration // a session ends this long after it started, used or not
}

// RefreshGrace is how long after a refresh token was used the same token
// still gives the same new pair, for a client that retried its refresh
// (a timeout, two tabs): long enough for a retry, too short to be worth
// stealing. After it, a used token is a stolen one: its session ends.
const RefreshGrace = 10 * time.Second

// TokenPair is what a grant gives: an access token, how long it lasts, and
// the refresh token that gives the next pair.
type TokenPair struct {
	Access    string
	ExpiresIn time.Duration
	Refresh   string
	// MFAToken, with the error code usher.MFARequired, is what the second
	// factor's grant takes instead.
	MFAToken string
}

var errGrant = usher.Errorf(usher.Unauthorized, "The refresh token is invalid, expired or used.")

// refreshPrefix marks Usher's refresh tokens, so that one is told from an
// access token (and from a secret of another service) at a glance.
const refreshPrefix = "rt_"

func refreshHash(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

func refreshSealContext(sessionID string) string { return "refresh:" + sessionID }

// PasswordGrant signs in with email and password, as Login does, and
// starts a session for refresh tokens: it gives a short-lived access token
// and a refresh token.
func (s *Service) PasswordGrant(ctx context.Context, tenantID, email, pw string) (TokenPair, error) {
	var raw string
	sess, err := s.signIn(ctx, tenantID, email, pw, s.newRefreshSession, func(ctx context.Context, tx Tx, sess usher.Session) error {
		var err error
		raw, err = s.newRefreshToken(ctx, tx, sess)
		return err
	})
	var mfa *mfaChallenge
	if errors.As(err, &mfa) {
		return TokenPair{MFAToken: mfa.token}, errMFARequired
	}
	if err != nil {
		return TokenPair{}, err
	}
	return s.pair(sess, raw)
}

// newRefreshSession is a session that lasts until it idles out (and never
// past its maximum age).
func (s *Service) newRefreshSession(ctx context.Context, u usher.User) usher.Session {
	sess := s.newSession(ctx, u)
	sess.ExpiresAt = sess.CreatedAt.Add(min(s.c.Refresh.Idle, s.c.Refresh.MaxAge))
	return sess
}

// newRefreshToken stores a new refresh token of sess and returns it.
func (s *Service) newRefreshToken(ctx context.Context, tx Tx, sess usher.Session) (string, error) {
	raw := refreshPrefix + token.NewLinkToken()
	now := s.now()
	err := tx.PutRefreshToken(ctx, usher.RefreshToken{
		Hash: refreshHash(raw), TenantID: sess.TenantID, SessionID: sess.ID, UserID: sess.UserID,
		CreatedAt: now, ExpiresAt: sess.CreatedAt.Add(s.c.Refresh.MaxAge),
	})
	return raw, err
}

// pair issues an access token of sess, ending no later than the session,
// and pairs it with the refresh token raw.
func (s *Service) pair(sess usher.Session, raw string) (TokenPair, error) {
	now := s.c.Now().UTC().Truncate(time.Second) // JWT times have second precision
	exp := now.Add(s.c.Refresh.AccessTTL)
	if sess.ExpiresAt.Before(exp) {
		exp = sess.ExpiresAt
	}
	access, err := s.c.Tokens.Issue(usher.Session{ID: sess.ID, TenantID: sess.TenantID, UserID: sess.UserID, CreatedAt: now, ExpiresAt: exp})
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{Access: access, ExpiresIn: exp.Sub(now), Refresh: raw}, nil
}

// RefreshGrant exchanges a refresh token for a new pair; the token dies
// (rotation). The same token presented again within RefreshGrace gives the
// same new refresh token (a client's retry); after that, it ends the whole
// session and every token of it (reuse: the token was stolen, or the
// client is broken, and either way the session cannot be trusted).
func (s *Service) RefreshGrant(ctx context.Context, tenantID, raw string) (TokenPair, error) {
	if !strings.HasPrefix(raw, refreshPrefix) || len(raw) > 128 {
		return TokenPair{}, errGrant
	}
	hash := refreshHash(raw)
	var sess usher.Session
	var next string
	reused := false
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		sess, next, reused = usher.Session{}, "", false // afresh: a lost conflict runs this again
		// The session first, then the token: the order in which every
		// write that ends a session (and, by cascade, its tokens) takes
		// them, so a refresh and a logout never wait on each other.
		sid, err := tx.RefreshTokenSession(ctx, tenantID, hash)
		if err != nil {
			return err
		}
		now := s.now()
		if sess, err = tx.LockSession(ctx, tenantID, sid, now); err != nil {
			return err // ended: logout, password change, disable, reuse
		}
		rt, err := tx.LockRefreshToken(ctx, tenantID, hash)
		if err != nil {
			return err
		}
		if !now.Before(rt.ExpiresAt) {
			return errGrant
		}
		if !rt.UsedAt.IsZero() {
			if now.Sub(rt.UsedAt) <= RefreshGrace && rt.Next != "" {
				b, err := s.c.Box.Open(rt.Next, refreshSealContext(sess.ID))
				if err != nil {
					return usher.Wrap(usher.Internal, "", err)
				}
				// Only while the token it gave is still unused: the grace
				// must not walk a stolen token forward to the live one.
				nrt, err := tx.LockRefreshToken(ctx, tenantID, refreshHash(string(b)))
				if err != nil && usher.ErrorCode(err) != usher.NotFound {
					return err
				}
				if err == nil && nrt.UsedAt.IsZero() {
					next = string(b)
					return nil
				}
			}
			reused = true
			if err := tx.DeleteUserSession(ctx, tenantID, sess.UserID, sess.ID); err != nil {
				return err
			}
			return s.audit(ctx, tx, tenantID, AuditSessionEnded, sess.UserID, detail{"session_id": sess.ID, "reason": "refresh_token_reused"})
		}
		if next, err = s.newRefreshToken(ctx, tx, sess); err != nil {
			return err
		}
		if err := tx.UseRefreshToken(ctx, hash, now, s.c.Box.Seal([]byte(next), refreshSealContext(sess.ID))); err != nil {
			return err
		}
		sess.ExpiresAt = minTime(now.Add(s.c.Refresh.Idle), sess.CreatedAt.Add(s.c.Refresh.MaxAge))
		if err := tx.ExtendSession(ctx, tenantID, sess.ID, sess.ExpiresAt); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditTokenRefreshed, sess.UserID, detail{"session_id": sess.ID})
	})
	switch {
	case usher.ErrorCode(err) == usher.NotFound:
		return TokenPair{}, errGrant
	case err != nil:
		return TokenPair{}, err
	case reused:
		s.c.Log.WarnContext(ctx, "a used refresh token was presented again: its session ended", "event", "refresh_token_reused",
			"user_id", sess.UserID, "session_id", sess.ID)
		return TokenPair{}, errGrant
	}
	return s.pair(sess, next)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
