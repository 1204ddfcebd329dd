package account_test

import (
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

func TestQueueRetryAndDiscard(t *testing.T) {
	h := newTestService(t)
	ctx := usher.WithActor(t.Context(), "admin:test")
	u := h.createUser(t, "a@example.com", oldPassword)
	if err := h.svc.SendVerification(ctx, tenant, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.QueuedMessages(ctx, tenant, "sent"); usher.ErrorCode(err) != usher.Invalid {
		t.Fatalf("an unknown state: got %v, want invalid_request", err)
	}
	ms, err := h.svc.QueuedMessages(ctx, tenant, usher.QueuePending)
	if err != nil || len(ms) != 1 || ms[0].To != "a@example.com" || ms[0].Kind != usher.MailVerify {
		t.Fatalf("QueuedMessages: %+v, %v", ms, err)
	}
	if err := h.svc.RetryMessage(ctx, tenant, ms[0].ID); err != nil {
		t.Fatalf("RetryMessage: %v", err)
	}
	if err := h.svc.RetryMessage(ctx, tenant, "nope"); usher.ErrorCode(err) != usher.NotFound {
		t.Fatalf("RetryMessage of a bad id: got %v, want not_found", err)
	}
	if err := h.svc.DiscardMessage(ctx, tenant, ms[0].ID); err != nil {
		t.Fatalf("DiscardMessage: %v", err)
	}
	if err := h.svc.DiscardMessage(ctx, tenant, ms[0].ID); usher.ErrorCode(err) != usher.NotFound {
		t.Fatalf("DiscardMessage again: got %v, want not_found", err)
	}
	if got := h.env.Mail(t); len(got) != 0 {
		t.Fatalf("a discarded message was sent: %+v", got)
	}
	evs, _ := h.svc.Events(ctx, tenant, account.EventQuery{Types: []string{account.AuditEmailRetried, account.AuditEmailDiscarded}})
	if len(evs.Events) != 2 || evs.Events[0].Actor != "admin:test" {
		t.Fatalf("audit: %+v", evs.Events)
	}
}

func TestActivity(t *testing.T) {
	h := newTestService(t)
	ctx := t.Context()
	h.createUser(t, "a@example.com", oldPassword)
	h.login(t, "a@example.com", oldPassword)
	if _, err := h.svc.Login(ctx, tenant, "a@example.com", wrongPassword); usher.ErrorCode(err) != usher.Unauthorized {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Hour)
	h.createUser(t, "b@example.com", oldPassword)
	a, err := h.svc.Activity(ctx, tenant, time.Hour, 3)
	if err != nil {
		t.Fatalf("Activity: %v", err)
	}
	if got := a.Series[account.AuditUserCreated]; got[0] != 1 || got[1] != 0 || got[2] != 1 {
		t.Errorf("registrations per hour: %v, want [1 0 1]", got)
	}
	if got := a.Series[account.AuditLoginSucceeded]; got[0] != 1 {
		t.Errorf("logins: %v", got)
	}
	if got := a.Series[account.AuditLoginFailed]; got[0] != 1 {
		t.Errorf("failed logins: %v", got)
	}
	if _, err := h.svc.Activity(ctx, tenant, time.Hour, 0); usher.ErrorCode(err) != usher.Invalid {
		t.Fatalf("no buckets: got %v, want invalid_request", err)
	}
}
