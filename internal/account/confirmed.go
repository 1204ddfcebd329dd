package account

import (
	"context"

	"github.com/usherhq/usher/internal/usher"
)

// AuditUserUnconfirmed records an operator marking an address unproven.
const AuditUserUnconfirmed = "user.unconfirmed"

// SetConfirmed marks a user's email address proven or not, as an operator
// decides (the console): no email is sent, and nothing is revoked.
func (s *Service) SetConfirmed(ctx context.Context, tenantID, id string, confirmed bool) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	typ, event := AuditUserConfirmed, "user_confirmed"
	if !confirmed {
		typ, event = AuditUserUnconfirmed, "user_unconfirmed"
	}
	changed := false
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		u, err := tx.LockUser(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if changed = u.Confirmed != confirmed; !changed {
			return nil
		}
		u.Confirmed, u.UpdatedAt = confirmed, s.now()
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, typ, id, nil)
	})
	if err == nil && changed {
		s.c.Log.InfoContext(ctx, "user changed", "event", event, "user_id", id)
	}
	return err
}
