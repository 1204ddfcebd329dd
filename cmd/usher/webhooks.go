package main

import (
	"context"
	"fmt"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/outbox"
	"github.com/usherhq/usher/internal/usher"
	"github.com/usherhq/usher/internal/webhook"
)

// webhookPoll is how often the webhook relay looks for deliveries queued
// by other nodes (and by this one's use cases, which do not wake it).
const webhookPoll = time.Second

// webhookRules are the account's webhook rules: Standard Webhooks secrets,
// and endpoint URLs checked as the sender checks them.
func webhookRules(c *config.Config) account.WebhookRules {
	return account.WebhookRules{
		NewSecret: webhook.NewSecret,
		CheckURL:  func(u string) error { return webhook.ValidateURL(u, c.WebhookAllowPrivate) },
	}
}

// newWebhookRelay builds the relay that posts the audit log's events to
// webhook endpoints.
func (m *Main) newWebhookRelay() *outbox.WebhookRelay {
	c := &m.Config
	sender := webhook.NewSender(webhook.SenderConfig{Timeout: c.WebhookTimeout, AllowPrivate: c.WebhookAllowPrivate})
	post := func(ctx context.Context, d usher.Delivery) error {
		if d.Event.Type == "" {
			return fmt.Errorf("the event was pruned before it could be sent: %w", outbox.ErrPermanent)
		}
		opened, err := m.Accounts.WebhookSecret(d.Endpoint)
		if err != nil {
			return fmt.Errorf("the endpoint's secret cannot be opened: %w", outbox.ErrPermanent)
		}
		secret, err := webhook.ParseSecret(opened)
		if err != nil {
			return fmt.Errorf("the endpoint's secret is not valid: %w", outbox.ErrPermanent)
		}
		body, err := webhook.Payload(d.Event.Type, d.Event.Time, backend.EventOf(d.Event))
		if err != nil {
			return fmt.Errorf("payload: %w", outbox.ErrPermanent)
		}
		return sender.Send(ctx, d.Endpoint.URL, secret, d.Event.ID, m.Now(), body)
	}
	return outbox.NewWebhookRelay(m.Store, post, m.Log, outbox.WebhookConfig{
		Workers: c.WebhookWorkers,
		Config: outbox.Config{
			MaxAttempts: c.WebhookMaxAttempts, RetryBase: c.WebhookRetryBase, RetryMax: c.WebhookRetryMax,
			PollInterval: webhookPoll, SendTimeout: c.WebhookTimeout, Now: m.Now,
		},
	})
}

// pruneEvents deletes the audit log's events older than event-retention,
// every ten minutes, until ctx ends.
func (m *Main) pruneEvents(ctx context.Context) error {
	if m.Config.EventRetention == 0 {
		return nil
	}
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		n, err := m.Accounts.PruneEvents(ctx, m.Now().Add(-m.Config.EventRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			m.Log.Warn("pruning the audit log failed", "event", "events_prune_failed", "error", err)
		case n > 0:
			m.Log.Info("audit log pruned", "event", "events_pruned", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
