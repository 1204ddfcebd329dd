package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// The outbox table: Tx.Enqueue, and the relay's Claim, MarkSent and
// MarkFailed.

// outboxRow is what the outbox holds of a message beyond usher.Message.
type outboxRow struct {
	Status, Params, LastError string
	Attempts                  int
	NextAttemptAt, SentAt     int64 // Unix milliseconds
}

func readOutbox(t *testing.T, s *store.Store, id string) outboxRow {
	t.Helper()
	var r outboxRow
	err := s.DB().QueryRowContext(ctx(t), `SELECT status, params, last_error, attempts, next_attempt_at, sent_at
		FROM outbox WHERE id = $1`, s.IDArg(id)).Scan(&r.Status, &r.Params, &r.LastError, &r.Attempts, &r.NextAttemptAt, &r.SentAt)
	if err != nil {
		t.Fatalf("reading outbox row %s: %v", id, err)
	}
	return r
}

// emptyOutbox deletes every message, so a case claims only its own.
func emptyOutbox(t *testing.T, s *store.Store) {
	t.Helper()
	if _, err := s.DB().ExecContext(ctx(t), `DELETE FROM outbox`); err != nil {
		t.Fatalf("emptying the outbox: %v", err)
	}
}

func newMessage(tenantID string, i int) usher.Message {
	return usher.Message{
		ID: usher.NewID(base), TenantID: tenantID, Kind: usher.MailReset,
		To: fmt.Sprintf("to%d@example.com", i), Params: fmt.Sprintf("sealed-params-%d", i),
	}
}

func enqueue(t *testing.T, s *store.Store, m usher.Message, now time.Time) {
	t.Helper()
	mustUpdate(t, s, "Enqueue", func(tctx context.Context, tx account.Tx) error { return tx.Enqueue(tctx, m, now) })
}

func claim(t *testing.T, s *store.Store, now time.Time, lease time.Duration, limit int) []usher.Message {
	t.Helper()
	got, err := s.Claim(ctx(t), now, lease, limit)
	if err != nil {
		t.Fatalf("Claim at %v: %v", now, err)
	}
	return got
}

// wantClaimed fails the test unless got is exactly want, in any order.
func wantClaimed(t *testing.T, what string, got []usher.Message, want ...usher.Message) {
	t.Helper()
	byID := func(a, b usher.Message) int { return strings.Compare(a.ID, b.ID) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if len(got) != len(want) {
		t.Errorf("%s: got %d messages %v, want %d %v", what, len(got), got, len(want), want)
		return
	}
	for i := range got {
		if d := diff(got[i], want[i]); d != "" {
			t.Errorf("%s: message %s differs:\n%s", what, want[i].ID, d)
		}
	}
}

func testOutbox(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	const lease = time.Minute
	future := base.Add(365 * 24 * time.Hour)

	t.Run("EnqueueRolledBack", func(t *testing.T) {
		emptyOutbox(t, s)
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.Enqueue(tctx, newMessage(tenant, 0), base); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		wantClaimed(t, "Claim after a rolled back Enqueue", claim(t, s, future, lease, 10))
	})

	t.Run("ClaimLeases", func(t *testing.T) {
		emptyOutbox(t, s)
		m := newMessage(tenant, 1)
		enqueue(t, s, m, base)
		if r := readOutbox(t, s, m.ID); r.Status != "pending" || r.Params != m.Params || r.Attempts != 0 {
			t.Errorf("enqueued row: got %+v, want pending with its params and no attempt", r)
		}
		want := m
		want.Attempts = 1
		wantClaimed(t, "first Claim", claim(t, s, base, lease, 10), want)
		wantClaimed(t, "second Claim at the same time", claim(t, s, base, lease, 10))
		wantClaimed(t, "Claim just before the lease lapses", claim(t, s, base.Add(lease-ms), lease, 10))
		want.Attempts = 2
		wantClaimed(t, "Claim once the lease lapsed", claim(t, s, base.Add(lease), lease, 10), want)
	})

	t.Run("NotYetDue", func(t *testing.T) {
		emptyOutbox(t, s)
		m := newMessage(tenant, 2)
		due := base.Add(time.Hour)
		enqueue(t, s, m, due)
		wantClaimed(t, "Claim before the message is due", claim(t, s, base, lease, 10))
		wantClaimed(t, "Claim just before the message is due", claim(t, s, due.Add(-ms), lease, 10))
		m.Attempts = 1
		wantClaimed(t, "Claim when the message is due", claim(t, s, due, lease, 10), m)
	})

	t.Run("MarkSent", func(t *testing.T) {
		emptyOutbox(t, s)
		m, other, left := newMessage(tenant, 3), newMessage(tenant, 5), newMessage(tenant, 6)
		for _, x := range []usher.Message{m, other, left} {
			enqueue(t, s, x, base)
		}
		claim(t, s, base, lease, 10)
		sent := base.Add(time.Second)
		if err := s.MarkSent(ctx(t), sent); err != nil {
			t.Fatalf("MarkSent of no message: %v", err)
		}
		if err := s.MarkSent(ctx(t), sent, m.ID, other.ID); err != nil {
			t.Fatalf("MarkSent: %v", err)
		}
		for _, id := range []string{m.ID, other.ID} {
			r := readOutbox(t, s, id)
			if r.Status != "sent" || r.Params != "" || r.SentAt != sent.UnixMilli() {
				t.Errorf("sent row: got status %q, params %q, sent_at %d; want \"sent\", \"\", %d", r.Status, r.Params, r.SentAt, sent.UnixMilli())
			}
		}
		// The message not named stays claimed, its contents kept.
		if r := readOutbox(t, s, left.ID); r.Status != "pending" || r.Params != left.Params || r.SentAt != 0 {
			t.Errorf("unnamed row: got status %q, params %q, sent_at %d; want pending, its params, 0", r.Status, r.Params, r.SentAt)
		}
		left.Attempts = 2
		wantClaimed(t, "Claim once the lease lapsed: only the message not marked sent", claim(t, s, future, lease, 10), left)
	})

	t.Run("MarkFailedRetries", func(t *testing.T) {
		emptyOutbox(t, s)
		m := newMessage(tenant, 4)
		enqueue(t, s, m, base)
		claim(t, s, base, time.Hour, 10) // a lease longer than the retry delay
		next := base.Add(10 * time.Minute)
		const reason = "smtp: 451 try again later"
		if err := s.MarkFailed(ctx(t), m.ID, next, reason, false); err != nil {
			t.Fatalf("MarkFailed: %v", err)
		}
		r := readOutbox(t, s, m.ID)
		if r.Status != "pending" || r.Params != m.Params || r.LastError != reason || r.NextAttemptAt != next.UnixMilli() {
			t.Errorf("failed row: got %+v, want pending with its params, error %q, next attempt %d", r, reason, next.UnixMilli())
		}
		wantClaimed(t, "Claim before the next attempt", claim(t, s, next.Add(-ms), lease, 10))
		m.Attempts = 2
		wantClaimed(t, "Claim at the next attempt", claim(t, s, next, lease, 10), m)
	})

	t.Run("MarkFailedAbandons", func(t *testing.T) {
		emptyOutbox(t, s)
		m := newMessage(tenant, 5)
		enqueue(t, s, m, base)
		claim(t, s, base, lease, 10)
		if err := s.MarkFailed(ctx(t), m.ID, base.Add(10*time.Minute), "smtp: 550 no such user", true); err != nil {
			t.Fatalf("MarkFailed: %v", err)
		}
		if r := readOutbox(t, s, m.ID); r.Status != "abandoned" || r.Params != "" {
			t.Errorf("abandoned row: got status %q, params %q; want \"abandoned\", \"\"", r.Status, r.Params)
		}
		wantClaimed(t, "Claim of an abandoned message", claim(t, s, future, lease, 10))
	})

	// A delivery error is arbitrary text: MarkFailed must store a long one,
	// non-ASCII included, or the message can never be rescheduled.
	t.Run("MarkFailedLongReason", func(t *testing.T) {
		emptyOutbox(t, s)
		m := newMessage(tenant, 6)
		enqueue(t, s, m, base)
		claim(t, s, base, lease, 10)
		reason := "smtp: 554 " + strings.Repeat("x", 489) + strings.Repeat("é", 100) // "é" straddles byte 500
		next := base.Add(time.Minute)
		if err := s.MarkFailed(ctx(t), m.ID, next, reason, false); err != nil {
			t.Fatalf("MarkFailed with a %d-byte reason: %v", len(reason), err)
		}
		r := readOutbox(t, s, m.ID)
		if len(r.LastError) == 0 || len(r.LastError) > 500 || !strings.HasPrefix(reason, r.LastError) || !utf8.ValidString(r.LastError) {
			t.Errorf("stored reason: got %d bytes ending %q (valid UTF-8: %t), want a non-empty valid UTF-8 prefix of at most 500 bytes",
				len(r.LastError), r.LastError[max(0, len(r.LastError)-12):], utf8.ValidString(r.LastError))
		}
		m.Attempts = 2
		wantClaimed(t, "Claim at the next attempt", claim(t, s, next, lease, 10), m)
	})

	t.Run("Limit", func(t *testing.T) {
		emptyOutbox(t, s)
		var msgs []usher.Message
		for i := range 5 {
			m := newMessage(tenant, 10+i)
			// Enqueued latest first, so an order by insertion is caught.
			enqueue(t, s, m, base.Add(time.Duration(5-i)*time.Second))
			m.Attempts = 1
			msgs = append(msgs, m)
		}
		now := base.Add(time.Minute)
		wantClaimed(t, "first Claim of 2", claim(t, s, now, lease, 2), msgs[4], msgs[3])
		wantClaimed(t, "second Claim of 2", claim(t, s, now, lease, 2), msgs[2], msgs[1])
		wantClaimed(t, "third Claim of 2", claim(t, s, now, lease, 2), msgs[0])
		wantClaimed(t, "fourth Claim of 2", claim(t, s, now, lease, 2))
	})

	t.Run("ConcurrentClaims", func(t *testing.T) {
		emptyOutbox(t, s)
		const messages, claimers = 40, 4
		mustUpdate(t, s, "Enqueue", func(tctx context.Context, tx account.Tx) error {
			for i := range messages {
				if err := tx.Enqueue(tctx, newMessage(tenant, 100+i), base); err != nil {
					return err
				}
			}
			return nil
		})
		now := base.Add(time.Minute)
		got := make([][]string, claimers)
		errs := make([]error, claimers)
		var wg sync.WaitGroup
		for i := range claimers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					batch, err := s.Claim(ctx(t), now, lease, 3)
					if err != nil {
						errs[i] = err
						return
					}
					if len(batch) == 0 {
						return
					}
					for _, m := range batch {
						got[i] = append(got[i], m.ID)
					}
				}
			}()
		}
		wg.Wait()
		seen := map[string]int{}
		for i := range claimers {
			if errs[i] != nil {
				t.Errorf("claimer %d: %v", i, errs[i])
			}
			for _, id := range got[i] {
				seen[id]++
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("message %s: claimed %d times, want once", id, n)
			}
		}
		if len(seen) != messages {
			t.Errorf("concurrent claimers: got %d distinct messages, want %d", len(seen), messages)
		}
		if n := countRows(t, s, `SELECT count(*) FROM outbox WHERE attempts = 1`); n != messages {
			t.Errorf("rows with one attempt: got %d, want %d", n, messages)
		}
	})
}
