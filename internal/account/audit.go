package account

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// The audit log's event types. Each is written in the transaction of the
// change it records (usher.Event); webhooks take the same names.
const (
	AuditUserCreated           = "user.created"
	AuditUserUpdated           = "user.updated" // detail.fields names what changed
	AuditUserDeleted           = "user.deleted"
	AuditUserImported          = "user.imported" // one per import batch: detail counts
	AuditUserExported          = "user.exported" // a console download of a tenant's users: detail.count
	AuditUserEmailChanged      = "user.email_changed"
	AuditUserPasswordChanged   = "user.password_changed"
	AuditUserEnabled           = "user.enabled"
	AuditUserDisabled          = "user.disabled"
	AuditUserConfirmed         = "user.confirmed"
	AuditLoginSucceeded        = "login.succeeded"
	AuditLoginFailed           = "login.failed" // detail.reason
	AuditCheckSucceeded        = "check.succeeded"
	AuditCheckFailed           = "check.failed" // detail.reason
	AuditLockoutStarted        = "lockout.started"
	AuditLockoutCleared        = "lockout.cleared"
	AuditSessionStarted        = "session.started"
	AuditSessionEnded          = "session.ended"
	AuditTokenRefreshed        = "token.refreshed" // a refresh token gave a new pair
	AuditResetRequested        = "reset.requested"
	AuditResetCompleted        = "reset.completed"
	AuditResetFailed           = "reset.failed" // detail.reason: wrong_code, too_many_tries, code_expired
	AuditVerificationRequested = "verification.requested"
	AuditVerificationCompleted = "verification.completed"
	AuditVerificationCleared   = "verification.cleared"
	AuditTenantCreated         = "tenant.created"
	AuditTenantKeyRotated      = "tenant.key_rotated"
	AuditTenantDeleted         = "tenant.deleted"
	AuditKeyRotated            = "key.rotated"
	AuditWebhookCreated        = "webhook.created"
	AuditWebhookDeleted        = "webhook.deleted"
)

// AuditTypes lists every event type, for validation and documentation.
var AuditTypes = []string{
	AuditUserCreated, AuditUserUpdated, AuditUserDeleted, AuditUserImported, AuditUserEmailChanged,
	AuditUserPasswordChanged, AuditUserEnabled, AuditUserDisabled, AuditUserConfirmed,
	AuditLoginSucceeded, AuditLoginFailed, AuditCheckSucceeded, AuditCheckFailed,
	AuditLockoutStarted, AuditLockoutCleared, AuditSessionStarted, AuditSessionEnded, AuditTokenRefreshed,
	AuditResetRequested, AuditResetCompleted, AuditResetFailed, AuditVerificationRequested, AuditVerificationCompleted,
	AuditVerificationCleared, AuditTenantCreated, AuditTenantKeyRotated, AuditTenantDeleted,
	AuditKeyRotated, AuditWebhookCreated, AuditWebhookDeleted,
	AuditMFAEnabled, AuditMFADisabled, AuditMFARecoveryRegenerate, AuditMFAVerified, AuditMFAFailed,
	AuditAdminCreated, AuditAdminSetUp, AuditAdminReset, AuditAdminDeleted, AuditAdminSignedIn,
	AuditAdminSignInFailed, AuditAdminSignedOut, AuditAdminMFAEnabled, AuditUserUnconfirmed,
	AuditEmailRetried, AuditEmailDiscarded, AuditUserExported,
}

// eventIDs makes this node's event ids: UUIDv7s that also increase within
// a millisecond, so the events of one use case keep their order in the
// log (across nodes, ids of one millisecond still fall in any order).
type eventIDs struct {
	mu   sync.Mutex
	last [16]byte
}

func (g *eventIDs) next(now time.Time) string {
	id, _ := usher.ParseID(usher.NewID(now))
	g.mu.Lock()
	defer g.mu.Unlock()
	if bytes.Compare(id[:], g.last[:]) <= 0 {
		id = g.last
		for i := 15; i >= 0; i-- { // one more than the last, in the same millisecond
			if id[i]++; id[i] != 0 {
				break
			}
		}
	}
	g.last = id
	return usher.FormatID(id)
}

// detail is an event's detail object: a few fields, never a secret.
type detail map[string]any

// audit appends an event of typ about userID ("" for none) to tenantID's
// log in tx, naming who acted, from where, in which request.
func (s *Service) audit(ctx context.Context, tx Tx, tenantID, typ, userID string, d detail) error {
	now := s.now()
	_, ip, _ := usher.OriginOf(ctx)
	e := usher.Event{
		ID: s.events.next(now), TenantID: tenantID, Time: now, Type: typ, UserID: userID,
		Actor: usher.ActorOf(ctx), IP: ip, RequestID: usher.RequestIDOf(ctx),
	}
	if e.Actor == "" {
		e.Actor = "internal"
	}
	if len(d) > 0 {
		b, err := json.Marshal(d)
		if err != nil {
			return usher.Wrap(usher.Internal, "", err)
		}
		e.Detail = b
	}
	return tx.AppendEvent(ctx, e)
}
