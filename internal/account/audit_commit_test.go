package account_test

// The audit log commits with its change, and pages like the user list.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// failingStore is a store whose transactions fail, when told to, at
// AppendEvent, or at a write that use cases make after their audit entry
// (Enqueue, UpdateUser).
type failingStore struct {
	account.Store
	append, enqueue, update atomic.Bool
}

func (s *failingStore) Update(ctx context.Context, fn func(context.Context, account.Tx) error) error {
	return s.Store.Update(ctx, func(ctx context.Context, tx account.Tx) error { return fn(ctx, failingTx{tx, s}) })
}

type failingTx struct {
	account.Tx
	s *failingStore
}

func (t failingTx) AppendEvent(ctx context.Context, e usher.Event) error {
	if t.s.append.Load() {
		return errAppend
	}
	return t.Tx.AppendEvent(ctx, e)
}

func (t failingTx) Enqueue(ctx context.Context, m usher.Message, now time.Time) error {
	if t.s.enqueue.Load() {
		return errAppend
	}
	return t.Tx.Enqueue(ctx, m, now)
}

func (t failingTx) UpdateUser(ctx context.Context, u *usher.User) error {
	if t.s.update.Load() {
		return errAppend
	}
	return t.Tx.UpdateUser(ctx, u)
}

func TestAuditCommitsWithTheChange(t *testing.T) {
	fs := &failingStore{}
	a := newAuditEnv(t, func(c *account.Config) {
		fs.Store = c.Store
		c.Store = fs
		c.Verify.OnRegister = true
	})
	const ip = "192.0.2.110"
	ctx := client(t, ip)
	u := a.create(t, ctx, tenant, "ann@example.com", oldPassword)
	tok, err := a.Service.Login(ctx, tenant, "ann@example.com", oldPassword)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	a.secret(tok)
	a.take(t, tenant)
	failing := func(t *testing.T, sw *atomic.Bool) {
		sw.Store(true)
		t.Cleanup(func() { sw.Store(false) })
	}
	gone := func(t *testing.T, email string) {
		t.Helper()
		if _, err := a.Service.UserByEmail(t.Context(), tenant, email); usher.ErrorCode(err) != usher.NotFound {
			t.Errorf("UserByEmail(%s): got %v, want not found", email, err)
		}
	}

	t.Run("AppendFails", func(t *testing.T) {
		failing(t, &fs.append)
		if _, err := a.Service.Create(ctx, tenant, account.NewUser{Email: "bob@example.com", Password: oldPassword, Enabled: true}); !errors.Is(err, errAppend) {
			t.Errorf("Create: got %v, want the append's error", err)
		}
		gone(t, "bob@example.com")
		if _, err := a.Service.Register(ctx, tenant, "cat@example.com", oldPassword); !errors.Is(err, errAppend) {
			t.Errorf("Register: got %v, want the append's error", err)
		}
		gone(t, "cat@example.com")
		if err := a.Service.SetEmail(ctx, tenant, u.ID, "ann@example.org"); !errors.Is(err, errAppend) {
			t.Errorf("SetEmail: got %v, want the append's error", err)
		}
		if got := a.user(t, u.ID); got.Email != "ann@example.com" {
			t.Errorf("email after a failed SetEmail: got %q, want it unchanged", got.Email)
		}
		if err := a.Service.EndSessions(ctx, tenant, u.ID); !errors.Is(err, errAppend) {
			t.Errorf("EndSessions: got %v, want the append's error", err)
		}
		if _, err := a.Service.Login(ctx, tenant, "ann@example.com", oldPassword); !errors.Is(err, errAppend) {
			t.Errorf("Login: got %v, want the append's error", err)
		}
		if ss, err := a.Service.Sessions(t.Context(), tenant, u.ID); err != nil || len(ss) != 1 {
			t.Errorf("sessions after a failed EndSessions and Login: got %d, %v; want the one that was there", len(ss), err)
		}
		if _, _, err := a.Service.CreateWebhook(ctx, tenant, "https://hooks.example.com/", []string{"*"}); !errors.Is(err, errAppend) {
			t.Errorf("CreateWebhook: got %v, want the append's error", err)
		}
		if ws, err := a.Service.Webhooks(t.Context(), tenant); err != nil || len(ws) != 0 {
			t.Errorf("webhooks after a failed CreateWebhook: got %d, %v; want none", len(ws), err)
		}
		if _, err := a.Service.CreateTenant(ctx, "green"); !errors.Is(err, errAppend) {
			t.Errorf("CreateTenant: got %v, want the append's error", err)
		}
		if _, err := a.Service.Tenant(t.Context(), "green"); usher.ErrorCode(err) != usher.NotFound {
			t.Errorf("Tenant(green) after a failed CreateTenant: got %v, want not found", err)
		}
		// An import whose batch fails retries each line alone, and refuses
		// those the database refuses: either way, nothing is imported.
		res, err := a.Service.Import(ctx, tenant, []account.ImportUser{{Line: 1, Email: "dan@example.com", Password: oldPassword, Enabled: true}},
			account.ConflictSkip)
		if err == nil && (len(res) != 1 || res[0].Outcome != account.Refused) || err != nil && !errors.Is(err, errAppend) {
			t.Errorf("Import: got %+v, %v; want the line refused or the append's error", res, err)
		}
		gone(t, "dan@example.com")
	})

	t.Run("LaterWriteFails", func(t *testing.T) {
		// Each of these appends its event, then fails: the event goes
		// with the change.
		failing(t, &fs.enqueue)
		if _, err := a.Service.Register(ctx, tenant, "eve@example.com", oldPassword); !errors.Is(err, errAppend) {
			t.Errorf("Register: got %v, want the enqueue's error", err)
		}
		gone(t, "eve@example.com")
		if err := a.Service.SendReset(ctx, tenant, "ann@example.com"); !errors.Is(err, errAppend) {
			t.Errorf("SendReset: got %v, want the enqueue's error", err)
		}
		if err := a.Service.SendVerification(ctx, tenant, u.ID); !errors.Is(err, errAppend) {
			t.Errorf("SendVerification: got %v, want the enqueue's error", err)
		}
		fs.enqueue.Store(false)
		if _, err := a.Service.Login(client(t, "192.0.2.111"), tenant, "ann@example.com", wrongPassword); usher.ErrorCode(err) != usher.Unauthorized {
			t.Fatalf("Login with a wrong password: %v", err)
		}
		a.take(t, tenant)
		failures := a.user(t, u.ID).FailedChecks
		if failures == 0 {
			t.Fatalf("failures after a wrong password: got 0, want some")
		}
		failing(t, &fs.update)
		if err := a.Service.Unlock(ctx, tenant, u.ID); !errors.Is(err, errAppend) {
			t.Errorf("Unlock: got %v, want the update's error", err)
		}
		if got := a.user(t, u.ID).FailedChecks; got != failures {
			t.Errorf("failures after a failed Unlock: got %d, want %d", got, failures)
		}
	})
	a.want(t, "failed use cases", tenant)
	if ms := a.Mail(t); len(ms) != 0 {
		t.Errorf("mail after failed use cases: got %d messages, want none", len(ms))
	}
}

func (a *auditEnv) user(t *testing.T, id string) usher.User {
	t.Helper()
	u, err := a.Service.User(t.Context(), tenant, id)
	if err != nil {
		t.Fatalf("User(%s): %v", id, err)
	}
	return u
}

func TestAuditEventsPaging(t *testing.T) {
	a := newAuditEnv(t)
	ctx := client(t, "192.0.2.120")
	var users []usher.User
	var times []time.Time
	for i := range 5 {
		times = append(times, a.Clock.Now())
		users = append(users, a.create(t, ctx, tenant, fmt.Sprintf("user%d@example.com", i), oldPassword))
		a.Clock.Advance(time.Second)
	}
	if err := a.Service.SetEnabled(ctx, tenant, users[1].ID, false); err != nil {
		t.Fatalf("SetEnabled: %v", err)
	}
	disabledAt := a.Clock.Now()
	// Events: user.created × 5, one a second, then user.disabled.
	all := a.log(t, tenant)
	if len(all) != 6 {
		t.Fatalf("events: got %d, want 6", len(all))
	}
	ids := func(es []usher.Event) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Type+"/"+e.UserID)
		}
		return out
	}
	page := func(q account.EventQuery) account.EventPage {
		t.Helper()
		p, err := a.Service.Events(t.Context(), tenant, q)
		if err != nil {
			t.Fatalf("Events(%+v): %v", q, err)
		}
		return p
	}

	t.Run("Cursor", func(t *testing.T) {
		var got []usher.Event
		q := account.EventQuery{Limit: 4}
		var pages int
		for pages = 1; pages < 10; pages++ {
			p := page(q)
			got = append(got, p.Events...)
			if p.Next == "" {
				break
			}
			if p.Next != p.Events[len(p.Events)-1].ID {
				t.Errorf("page %d's cursor: got %s, want its last event's id", pages, p.Next)
			}
			q.Cursor = p.Next
		}
		if pages != 2 || !slices.Equal(ids(got), ids(all)) {
			t.Errorf("paging by 4: got %v in %d pages, want %v in 2", ids(got), pages, ids(all))
		}
		// A page that ends exactly at the log's end has no cursor.
		if p := page(account.EventQuery{Limit: 6}); len(p.Events) != 6 || p.Next != "" {
			t.Errorf("a page of the whole log: got %d events, cursor %q; want 6 and none", len(p.Events), p.Next)
		}
		if p := page(account.EventQuery{}); len(p.Events) != 6 || p.Next != "" {
			t.Errorf("the default page: got %d events, cursor %q; want 6 and none", len(p.Events), p.Next)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		tests := []struct {
			name string
			q    account.EventQuery
			want []usher.Event
		}{
			{"User", account.EventQuery{UserID: users[1].ID}, []usher.Event{all[1], all[5]}},
			{"Type", account.EventQuery{Types: []string{"user.disabled"}}, all[5:]},
			{"Types", account.EventQuery{Types: []string{"user.disabled", "user.created"}}, all},
			{"AfterExclusive", account.EventQuery{After: times[2]}, all[3:]},
			{"AfterWithinTheMillisecond", account.EventQuery{After: times[2].Add(time.Microsecond)}, all[3:]},
			{"BeforeExclusive", account.EventQuery{Before: times[2]}, all[:2]},
			{"AfterAndBefore", account.EventQuery{After: times[0], Before: disabledAt}, all[1:5]},
			{"UserAndType", account.EventQuery{UserID: users[1].ID, Types: []string{"user.created"}}, all[1:2]},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				p := page(tc.q)
				if !slices.Equal(ids(p.Events), ids(tc.want)) || p.Next != "" {
					t.Errorf("got %v (cursor %q), want %v", ids(p.Events), p.Next, ids(tc.want))
				}
			})
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			q    account.EventQuery
		}{
			{"NegativeLimit", account.EventQuery{Limit: -1}},
			{"LimitTooLarge", account.EventQuery{Limit: account.MaxPageSize + 1}},
			{"BadCursor", account.EventQuery{Cursor: "not-a-cursor"}},
			{"UnknownType", account.EventQuery{Types: []string{"user.created", "user.exploded"}}},
			{"TypePrefix", account.EventQuery{Types: []string{"user"}}},
			{"BadUser", account.EventQuery{UserID: "ann@example.com"}},
		} {
			_, err := a.Service.Events(t.Context(), tenant, tc.q)
			wantCode(t, tc.name, err, usher.Invalid)
		}
		if p := page(account.EventQuery{Limit: account.MaxPageSize}); len(p.Events) != 6 {
			t.Errorf("Events with the largest limit: got %d, want 6", len(p.Events))
		}
	})

	t.Run("Prune", func(t *testing.T) {
		n, err := a.Service.PruneEvents(t.Context(), times[2])
		if err != nil || n != 2 {
			t.Fatalf("PruneEvents before the third event: got %d, %v; want 2, nil", n, err)
		}
		if p := page(account.EventQuery{}); !slices.Equal(ids(p.Events), ids(all[2:])) {
			t.Errorf("after pruning: got %v, want %v", ids(p.Events), ids(all[2:]))
		}
	})
}
