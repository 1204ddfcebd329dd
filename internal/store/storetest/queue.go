package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// The email queue as the console lists it, retry and discard, and the
// event counts of the activity charts.

func testQueuedMessages(t *testing.T, s *store.Store) {
	tid := newTenant(t, s)
	other := newTenant(t, s)
	ids := make([]string, 4)
	mustUpdate(t, s, "Enqueue", func(tctx context.Context, tx account.Tx) error {
		for i := range ids {
			ids[i] = usher.NewID(base.Add(time.Duration(i) * time.Second))
			tenant := tid
			if i == 3 {
				tenant = other
			}
			m := usher.Message{ID: ids[i], TenantID: tenant, Kind: usher.MailVerify, To: "a@example.com", Params: "sealed"}
			if err := tx.Enqueue(tctx, m, base.Add(time.Duration(i)*time.Second)); err != nil {
				return err
			}
		}
		return nil
	})
	// ids[1] failed once, ids[2] was abandoned.
	if err := s.MarkFailed(ctx(t), ids[1], base.Add(time.Hour), "554 refused", false); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx(t), ids[2], base.Add(time.Hour), "gave up", true); err != nil {
		t.Fatal(err)
	}
	for state, want := range map[string][]string{usher.QueuePending: {ids[0]}, usher.QueueFailed: {ids[1]}, usher.QueueAbandoned: {ids[2]}} {
		got, err := s.QueuedMessages(ctx(t), tid, state, 10)
		if err != nil {
			t.Fatalf("QueuedMessages(%s): %v", state, err)
		}
		if len(got) != len(want) || got[0].ID != want[0] || got[0].To != "a@example.com" || got[0].TenantID != tid {
			t.Errorf("QueuedMessages(%s): %+v, want %v", state, got, want)
		}
	}
	if got, _ := s.QueuedMessages(ctx(t), tid, usher.QueueFailed, 10); got[0].LastError != "554 refused" || !got[0].NextAttemptAt.Equal(base.Add(time.Hour)) {
		t.Errorf("failed message: %+v", got[0])
	}
	mustUpdate(t, s, "RetryMessage", func(tctx context.Context, tx account.Tx) error {
		return tx.RetryMessage(tctx, tid, ids[1], base.Add(time.Minute))
	})
	if got, _ := s.QueuedMessages(ctx(t), tid, usher.QueueFailed, 10); !got[0].NextAttemptAt.Equal(base.Add(time.Minute)) {
		t.Errorf("after retry: due %v", got[0].NextAttemptAt)
	}
	for name, fn := range map[string]func(context.Context, account.Tx) error{
		"RetryMessage of an abandoned message": func(c context.Context, tx account.Tx) error { return tx.RetryMessage(c, tid, ids[2], base) },
		"RetryMessage of another tenant's":     func(c context.Context, tx account.Tx) error { return tx.RetryMessage(c, tid, ids[3], base) },
		"DiscardMessage of another tenant's":   func(c context.Context, tx account.Tx) error { return tx.DiscardMessage(c, tid, ids[3]) },
	} {
		wantCode(t, name, s.Update(ctx(t), fn), usher.NotFound)
	}
	mustUpdate(t, s, "DiscardMessage", func(tctx context.Context, tx account.Tx) error {
		if err := tx.DiscardMessage(tctx, tid, ids[0]); err != nil {
			return err
		}
		return tx.DiscardMessage(tctx, tid, ids[2])
	})
	if got, _ := s.QueuedMessages(ctx(t), tid, usher.QueuePending, 10); len(got) != 0 {
		t.Errorf("pending after discard: %d", len(got))
	}
	if got, _ := s.QueuedMessages(ctx(t), tid, usher.QueueAbandoned, 10); len(got) != 0 {
		t.Errorf("abandoned after discard: %d", len(got))
	}
}

func testEventCounts(t *testing.T, s *store.Store) {
	tid := newTenant(t, s)
	hour := base.Truncate(time.Hour)
	mustUpdate(t, s, "AppendEvent", func(tctx context.Context, tx account.Tx) error {
		for i, at := range []time.Duration{0, time.Minute, time.Hour + time.Second, 2 * time.Hour, -time.Hour} {
			typ := "login.succeeded"
			if i == 1 {
				typ = "login.failed"
			}
			e := usher.Event{ID: usher.NewID(hour.Add(at)), TenantID: tid, Time: hour.Add(at), Type: typ, Actor: "test", Detail: []byte(`{}`)}
			if err := tx.AppendEvent(tctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.EventCounts(ctx(t), tid, []string{"login.succeeded", "login.failed"}, hour, time.Hour)
	if err != nil {
		t.Fatalf("EventCounts: %v", err)
	}
	want := []usher.EventCount{
		{Type: "login.failed", Bucket: hour, Count: 1}, {Type: "login.succeeded", Bucket: hour, Count: 1},
		{Type: "login.succeeded", Bucket: hour.Add(time.Hour), Count: 1}, {Type: "login.succeeded", Bucket: hour.Add(2 * time.Hour), Count: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EventCounts: got %+v, want %+v", got, want)
	}
	if got, err := s.EventCounts(ctx(t), tid, []string{"login.failed"}, hour.Add(time.Hour), time.Hour); err != nil || len(got) != 0 {
		t.Errorf("EventCounts after the only failure: %v, %v", got, err)
	}
}
