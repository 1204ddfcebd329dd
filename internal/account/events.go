package account

import (
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// Events observes what the use cases do, for metrics: each call names an
// event and its outcome. Names are dotted and stable (audit-log entries
// will take them as their types); outcomes come from a fixed set per event
// and never name a user, an address or anything secret, so an observer may
// use both as metric labels. Event must be safe for concurrent use and
// quick: it runs on the request's path, after the use case's transaction
// committed. The events and their outcomes (EventOutcomes lists them):
//
//	login.succeeded         ok
//	login.failed            unknown_email, wrong_password, locked, disabled, password_changed
//	check.succeeded         ok (a password check: the backend's checkpw, Thunder's password header)
//	check.failed            wrong_password, locked, disabled, password_changed
//	lockout.started         address (one client address's checks of an account are refused
//	                        until the window ends), account (every address's are)
//	user.created            ok (every new user: backend, registration), imported (by an import)
//	user.registered         ok (public registration; also counted as user.created)
//	reset.requested         sent, rate_limited, no_user (no enabled user has the address)
//	reset.completed         ok
//	reset.failed            invalid_code, unknown_email
//	verification.requested  ok (a verification email queued)
//	verification.completed  ok
//	verification.failed     invalid_token
//
// A login or check fails with password_changed when the password changed
// while it was verified, and with locked when it was refused unverified. A
// checked call (Thunder's) that fails after its password check, for
// another reason, counts no check.
type Events interface {
	Event(name, outcome string)
}

// Events' names and outcomes, as the use cases report them.
const (
	evLoginSucceeded        = "login.succeeded"
	evLoginFailed           = "login.failed"
	evCheckSucceeded        = "check.succeeded"
	evCheckFailed           = "check.failed"
	evLockoutStarted        = "lockout.started"
	evUserCreated           = "user.created"
	evUserRegistered        = "user.registered"
	evResetRequested        = "reset.requested"
	evResetCompleted        = "reset.completed"
	evResetFailed           = "reset.failed"
	evVerificationRequested = "verification.requested"
	evVerificationCompleted = "verification.completed"
	evVerificationFailed    = "verification.failed"
	outOK                   = "ok"
	outUnknownEmail         = "unknown_email"
	outWrongPassword        = "wrong_password"
	outLocked               = "locked"
	outDisabled             = "disabled"
	outPasswordChanged      = "password_changed"
	outLockAddress          = "address"
	outLockAccount          = "account"
	outSent                 = "sent"
	outRateLimited          = "rate_limited"
	outNoUser               = "no_user"
	outInvalidCode          = "invalid_code"
	outInvalidToken         = "invalid_token"
	outImported             = "imported"
)

// EventOutcomes returns every event name with the outcomes it is reported
// with, so that an observer can show each count from zero before the
// first event.
func EventOutcomes() map[string][]string {
	failures := []string{outWrongPassword, outLocked, outDisabled, outPasswordChanged}
	return map[string][]string{
		evLoginSucceeded:        {outOK},
		evLoginFailed:           append([]string{outUnknownEmail}, failures...),
		evCheckSucceeded:        {outOK},
		evCheckFailed:           failures,
		evLockoutStarted:        {outLockAddress, outLockAccount},
		evUserCreated:           {outOK, outImported},
		evUserRegistered:        {outOK},
		evResetRequested:        {outSent, outRateLimited, outNoUser},
		evResetCompleted:        {outOK},
		evResetFailed:           {outInvalidCode, outUnknownEmail},
		evVerificationRequested: {outOK},
		evVerificationCompleted: {outOK},
		evVerificationFailed:    {outInvalidToken},
	}
}

// event reports an event to the observer, if there is one.
func (s *Service) event(name, outcome string) {
	if s.c.Events != nil {
		s.c.Events.Event(name, outcome)
	}
}

// checked reports a decided password check of a kind (evLoginSucceeded or
// evCheckSucceeded names the success, the matching failure its failure):
// its success, or its failure with the reason a holds and, when the failure
// is the one whose reservation locked the account, the lockout.
func (s *Service) checked(succeeded, failed string, a attempt, ok bool) {
	if ok {
		s.event(succeeded, outOK)
		return
	}
	outcome := a.outcome
	if outcome == "" {
		outcome = outUnknownEmail // the user went (or its address moved) before the check was recorded
	}
	s.event(failed, outcome)
	if a.locksAccount && outcome == outWrongPassword {
		s.event(evLockoutStarted, outLockAccount)
	}
}

// failuresAfter is the account's count of failed checks once one more is
// recorded in the window that starts at windowStart (Tx.RecordFailure).
func failuresAfter(u usher.User, windowStart time.Time) int {
	if u.FailedSince.UnixMilli() < windowStart.UnixMilli() { // as the store compares them
		return 1 // a new window
	}
	return u.FailedChecks + 1
}
