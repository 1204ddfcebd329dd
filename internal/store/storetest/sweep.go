package storetest

import (
	"testing"
	"time"

	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// Sweep: what it deletes from each table, and what it keeps.

func testSweep(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	u := create(t, s, newUser(tenant, "sweep@example.com"))
	now := base.Add(30 * 24 * time.Hour)
	const week = 7 * 24 * time.Hour

	expired := newSession(tenant, u.ID, now.Add(-ms))
	atNow := newSession(tenant, u.ID, now) // dead to SessionUser already
	live := newSession(tenant, u.ID, now.Add(ms))
	createSessions(t, s, expired, atNow, live)

	oldCode := newCode(u, usher.ResetCode, "old", now.Add(-time.Hour))
	oldCode.ExpiresAt = now
	liveCode := newCode(u, usher.VerifyCode, "live", now.Add(-time.Minute))
	putCodes(t, s, oldCode, liveCode)

	for _, c := range []struct {
		key string
		at  time.Time
	}{{"old", now.Add(-48 * time.Hour)}, {"recent", now.Add(-time.Minute)}} {
		if _, err := count(t, s, c.key, c.at, c.at.Add(-time.Hour)); err != nil {
			t.Fatalf("Count(%s): %v", c.key, err)
		}
	}

	sentOld, abandonedOld, pendingOld, sentRecent := newMessage(tenant, 1), newMessage(tenant, 2), newMessage(tenant, 3), newMessage(tenant, 4)
	for _, m := range []usher.Message{sentOld, abandonedOld, pendingOld} {
		enqueue(t, s, m, now.Add(-week-time.Hour))
	}
	enqueue(t, s, sentRecent, now.Add(-time.Hour))
	for _, m := range []struct {
		id string
		at time.Time
	}{{sentOld.ID, now.Add(-week - 30*time.Minute)}, {sentRecent.ID, now.Add(-30 * time.Minute)}} {
		if err := s.MarkSent(ctx(t), m.at, m.id); err != nil {
			t.Fatalf("MarkSent: %v", err)
		}
	}
	if err := s.MarkFailed(ctx(t), abandonedOld.ID, now.Add(-week-30*time.Minute), "gave up", true); err != nil {
		t.Fatalf("MarkFailed: %v", err)
	}

	if err := s.Sweep(ctx(t), now); err != nil {
		t.Fatalf("Sweep: %v", err)
	}

	t.Run("Sessions", func(t *testing.T) {
		for _, sess := range []usher.Session{expired, atNow} {
			if n := countRows(t, s, `SELECT count(*) FROM sessions WHERE id = $1`, s.IDArg(sess.ID)); n != 0 {
				t.Errorf("session expired at %v: got %d rows after Sweep, want 0", sess.ExpiresAt, n)
			}
		}
		got, _, err := s.SessionUser(ctx(t), tenant, live.ID, u.ID, now)
		if err != nil {
			t.Fatalf("SessionUser of a live session after Sweep: %v", err)
		}
		wantUser(t, "SessionUser after Sweep", got, u)
	})

	t.Run("Codes", func(t *testing.T) {
		wantNoUserCode(t, s, "expired code after Sweep", u.ID, usher.ResetCode)
		wantUserCode(t, s, "live code after Sweep", liveCode)
	})

	t.Run("Counters", func(t *testing.T) {
		// A window start long before both counters: a kept counter goes on
		// counting, a swept one starts again at 1.
		for _, c := range []struct {
			key  string
			want int
		}{{"old", 1}, {"recent", 2}} {
			got, err := count(t, s, c.key, now, now.Add(-72*time.Hour))
			if err != nil {
				t.Fatalf("Count(%s): %v", c.key, err)
			}
			if got != c.want {
				t.Errorf("Count(%s) after Sweep: got %d, want %d", c.key, got, c.want)
			}
		}
	})

	t.Run("Outbox", func(t *testing.T) {
		for _, m := range []struct {
			name string
			id   string
			kept bool
		}{
			{"sent over a week ago", sentOld.ID, false},
			{"abandoned over a week ago", abandonedOld.ID, false},
			{"pending for over a week", pendingOld.ID, true},
			{"sent within the week", sentRecent.ID, true},
		} {
			n := countRows(t, s, `SELECT count(*) FROM outbox WHERE id = $1`, s.IDArg(m.id))
			if want := map[bool]int{true: 1, false: 0}[m.kept]; n != want {
				t.Errorf("message %s: got %d rows after Sweep, want %d", m.name, n, want)
			}
		}
		want := pendingOld
		want.Attempts = 1
		wantClaimed(t, "Claim after Sweep", claim(t, s, now, time.Minute, 10), want)
	})
}
