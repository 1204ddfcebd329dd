package storetest

import (
	"testing"
	"time"

	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// Stats: the figures operators read, from the outbox and sessions tables.

func testStats(t *testing.T, s *store.Store) {
	now := base.Add(time.Hour)
	got, err := s.Stats(ctx(t), now)
	if err != nil {
		t.Fatalf("Stats of an empty store: %v", err)
	}
	if d := diff(got, store.Stats{}); d != "" {
		t.Errorf("Stats of an empty store differs:\n%s", d)
	}

	tenant := newTenant(t, s)
	u := create(t, s, newUser(tenant, "stats@example.com"))
	createSessions(t, s,
		newSession(tenant, u.ID, now.Add(-ms)), // expired
		newSession(tenant, u.ID, now),          // expires now: dead already
		newSession(tenant, u.ID, now.Add(ms)),
		newSession(tenant, u.ID, now.Add(time.Hour)),
	)

	// Queued at different times: the oldest waiting message is the one
	// that failed and waits for its retry, not one that was finished.
	sent, abandoned, failed, pending, fresh := newMessage(tenant, 1), newMessage(tenant, 2), newMessage(tenant, 3), newMessage(tenant, 4), newMessage(tenant, 5)
	enqueue(t, s, sent, now.Add(-50*time.Minute))
	enqueue(t, s, abandoned, now.Add(-45*time.Minute))
	enqueue(t, s, failed, now.Add(-40*time.Minute))
	enqueue(t, s, pending, now.Add(-10*time.Minute))
	enqueue(t, s, fresh, now)
	if err := s.MarkSent(ctx(t), now.Add(-49*time.Minute), sent.ID); err != nil {
		t.Fatalf("MarkSent: %v", err)
	}
	if err := s.MarkFailed(ctx(t), abandoned.ID, now.Add(-44*time.Minute), "gave up", true); err != nil {
		t.Fatalf("MarkFailed (abandon): %v", err)
	}
	if err := s.MarkFailed(ctx(t), failed.ID, now.Add(time.Minute), "mailbox unavailable", false); err != nil {
		t.Fatalf("MarkFailed (retry): %v", err)
	}
	// A claimed message is still waiting: it is being sent.
	if got := claim(t, s, now.Add(-10*time.Minute), time.Minute, 1); len(got) != 1 || got[0].ID != pending.ID {
		t.Fatalf("Claim: got %d messages, want the one due 10 minutes ago", len(got))
	}

	got, err = s.Stats(ctx(t), now)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	want := store.Stats{
		Pending: 2, Failed: 1, Sent: 1, Abandoned: 1,
		OldestPending: now.Add(-40 * time.Minute),
		Sessions:      2,
	}
	if d := diff(got, want); d != "" {
		t.Errorf("Stats differs:\n%s", d)
	}

	// Once every message has been sent, none is waiting, and nothing
	// is old.
	for _, m := range []usher.Message{failed, pending, fresh} {
		if err := s.MarkSent(ctx(t), now, m.ID); err != nil {
			t.Fatalf("MarkSent: %v", err)
		}
	}
	got, err = s.Stats(ctx(t), now.Add(time.Hour))
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	want = store.Stats{Sent: 4, Abandoned: 1}
	if d := diff(got, want); d != "" {
		t.Errorf("Stats after every message was sent and the sessions expired differs:\n%s", d)
	}
}
