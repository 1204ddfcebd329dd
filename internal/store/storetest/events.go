package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// The audit log and webhook tables: Tx.AppendEvent, Events and
// PruneEvents; Tx.CreateWebhook, Tx.DeleteWebhook and Webhooks; and the
// webhook relay's ClaimDeliveries, MarkDelivered and MarkDeliveryFailed.

// newEvent returns an event of tenantID with every field set; it is not
// stored.
func newEvent(tenantID, typ, userID string, at time.Time) usher.Event {
	return usher.Event{
		ID: usher.NewID(at), TenantID: tenantID, Time: at, Type: typ, UserID: userID,
		Actor: "backend:ops", IP: "192.0.2.7", RequestID: "req-" + typ,
		Detail: json.RawMessage(`{"reason":"wrong_password","n":3}`),
	}
}

// appendEvents stores es in one transaction, failing the test on error.
func appendEvents(t *testing.T, s *store.Store, es ...usher.Event) {
	t.Helper()
	mustUpdate(t, s, "AppendEvent", func(tctx context.Context, tx account.Tx) error {
		for _, e := range es {
			if err := tx.AppendEvent(tctx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func readEvents(t *testing.T, s *store.Store, q usher.EventQuery) []usher.Event {
	t.Helper()
	got, err := s.Events(ctx(t), q)
	if err != nil {
		t.Fatalf("Events(%+v): %v", q, err)
	}
	return got
}

// wantEvents fails the test unless got is exactly want, in order.
func wantEvents(t *testing.T, what string, got []usher.Event, want ...usher.Event) {
	t.Helper()
	ids := func(es []usher.Event) []string {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.Type + "/" + e.ID
		}
		return out
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("%s: got events\n\t%v\nwant\n\t%v", what, ids(got), ids(want))
		return
	}
	for i := range got {
		if d := diff(got[i], want[i]); d != "" {
			t.Errorf("%s: event %s differs:\n%s", what, want[i].ID, d)
		}
	}
}

func testAppendEvent(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	all := func() []usher.Event { return readEvents(t, s, usher.EventQuery{TenantID: tenant, Limit: 100}) }

	t.Run("RoundTrip", func(t *testing.T) {
		e := newEvent(tenant, "login.failed", usher.NewID(base), base)
		appendEvents(t, s, e)
		wantEvents(t, "Events", all(), e)
	})

	t.Run("NoUserNoDetail", func(t *testing.T) {
		e := newEvent(tenant, "tenant.created", "", base.Add(ms))
		e.Detail, e.IP, e.RequestID = nil, "", ""
		appendEvents(t, s, e)
		if n := countRows(t, s, `SELECT count(*) FROM events WHERE id = $1 AND user_id IS NULL`, s.IDArg(e.ID)); n != 1 {
			t.Errorf("rows of the event with a NULL user_id: got %d, want 1", n)
		}
		want := e
		want.Detail = json.RawMessage(`{}`) // an empty detail is stored as the empty object
		got := all()
		if len(got) != 2 {
			t.Fatalf("Events: got %d events, want 2", len(got))
		}
		wantEvents(t, "the event without a user", got[1:], want)
	})

	t.Run("RolledBack", func(t *testing.T) {
		before := all()
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.AppendEvent(tctx, newEvent(tenant, "user.created", "", base.Add(2*ms))); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		wantEvents(t, "Events after a rolled back AppendEvent", all(), before...)
	})

	t.Run("DuplicateID", func(t *testing.T) {
		e := newEvent(tenant, "user.deleted", "", base.Add(3*ms))
		appendEvents(t, s, e)
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.AppendEvent(tctx, e) })
		if err == nil {
			t.Errorf("AppendEvent of an id already stored: got nil, want an error")
		}
	})
}

func testEventsFilters(t *testing.T, s *store.Store) {
	a, b := newTenant(t, s), newTenant(t, s)
	ann, bob := usher.NewID(base), usher.NewID(base)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * ms) }
	// e[i] is at base + i ms; e[2] and e[3] share a millisecond, so their
	// order is their ids'.
	e := []usher.Event{
		newEvent(a, "user.created", ann, at(0)),
		newEvent(a, "login.failed", ann, at(1)),
		newEvent(a, "login.failed", bob, at(2)),
		newEvent(a, "tenant.key_rotated", "", at(2)),
		newEvent(a, "login.succeeded", ann, at(4)),
		newEvent(a, "user.deleted", bob, at(5)),
	}
	bobFailed := e[2]
	if e[2].ID > e[3].ID {
		e[2], e[3] = e[3], e[2]
	}
	other := newEvent(b, "login.failed", ann, at(1)) // the same user and type, in another tenant
	appendEvents(t, s, e[3], e[0], other, e[5], e[1])
	appendEvents(t, s, e[4], e[2])

	tests := []struct {
		name string
		q    usher.EventQuery
		want []usher.Event
	}{
		{"Tenant", usher.EventQuery{TenantID: a, Limit: 100}, e},
		{"OtherTenant", usher.EventQuery{TenantID: b, Limit: 100}, []usher.Event{other}},
		{"NoSuchTenant", usher.EventQuery{TenantID: usher.NewID(base), Limit: 100}, nil},
		{"User", usher.EventQuery{TenantID: a, UserID: ann, Limit: 100}, []usher.Event{e[0], e[1], e[4]}},
		{"UserInOtherTenant", usher.EventQuery{TenantID: b, UserID: bob, Limit: 100}, nil},
		{"OneType", usher.EventQuery{TenantID: a, Types: []string{"login.failed"}, Limit: 100}, []usher.Event{e[1], bobFailed}},
		{"SeveralTypes", usher.EventQuery{TenantID: a, Types: []string{"user.deleted", "user.created", "login.succeeded"}, Limit: 100},
			[]usher.Event{e[0], e[4], e[5]}},
		{"TypeNoneHas", usher.EventQuery{TenantID: a, Types: []string{"user.confirmed"}, Limit: 100}, nil},
		{"TypePrefixIsNotAType", usher.EventQuery{TenantID: a, Types: []string{"login"}, Limit: 100}, nil},
		{"MinIDInclusive", usher.EventQuery{TenantID: a, MinID: usher.FirstIDAt(at(2)), Limit: 100}, e[2:]},
		{"MinIDBetween", usher.EventQuery{TenantID: a, MinID: usher.FirstIDAt(at(3)), Limit: 100}, e[4:]},
		{"MaxIDExclusive", usher.EventQuery{TenantID: a, MaxID: usher.FirstIDAt(at(2)), Limit: 100}, e[:2]},
		{"MaxIDAfterTheMillisecond", usher.EventQuery{TenantID: a, MaxID: usher.FirstIDAt(at(3)), Limit: 100}, e[:4]},
		{"MinAndMax", usher.EventQuery{TenantID: a, MinID: usher.FirstIDAt(at(1)), MaxID: usher.FirstIDAt(at(5)), Limit: 100}, e[1:5]},
		{"EmptyRange", usher.EventQuery{TenantID: a, MinID: usher.FirstIDAt(at(5)), MaxID: usher.FirstIDAt(at(5)), Limit: 100}, nil},
		{"AfterID", usher.EventQuery{TenantID: a, AfterID: e[1].ID, Limit: 100}, e[2:]},
		{"AfterIDInTheSameMillisecond", usher.EventQuery{TenantID: a, AfterID: e[2].ID, Limit: 100}, e[3:]},
		{"AfterLast", usher.EventQuery{TenantID: a, AfterID: e[5].ID, Limit: 100}, nil},
		{"Limit", usher.EventQuery{TenantID: a, Limit: 2}, e[:2]},
		{"LimitAfter", usher.EventQuery{TenantID: a, AfterID: e[2].ID, Limit: 2}, e[3:5]},
		{"Combined", usher.EventQuery{TenantID: a, UserID: ann, Types: []string{"login.failed", "login.succeeded"},
			AfterID: e[0].ID, MaxID: usher.FirstIDAt(at(4)), Limit: 100}, []usher.Event{e[1]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantEvents(t, "Events", readEvents(t, s, tc.q), tc.want...)
		})
	}

	t.Run("Paging", func(t *testing.T) {
		var got []usher.Event
		q := usher.EventQuery{TenantID: a, Limit: 4}
		for range len(e) {
			page := readEvents(t, s, q)
			got = append(got, page...)
			if len(page) < q.Limit {
				break
			}
			q.AfterID = page[len(page)-1].ID
		}
		wantEvents(t, "every page", got, e...)
	})
}

func testPruneEvents(t *testing.T, s *store.Store) {
	a, b := newTenant(t, s), newTenant(t, s)
	var es []usher.Event
	for i := range 7 {
		tenant := a
		if i%2 == 1 {
			tenant = b // pruning is by age, in every tenant
		}
		es = append(es, newEvent(tenant, "login.failed", "", base.Add(time.Duration(i)*ms)))
	}
	appendEvents(t, s, es...)
	cut := usher.FirstIDAt(base.Add(5 * ms))
	var batches []int
	for range 10 {
		n, err := s.PruneEvents(ctx(t), cut, 2)
		if err != nil {
			t.Fatalf("PruneEvents: %v", err)
		}
		batches = append(batches, n)
		if n < 2 {
			break
		}
	}
	if want := []int{2, 2, 1}; !slices.Equal(batches, want) {
		t.Errorf("PruneEvents batches of 2: got %v deleted, want %v", batches, want)
	}
	wantEvents(t, "tenant a after pruning", readEvents(t, s, usher.EventQuery{TenantID: a, Limit: 100}), es[6])
	wantEvents(t, "tenant b after pruning", readEvents(t, s, usher.EventQuery{TenantID: b, Limit: 100}), es[5])
	if n, err := s.PruneEvents(ctx(t), usher.FirstIDAt(base), 100); err != nil || n != 0 {
		t.Errorf("PruneEvents before every event: got %d, %v; want 0, nil", n, err)
	}
}

// newWebhook returns an endpoint of tenantID taking events; it is not
// stored.
func newWebhook(tenantID string, created time.Time, events ...string) usher.Webhook {
	id := usher.NewID(created)
	return usher.Webhook{
		ID: id, TenantID: tenantID, URL: "https://hooks.example.com/" + id, Events: events,
		Secret: "sealed-secret-" + id, CreatedAt: created,
	}
}

func createWebhooks(t *testing.T, s *store.Store, ws ...usher.Webhook) {
	t.Helper()
	mustUpdate(t, s, "CreateWebhook", func(tctx context.Context, tx account.Tx) error {
		for _, w := range ws {
			if err := tx.CreateWebhook(tctx, w); err != nil {
				return err
			}
		}
		return nil
	})
}

func deleteWebhook(t *testing.T, s *store.Store, tenantID, id string) error {
	t.Helper()
	return s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
		return tx.DeleteWebhook(tctx, tenantID, id)
	})
}

// wantWebhooks fails the test unless tenantID's endpoints are exactly
// want, in order.
func wantWebhooks(t *testing.T, s *store.Store, what, tenantID string, want ...usher.Webhook) {
	t.Helper()
	got, err := s.Webhooks(ctx(t), tenantID)
	if err != nil {
		t.Fatalf("%s: Webhooks: %v", what, err)
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %d endpoints %+v, want %d %+v", what, len(got), got, len(want), want)
		return
	}
	for i := range got {
		if d := diff(got[i], want[i]); d != "" {
			t.Errorf("%s: endpoint %d differs:\n%s", what, i, d)
		}
	}
}

func testWebhooks(t *testing.T, s *store.Store) {
	a, b := newTenant(t, s), newTenant(t, s)
	// Created out of order: Webhooks lists the oldest first.
	w2 := newWebhook(a, base.Add(ms), "*")
	w1 := newWebhook(a, base, "user.created", "login.failed", "tenant.key_rotated")
	w3 := newWebhook(b, base, "user.created")
	createWebhooks(t, s, w2, w1)
	createWebhooks(t, s, w3)
	wantWebhooks(t, s, "tenant a", a, w1, w2)
	wantWebhooks(t, s, "tenant b", b, w3)
	wantWebhooks(t, s, "a tenant without endpoints", newTenant(t, s))

	t.Run("CreateRolledBack", func(t *testing.T) {
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.CreateWebhook(tctx, newWebhook(b, base.Add(time.Hour), "*")); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		wantWebhooks(t, s, "tenant b after a rolled back CreateWebhook", b, w3)
	})

	t.Run("DeleteOtherTenants", func(t *testing.T) {
		wantCode(t, "DeleteWebhook of tenant a's endpoint in tenant b", deleteWebhook(t, s, b, w1.ID), usher.NotFound)
		wantWebhooks(t, s, "tenant a", a, w1, w2)
		wantWebhooks(t, s, "tenant b", b, w3)
	})

	t.Run("DeleteUnknown", func(t *testing.T) {
		wantCode(t, "DeleteWebhook of an unknown id", deleteWebhook(t, s, a, usher.NewID(base)), usher.NotFound)
	})

	t.Run("Delete", func(t *testing.T) {
		if err := deleteWebhook(t, s, a, w1.ID); err != nil {
			t.Fatalf("DeleteWebhook: %v", err)
		}
		wantWebhooks(t, s, "tenant a after the delete", a, w2)
		wantWebhooks(t, s, "tenant b after tenant a's delete", b, w3)
		wantCode(t, "DeleteWebhook again", deleteWebhook(t, s, a, w1.ID), usher.NotFound)
	})
}

// deliveryRow is what webhook_deliveries holds of one delivery.
type deliveryRow struct {
	Status, LastError                              string
	Attempts                                       int
	NextAttemptAt, ClaimedUntil, SentAt, CreatedAt int64 // Unix milliseconds
}

func readDelivery(t *testing.T, s *store.Store, eventID, endpointID string) deliveryRow {
	t.Helper()
	var r deliveryRow
	err := s.DB().QueryRowContext(ctx(t), `SELECT status, last_error, attempts, next_attempt_at, claimed_until, sent_at, created_at
		FROM webhook_deliveries WHERE event_id = $1 AND endpoint_id = $2`, s.IDArg(eventID), s.IDArg(endpointID)).
		Scan(&r.Status, &r.LastError, &r.Attempts, &r.NextAttemptAt, &r.ClaimedUntil, &r.SentAt, &r.CreatedAt)
	if err != nil {
		t.Fatalf("reading the delivery of event %s to %s: %v", eventID, endpointID, err)
	}
	return r
}

// queuedTo returns the endpoints among ws that e was queued for.
func queuedTo(t *testing.T, s *store.Store, e usher.Event, ws ...usher.Webhook) []string {
	t.Helper()
	var out []string
	for _, w := range ws {
		if countRows(t, s, `SELECT count(*) FROM webhook_deliveries WHERE event_id = $1 AND endpoint_id = $2`,
			s.IDArg(e.ID), s.IDArg(w.ID)) == 1 {
			out = append(out, w.URL)
		}
	}
	return out
}

func urls(ws ...usher.Webhook) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.URL)
	}
	return out
}

func testWebhookQueue(t *testing.T, s *store.Store) {
	a, b := newTenant(t, s), newTenant(t, s)
	created := func(i int) time.Time { return base.Add(time.Duration(i) * ms) }
	exact := newWebhook(a, created(0), "user.created")
	all := newWebhook(a, created(1), "*")
	several := newWebhook(a, created(2), "login.failed", "user.created", "user.deleted")
	prefix := newWebhook(a, created(3), "user.created_x")
	suffix := newWebhook(a, created(4), "x.user.created")
	shorter := newWebhook(a, created(5), "user.create")
	other := newWebhook(a, created(6), "login.failed")
	bAll := newWebhook(b, created(7), "*")
	bExact := newWebhook(b, created(8), "user.created")
	ws := []usher.Webhook{exact, all, several, prefix, suffix, shorter, other, bAll, bExact}
	createWebhooks(t, s, ws...)

	tests := []struct {
		name   string
		tenant string
		typ    string
		want   []usher.Webhook
	}{
		{"Exact", a, "user.created", []usher.Webhook{exact, all, several}},
		{"AnotherType", a, "login.failed", []usher.Webhook{all, several, other}},
		{"OnlyStar", a, "tenant.key_rotated", []usher.Webhook{all}},
		{"LastOfSeveral", a, "user.deleted", []usher.Webhook{all, several}},
		{"OtherTenant", b, "user.created", []usher.Webhook{bAll, bExact}},
		{"OtherTenantOnlyStar", b, "login.failed", []usher.Webhook{bAll}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEvent(tc.tenant, tc.typ, usher.NewID(base), base.Add(time.Duration(i)*time.Second))
			appendEvents(t, s, e)
			if got, want := queuedTo(t, s, e, ws...), urls(tc.want...); !slices.Equal(got, want) {
				t.Errorf("%s event of %s queued for\n\t%v\nwant\n\t%v", tc.typ, tc.name, got, want)
			}
			for _, w := range tc.want {
				want := deliveryRow{Status: "pending", NextAttemptAt: e.Time.UnixMilli(), CreatedAt: e.Time.UnixMilli()}
				if got := readDelivery(t, s, e.ID, w.ID); got != want {
					t.Errorf("delivery to %s: got %+v, want %+v", w.URL, got, want)
				}
			}
			if n := countRows(t, s, `SELECT count(*) FROM webhook_deliveries WHERE event_id = $1 AND tenant_id = $2`,
				s.IDArg(e.ID), s.IDArg(tc.tenant)); n != len(tc.want) {
				t.Errorf("deliveries of the event in its tenant: got %d, want %d", n, len(tc.want))
			}
		})
	}

	t.Run("RolledBack", func(t *testing.T) {
		e := newEvent(a, "user.created", "", base.Add(time.Hour))
		err := s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
			if err := tx.AppendEvent(tctx, e); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Update: got %v, want fn's error", err)
		}
		if got := queuedTo(t, s, e, ws...); len(got) != 0 {
			t.Errorf("a rolled back event was queued for %v", got)
		}
	})

	t.Run("DeletedEndpoint", func(t *testing.T) {
		e := newEvent(a, "user.created", "", base.Add(2*time.Hour))
		appendEvents(t, s, e)
		if err := deleteWebhook(t, s, a, exact.ID); err != nil {
			t.Fatalf("DeleteWebhook: %v", err)
		}
		if n := countRows(t, s, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1`, s.IDArg(exact.ID)); n != 0 {
			t.Errorf("deliveries of a deleted endpoint: got %d, want 0", n)
		}
		later := newEvent(a, "user.created", "", base.Add(3*time.Hour))
		appendEvents(t, s, later)
		if got, want := queuedTo(t, s, later, ws...), urls(all, several); !slices.Equal(got, want) {
			t.Errorf("an event after the delete was queued for %v, want %v", got, want)
		}
	})
}

func claimDeliveries(t *testing.T, s *store.Store, now time.Time, lease time.Duration, limit int) []usher.Delivery {
	t.Helper()
	got, err := s.ClaimDeliveries(ctx(t), now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimDeliveries at %v: %v", now, err)
	}
	return got
}

// wantDeliveries fails the test unless got is exactly want, in any order.
func wantDeliveries(t *testing.T, what string, got []usher.Delivery, want ...usher.Delivery) {
	t.Helper()
	key := func(d usher.Delivery) string { return d.Event.ID + "/" + d.Endpoint.URL }
	byKey := func(x, y usher.Delivery) int { return strings.Compare(key(x), key(y)) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byKey)
	slices.SortFunc(want, byKey)
	keys := func(ds []usher.Delivery) []string {
		var out []string
		for _, d := range ds {
			out = append(out, fmt.Sprintf("%s to %s (attempt %d)", d.Event.Type, d.Endpoint.URL, d.Attempts))
		}
		return out
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %d deliveries %v, want %d %v", what, len(got), keys(got), len(want), keys(want))
		return
	}
	for i := range got {
		if d := diff(got[i].Event, want[i].Event); d != "" {
			t.Errorf("%s: event of delivery %d differs:\n%s", what, i, d)
		}
		if d := diff(got[i].Endpoint, want[i].Endpoint); d != "" {
			t.Errorf("%s: endpoint of delivery %d differs:\n%s", what, i, d)
		}
		if got[i].Attempts != want[i].Attempts {
			t.Errorf("%s: delivery %s: got attempt %d, want %d", what, keys(want[i:i+1]), got[i].Attempts, want[i].Attempts)
		}
	}
}

func testClaimDeliveries(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	const lease = time.Minute
	w1 := newWebhook(tenant, base, "*")
	w2 := newWebhook(tenant, base.Add(ms), "*")
	createWebhooks(t, s, w1, w2)
	e1 := newEvent(tenant, "user.created", "", base)
	e2 := newEvent(tenant, "user.deleted", "", base.Add(ms))
	appendEvents(t, s, e1)
	appendEvents(t, s, e2)
	d := func(e usher.Event, w usher.Webhook, attempts int) usher.Delivery {
		return usher.Delivery{Event: e, Endpoint: w, Attempts: attempts}
	}

	wantDeliveries(t, "ClaimDeliveries before any is due", claimDeliveries(t, s, base.Add(-ms), lease, 10))
	// At base only e1 is due: one delivery to each endpoint.
	wantDeliveries(t, "ClaimDeliveries at the first event", claimDeliveries(t, s, base, lease, 10), d(e1, w1, 1), d(e1, w2, 1))
	if r := readDelivery(t, s, e1.ID, w1.ID); r.ClaimedUntil != base.Add(lease).UnixMilli() || r.Attempts != 1 || r.Status != "pending" {
		t.Errorf("a claimed delivery: got %+v, want pending, leased until %d, 1 attempt", r, base.Add(lease).UnixMilli())
	}
	// e2 is due now, but both endpoints have a delivery in flight.
	wantDeliveries(t, "ClaimDeliveries while both endpoints have one in flight", claimDeliveries(t, s, base.Add(ms), lease, 10))

	if err := s.MarkDelivered(ctx(t), e1.ID, w1.ID, base.Add(2*ms)); err != nil {
		t.Fatalf("MarkDelivered: %v", err)
	}
	if r, want := readDelivery(t, s, e1.ID, w1.ID), (deliveryRow{Status: "sent", Attempts: 1, NextAttemptAt: base.UnixMilli(),
		SentAt: base.Add(2 * ms).UnixMilli(), CreatedAt: base.UnixMilli()}); r != want {
		t.Errorf("a delivered row: got %+v, want %+v", r, want)
	}
	// w1 is free again: its next delivery goes; w2 still waits.
	wantDeliveries(t, "ClaimDeliveries once w1's is marked delivered", claimDeliveries(t, s, base.Add(2*ms), lease, 10), d(e2, w1, 1))
	wantDeliveries(t, "ClaimDeliveries just before w2's lease lapses", claimDeliveries(t, s, base.Add(lease-ms), lease, 10))
	// w2's lease lapsed at base+lease: its delivery is claimed again, with
	// the one that waited behind it.
	wantDeliveries(t, "ClaimDeliveries once w2's lease lapsed", claimDeliveries(t, s, base.Add(lease), lease, 10),
		d(e1, w2, 2), d(e2, w2, 1))

	retry := base.Add(time.Hour)
	if err := s.MarkDeliveryFailed(ctx(t), e1.ID, w2.ID, retry, "503 Service Unavailable", false); err != nil {
		t.Fatalf("MarkDeliveryFailed: %v", err)
	}
	if r, want := readDelivery(t, s, e1.ID, w2.ID), (deliveryRow{Status: "pending", LastError: "503 Service Unavailable", Attempts: 2,
		NextAttemptAt: retry.UnixMilli(), CreatedAt: base.UnixMilli()}); r != want {
		t.Errorf("a failed row: got %+v, want %+v", r, want)
	}
	for _, x := range []struct {
		e usher.Event
		w usher.Webhook
	}{{e2, w1}, {e2, w2}} {
		if err := s.MarkDelivered(ctx(t), x.e.ID, x.w.ID, base.Add(lease+ms)); err != nil {
			t.Fatalf("MarkDelivered: %v", err)
		}
	}
	wantDeliveries(t, "ClaimDeliveries before the retry is due", claimDeliveries(t, s, retry.Add(-ms), lease, 10))
	wantDeliveries(t, "ClaimDeliveries when the retry is due", claimDeliveries(t, s, retry, lease, 10), d(e1, w2, 3))
	if err := s.MarkDeliveryFailed(ctx(t), e1.ID, w2.ID, retry, "gave up", true); err != nil {
		t.Fatalf("MarkDeliveryFailed abandoning: %v", err)
	}
	if r := readDelivery(t, s, e1.ID, w2.ID); r.Status != "abandoned" || r.LastError != "gave up" || r.Attempts != 3 || r.ClaimedUntil != 0 {
		t.Errorf("an abandoned row: got %+v, want abandoned after 3 attempts, its reason kept, no lease", r)
	}
	wantDeliveries(t, "ClaimDeliveries after every delivery is sent or abandoned", claimDeliveries(t, s, retry.Add(24*time.Hour), lease, 10))

	t.Run("Limit", func(t *testing.T) {
		w3 := newWebhook(tenant, base.Add(2*ms), "login.failed")
		createWebhooks(t, s, w3)
		var es []usher.Event
		for i := range 3 {
			e := newEvent(tenant, "login.failed", "", retry.Add(time.Duration(i+1)*time.Second))
			appendEvents(t, s, e)
			es = append(es, e)
		}
		// w1 and w2 take every type: 9 deliveries wait, 3 to each endpoint.
		now := retry.Add(time.Minute)
		first := claimDeliveries(t, s, now, lease, 2)
		if len(first) != 2 {
			t.Fatalf("ClaimDeliveries with limit 2: got %d deliveries, want 2", len(first))
		}
		for _, x := range first {
			if x.Event.ID != es[0].ID {
				t.Errorf("ClaimDeliveries with limit 2: got %s, want the oldest event's deliveries first", x.Event.ID)
			}
		}
		// The endpoints of the first batch have one in flight: the rest
		// go only to the third.
		rest := claimDeliveries(t, s, now, lease, 10)
		busy := map[string]bool{first[0].Endpoint.ID: true, first[1].Endpoint.ID: true}
		for _, x := range rest {
			if busy[x.Endpoint.ID] {
				t.Errorf("a second claim gave %s a delivery while one is in flight", x.Endpoint.URL)
			}
		}
		if len(rest) != 3 {
			t.Errorf("the second claim: got %d deliveries, want the free endpoint's 3", len(rest))
		}
	})
}

func testClaimPrunedEvent(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	w := newWebhook(tenant, base, "*")
	createWebhooks(t, s, w)
	e := newEvent(tenant, "user.created", "", base)
	appendEvents(t, s, e)
	if n, err := s.PruneEvents(ctx(t), usher.FirstIDAt(base.Add(ms)), 10); err != nil || n != 1 {
		t.Fatalf("PruneEvents: got %d, %v; want 1, nil", n, err)
	}
	got := claimDeliveries(t, s, base, time.Minute, 10)
	// The relay gives up a delivery whose event is gone: it comes back
	// with the event's id and nothing else.
	wantDeliveries(t, "ClaimDeliveries of a pruned event", got, usher.Delivery{Event: usher.Event{ID: e.ID}, Endpoint: w, Attempts: 1})
	if len(got) == 1 && got[0].Event.Type != "" {
		t.Errorf("the pruned event's type: got %q, want empty", got[0].Event.Type)
	}
}

func testDeleteTenantEvents(t *testing.T, s *store.Store) {
	doomed, kept := namedTenant("doomed", base), namedTenant("kept", base)
	for _, x := range []usher.Tenant{doomed, kept} {
		if err := createTenant(t, s, x); err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
		createWebhooks(t, s, newWebhook(x.ID, base, "*"), newWebhook(x.ID, base, "user.created"))
		appendEvents(t, s, newEvent(x.ID, "user.created", "", base), newEvent(x.ID, "login.failed", "", base.Add(ms)))
	}
	rows := func(tenantID string) map[string]int {
		out := map[string]int{}
		for _, table := range []string{"events", "webhook_endpoints", "webhook_deliveries"} {
			out[table] = countRows(t, s, `SELECT count(*) FROM `+table+` WHERE tenant_id = $1`, s.IDArg(tenantID))
		}
		return out
	}
	full := map[string]int{"events": 2, "webhook_endpoints": 2, "webhook_deliveries": 3}
	if got := rows(doomed.ID); !mapsEqual(got, full) {
		t.Fatalf("rows of the tenant before the delete: got %v, want %v", got, full)
	}
	mustUpdate(t, s, "DeleteTenant", func(tctx context.Context, tx account.Tx) error { return tx.DeleteTenant(tctx, doomed.ID) })
	if got, want := rows(doomed.ID), map[string]int{"events": 0, "webhook_endpoints": 0, "webhook_deliveries": 0}; !mapsEqual(got, want) {
		t.Errorf("rows of the deleted tenant: got %v, want %v", got, want)
	}
	if got := rows(kept.ID); !mapsEqual(got, full) {
		t.Errorf("rows of another tenant: got %v, want %v", got, full)
	}
	if got := claimDeliveries(t, s, base.Add(time.Hour), time.Minute, 10); len(got) != 3 {
		t.Errorf("ClaimDeliveries after the delete: got %d deliveries, want the kept tenant's 3", len(got))
	} else {
		for _, x := range got {
			if x.Endpoint.TenantID != kept.ID {
				t.Errorf("ClaimDeliveries after the delete gave a delivery of tenant %s", x.Endpoint.TenantID)
			}
		}
	}
}
