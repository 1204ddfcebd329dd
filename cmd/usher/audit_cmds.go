package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/config"
)

// The audit log and webhook commands.

type eventsCmd struct {
	config.Config `embed:""`
	InTenant      string    `name:"tenant" help:"The tenant's name or id (default: the default tenant)." env:"-"`
	User          string    `help:"Only this user's events (a user id)." env:"-"`
	Type          []string  `help:"Only events of these types (repeatable, or comma-separated)." env:"-"`
	After         time.Time `help:"Only events after this time (RFC 3339)." env:"-"`
	Before        time.Time `help:"Only events before this time (RFC 3339)." env:"-"`
	Limit         int       `default:"100" help:"At most this many events (0: all)." env:"-"`
}

func (c *eventsCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	tid, err := tenantID(ctx, k, c.InTenant)
	if err != nil {
		return err
	}
	var types []string
	for _, t := range c.Type {
		types = append(types, strings.Split(t, ",")...)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	q := account.EventQuery{UserID: c.User, Types: types, After: c.After, Before: c.Before, Limit: account.MaxPageSize}
	left := c.Limit
	defer func() {
		if c.Limit > 0 && left <= 0 {
			fmt.Fprintf(os.Stderr, "(stopped at --limit %d; --limit 0 prints them all, --after starts later)\n", c.Limit)
		}
	}()
	for {
		if left > 0 && left < q.Limit {
			q.Limit = left
		}
		page, err := k.Accounts.Events(ctx, tid, q)
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			if err := enc.Encode(backend.EventOf(e)); err != nil {
				return err
			}
		}
		if left > 0 {
			if left -= len(page.Events); left <= 0 {
				return nil
			}
		}
		if page.Next == "" {
			return nil
		}
		q.Cursor = page.Next
	}
}

type webhookCreateCmd struct {
	config.Config `embed:""`
	InTenant      string   `name:"tenant" help:"The tenant's name or id (default: the default tenant)." env:"-"`
	URL           string   `arg:"" help:"The endpoint's URL (https://...)." env:"-"`
	Events        []string `required:"" help:"Event types to send (repeatable or comma-separated; * for all)." env:"-"`
}

type webhookListCmd struct {
	config.Config `embed:""`
	InTenant      string `name:"tenant" help:"The tenant's name or id (default: the default tenant)." env:"-"`
}

type webhookDeleteCmd struct {
	config.Config `embed:""`
	InTenant      string `name:"tenant" help:"The tenant's name or id (default: the default tenant)." env:"-"`
	ID            string `arg:"" help:"The endpoint's id." env:"-"`
}

func (c *webhookCreateCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	tid, err := tenantID(ctx, k, c.InTenant)
	if err != nil {
		return err
	}
	var types []string
	for _, t := range c.Events {
		types = append(types, strings.Split(t, ",")...)
	}
	w, secret, err := k.Accounts.CreateWebhook(ctx, tid, c.URL, types)
	if err != nil {
		return err
	}
	fmt.Printf("id:     %s\nurl:    %s\nevents: %s\nsecret: %s\n", w.ID, w.URL, strings.Join(w.Events, " "), secret)
	fmt.Println("The secret is shown this once: keep it where the receiver verifies signatures.")
	return nil
}

func (c *webhookListCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	tid, err := tenantID(ctx, k, c.InTenant)
	if err != nil {
		return err
	}
	ws, err := k.Accounts.Webhooks(ctx, tid)
	if err != nil {
		return err
	}
	fmt.Printf("%-36s  %-40s  %s\n", "ID", "URL", "EVENTS")
	for _, w := range ws {
		fmt.Printf("%-36s  %-40s  %s\n", w.ID, w.URL, strings.Join(w.Events, " "))
	}
	return nil
}

func (c *webhookDeleteCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	tid, err := tenantID(ctx, k, c.InTenant)
	if err != nil {
		return err
	}
	if err := k.Accounts.DeleteWebhook(ctx, tid, c.ID); err != nil {
		return err
	}
	fmt.Printf("deleted webhook %s\n", c.ID)
	return nil
}
