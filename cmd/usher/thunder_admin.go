package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/thunder"
	"github.com/usherhq/usher/internal/api/thunderadmin"
	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/mail"
	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// readThunder reads the Thunder surface's settings and the files they
// name, and makes the registry of its metrics, before anything is opened:
// a missing key or page stops the start.
func (m *Main) readThunder() error {
	tc, err := thunderConfig(&m.Config, m.Now)
	if err != nil {
		return err
	}
	m.thunderConf = tc
	meters, counters, timers := thunder.Metrics(tc)
	if m.Config.OpenAPI {
		meters = append(meters, thunder.MeterSwagger)
	}
	m.thunderMetrics = thunderadmin.NewRegistry(m.Now, meters, counters, timers)
	m.thunderConf.Recorder = m.thunderMetrics
	if tc.OAuth != nil && len(tc.Apps) > 0 {
		m.Log.Warn("thunder-app is unused: thunder-auth is oauth, so applications send bearer tokens",
			"event", "config_warning", "setting", "thunder-app")
	}
	if tc.OAuth != nil && len(m.Config.ThunderOAuthHMACKey) > 0 && len(m.Config.ThunderOAuthHMACKey) < 32 {
		m.Log.Warn("the HMAC secret is shorter than 32 bytes: tokens signed with it can be forged by guessing it",
			"event", "config_warning", "setting", "thunder-oauth-hmac-secret")
	}
	return nil
}

// thunderConfig reads the Thunder surface's settings.
func thunderConfig(c *config.Config, now func() time.Time) (thunder.Config, error) {
	tc := thunder.Config{
		HeaderCheck:    c.ThunderHeaderCheck,
		CommonMistakes: c.ThunderCommonMistakes,
		NoEmail:        !c.ThunderEmail,
		Properties:     thunder.Properties{AllowSubset: c.ThunderAllowSubset, AllowSuperset: c.ThunderAllowSuperset},
	}
	for _, a := range c.ThunderApps {
		name, secret, _ := strings.Cut(a, ":") // checked by Validate
		tc.Apps = append(tc.Apps, thunder.App{Name: name, Secret: secret})
	}
	for _, p := range c.ThunderProperties {
		prop, err := thunder.ParseProperty(p)
		if err != nil {
			return tc, fmt.Errorf("invalid setting thunder-property: %w", err)
		}
		tc.Properties.Allowed = append(tc.Properties.Allowed, prop)
	}
	if c.ThunderAuth == "oauth" {
		f := &token.Foreign{Issuer: c.ThunderOAuthIssuer, Audience: c.ThunderOAuthAudience, Now: now}
		if c.ThunderOAuthHMACKey != "" {
			f.HMAC = []byte(c.ThunderOAuthHMACKey)
		}
		if c.ThunderOAuthRSAKey != "" {
			b, err := os.ReadFile(c.ThunderOAuthRSAKey)
			if err != nil {
				return tc, fmt.Errorf("invalid setting thunder-oauth-rsa-public-key: %w", err)
			}
			if f.RSA, err = token.ParseRSAPublicKey(b); err != nil {
				return tc, fmt.Errorf("invalid setting thunder-oauth-rsa-public-key %s: %w", c.ThunderOAuthRSAKey, err)
			}
		}
		tc.OAuth = f
	}
	if c.ThunderSuccessPage != "" {
		b, err := os.ReadFile(c.ThunderSuccessPage)
		if err != nil {
			return tc, fmt.Errorf("invalid setting thunder-success-page: %w", err)
		}
		tc.SuccessPage = b
	}
	return tc, nil
}

// thunderMessages applies Thunder's messageOptions to verification emails.
func thunderMessages(c *config.Config, t *mail.Templates) error {
	v := mail.Verbatim{Subject: c.ThunderMailSubject, Placeholder: c.ThunderMailURLPlaceholder}
	for _, f := range []struct {
		setting, path string
		into          *string
	}{{"thunder-mail-body-text", c.ThunderMailBodyText, &v.Text}, {"thunder-mail-body-html", c.ThunderMailBodyHTML, &v.HTML}} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("invalid setting %s: %w", f.setting, err)
		}
		*f.into = string(b)
	}
	if v.Subject != "" || v.Text != "" || v.HTML != "" {
		t.SetVerbatim(usher.MailVerify, v)
	}
	return nil
}

// countDeliveries wraps the relay's delivery: every attempt decides the
// admin's Email check, and verification emails count toward Thunder's
// email success and failure counters (each attempt, as Thunder counts
// each send).
func (m *Main) countDeliveries(deliver func(context.Context, usher.Message) error) func(context.Context, usher.Message) error {
	return func(ctx context.Context, msg usher.Message) error {
		err := deliver(ctx, msg)
		if ctx.Err() != nil && err != nil {
			return err // interrupted by shutdown: no verdict on the mail server
		}
		m.mailFailing.Store(err != nil)
		if msg.Kind == usher.MailVerify && m.thunderMetrics != nil {
			if err == nil {
				m.thunderMetrics.Count(thunder.CounterEmailSuccess)
			} else {
				m.thunderMetrics.Count(thunder.CounterEmailFailure)
			}
		}
		return err
	}
}

// thunderAdminSurface is Thunder's admin connector: health checks named as
// Thunder registers them (Email only with email on), ping and metrics.
func (m *Main) thunderAdminSurface() api.Surface {
	allow, _ := m.Config.AdminAllow() // checked by Validate
	checks := []thunderadmin.Check{
		{Name: "Database", Run: func(ctx context.Context) error {
			if err := m.Accounts.Ready(ctx); err != nil {
				m.Log.Warn("health check failed", "event", "healthcheck_failed", "check", "Database", "error", err)
				return errDatabaseDown
			}
			return nil
		}},
		// Dropwizard's deadlock check looks for Java threads blocked on
		// each other's monitors. Go has no such report: the runtime ends
		// the process when every goroutine is blocked, so a process that
		// answers has no deadlock the runtime could see.
		{Name: "deadlocks", Run: func(context.Context) error { return nil }},
	}
	if m.Config.ThunderEmail {
		checks = append(checks, thunderadmin.Check{Name: "Email", Run: func(context.Context) error {
			if m.mailFailing.Load() {
				return errMailFailing
			}
			return nil
		}})
	}
	a := &thunderadmin.Admin{Registry: m.thunderMetrics, Checks: checks, Allow: allow, Now: m.Now}
	return a.Surface()
}

var (
	errDatabaseDown = usher.Errorf(usher.Unavailable, "The database is unreachable.")
	errMailFailing  = usher.Errorf(usher.Unavailable, "The last email could not be sent; the relay retries it.")
)
