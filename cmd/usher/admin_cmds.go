package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/usherhq/usher/internal/config"
)

// The console admin commands. Each prints what it did; a setup link is
// printed once and never logged.

type adminCreateCmd struct {
	config.Config `embed:""`
	Email         string `arg:"" help:"The admin's email address." env:"-"`
}

type adminListCmd struct {
	config.Config `embed:""`
}

type adminDeleteCmd struct {
	config.Config `embed:""`
	Admin         string `arg:"" help:"The admin's email or id." env:"-"`
}

type adminResetCmd struct {
	config.Config `embed:""`
	Admin         string `arg:"" help:"The admin's email or id." env:"-"`
}

// setupLink is the console page where the holder of raw chooses a
// password. The token rides in the fragment-free query of a page that is
// never logged with its query (see the console's request log).
func setupLink(c *config.Config, raw string) string {
	return c.AdminBaseURL(c.AdminAddr) + "/setup?token=" + url.QueryEscape(raw)
}

func (c *adminCreateCmd) run(ctx context.Context, cfg *config.Config, k *core) error {
	a, raw, err := k.Accounts.CreateAdmin(ctx, c.Email)
	if err != nil {
		return err
	}
	fmt.Printf("admin %s created (id %s).\nOpen this one-time link within %s to choose a password:\n  %s\n",
		a.Email, a.ID, cfg.AdminSetupTTL, setupLink(cfg, raw))
	return nil
}

func (c *adminListCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	as, err := k.Accounts.Admins(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tEMAIL\tSTATE\tTOTP\tCREATED")
	for _, a := range as {
		state := "active"
		if a.Hash == "" {
			state = "awaiting setup"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\n", a.ID, a.Email, state, a.TOTPConfirmed, a.CreatedAt.Format(time.RFC3339))
	}
	return w.Flush()
}

func (c *adminDeleteCmd) run(ctx context.Context, _ *config.Config, k *core) error {
	if err := k.Accounts.DeleteAdmin(ctx, c.Admin); err != nil {
		return err
	}
	fmt.Printf("admin %s deleted; their sessions have ended.\n", c.Admin)
	return nil
}

func (c *adminResetCmd) run(ctx context.Context, cfg *config.Config, k *core) error {
	a, raw, err := k.Accounts.ResetAdmin(ctx, c.Admin)
	if err != nil {
		return err
	}
	fmt.Printf("admin %s reset: password, second factor and sessions voided.\nOpen this one-time link within %s to choose a new password:\n  %s\n",
		a.Email, cfg.AdminSetupTTL, setupLink(cfg, raw))
	return nil
}
