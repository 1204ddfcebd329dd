package account

import (
	"context"
	"slices"

	"github.com/usherhq/usher/internal/usher"
)

// WebhookRules are what the webhook use cases need from outside the
// domain: a new signing secret, and the check of an endpoint's URL.
type WebhookRules struct {
	NewSecret func() string
	CheckURL  func(url string) error
}

// MaxWebhooks bounds a tenant's endpoints.
const MaxWebhooks = 20

// webhookSealContext binds an endpoint's sealed secret to the endpoint.
func webhookSealContext(w usher.Webhook) string { return "webhook:" + w.ID }

// CreateWebhook adds an endpoint that events of the given types (or "*")
// are posted to, and returns it with its signing secret, which is shown
// this once and stored sealed.
func (s *Service) CreateWebhook(ctx context.Context, tenantID, url string, events []string) (usher.Webhook, string, error) {
	if err := s.c.Webhooks.CheckURL(url); err != nil {
		return usher.Webhook{}, "", usher.Wrap(usher.Invalid, "url: "+usher.ErrorMessage(err), err)
	}
	if len(events) == 0 {
		return usher.Webhook{}, "", usher.Errorf(usher.Invalid, "events must name at least one event type, or \"*\" for all.")
	}
	seen := map[string]bool{}
	var types []string
	for _, t := range events {
		if t != "*" && !slices.Contains(AuditTypes, t) {
			return usher.Webhook{}, "", usher.Errorf(usher.Invalid, "Unknown event type %q.", shortened(t))
		}
		if !seen[t] {
			seen[t] = true
			types = append(types, t)
		}
	}
	if seen["*"] {
		types = []string{"*"} // every type: the others add nothing
	}
	existing, err := s.c.Store.Webhooks(ctx, tenantID)
	if err != nil {
		return usher.Webhook{}, "", err
	}
	if len(existing) >= MaxWebhooks {
		return usher.Webhook{}, "", usher.Errorf(usher.Conflict, "A tenant has at most %d webhook endpoints.", MaxWebhooks)
	}
	now := s.now()
	secret := s.c.Webhooks.NewSecret()
	w := usher.Webhook{ID: usher.NewID(now), TenantID: tenantID, URL: url, Events: types, CreatedAt: now}
	w.Secret = s.c.Box.Seal([]byte(secret), webhookSealContext(w))
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditWebhookCreated, "", detail{"webhook_id": w.ID, "events": types})
	})
	if err != nil {
		return usher.Webhook{}, "", err
	}
	s.c.Log.InfoContext(ctx, "webhook created", "event", "webhook_created", "webhook_id", w.ID)
	return w, secret, nil
}

// Webhooks returns a tenant's endpoints (their secrets sealed).
func (s *Service) Webhooks(ctx context.Context, tenantID string) ([]usher.Webhook, error) {
	return s.c.Store.Webhooks(ctx, tenantID)
}

var errNoWebhook = usher.Errorf(usher.NotFound, "Webhook not found.")

// DeleteWebhook removes an endpoint and its undelivered events.
func (s *Service) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	if !usher.ValidID(id) {
		return errNoWebhook
	}
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.DeleteWebhook(ctx, tenantID, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditWebhookDeleted, "", detail{"webhook_id": id})
	})
	if err == nil {
		s.c.Log.InfoContext(ctx, "webhook deleted", "event", "webhook_deleted", "webhook_id", id)
	}
	return err
}

// WebhookSecret opens an endpoint's sealed signing secret, for the relay.
func (s *Service) WebhookSecret(w usher.Webhook) (string, error) {
	b, err := s.c.Box.Open(w.Secret, webhookSealContext(w))
	return string(b), err
}
