package storetest

import (
	"context"
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

// Listing users: ListUsers in creation order (created_at, then id) by
// cursor, its filters, CountUsers, and an export's EachUser.

// ptr returns a pointer to v, for the optional fields of a query.
func ptr[T any](v T) *T { return &v }

// byCreation orders users as ListUsers and EachUser do: by creation time,
// then by id (canonical UUID text sorts as its 16 bytes do).
func byCreation(a, b usher.User) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// ids returns the IDs of us, in order.
func ids(us []usher.User) []string {
	out := make([]string, 0, len(us))
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

// keys returns the email keys of us, in order.
func keys(us []usher.User) []string {
	out := make([]string, 0, len(us))
	for _, u := range us {
		out = append(out, u.EmailKey)
	}
	return out
}

// cursorOf is the position of u in the creation order.
func cursorOf(u usher.User) *usher.UserCursor {
	return &usher.UserCursor{CreatedAt: u.CreatedAt, ID: u.ID}
}

// listPage runs ListUsers, failing the test on error or on a page longer
// than the limit.
func listPage(t *testing.T, s *store.Store, q usher.UserQuery) []usher.User {
	t.Helper()
	got, err := s.ListUsers(ctx(t), q)
	if err != nil {
		t.Fatalf("ListUsers(%+v): %v", q, err)
	}
	if len(got) > q.Limit {
		t.Fatalf("ListUsers with limit %d: got %d users", q.Limit, len(got))
	}
	return got
}

// listAll pages through q with pages of limit users and returns every user
// listed, in the order listed.
func listAll(t *testing.T, s *store.Store, q usher.UserQuery, limit int) []usher.User {
	t.Helper()
	q.Limit, q.After = limit, nil
	var out []usher.User
	for range 1000 {
		page := listPage(t, s, q)
		out = append(out, page...)
		if len(page) < limit {
			return out
		}
		q.After = cursorOf(page[len(page)-1])
	}
	t.Fatalf("ListUsers: still paging after 1000 pages")
	return nil
}

// idWith returns an ID whose first byte is first and whose other bytes are
// fill, to place a user before or after another of the same creation time.
func idWith(first, fill byte) string {
	var b [16]byte
	for i := range b {
		b[i] = fill
	}
	b[0] = first
	return usher.FormatID(b)
}

// seedOrdered creates n users in tenant, three to a millisecond, so that
// ties on created_at are decided by id; it returns them in creation order.
func seedOrdered(t *testing.T, s *store.Store, tenant, prefix string, n int) []usher.User {
	t.Helper()
	var us []usher.User
	for i := range n {
		u := newUser(tenant, fmt.Sprintf("%s%02d@example.com", prefix, i))
		u.CreatedAt = base.Add(time.Duration(i/3) * ms)
		us = append(us, create(t, s, u))
	}
	slices.SortFunc(us, byCreation)
	return us
}

func testListUsersOrder(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	want := seedOrdered(t, s, tenant, "order", 14)

	t.Run("OnePage", func(t *testing.T) {
		got := listPage(t, s, usher.UserQuery{TenantID: tenant, Limit: 100})
		if !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("ListUsers: got %q, want %q (by created_at, then id)", keys(got), keys(want))
		}
		for i := range got {
			wantUser(t, fmt.Sprintf("ListUsers user %d", i), got[i], want[i])
		}
	})

	for _, limit := range []int{1, 2, 3, 5, 13, 14, 15} {
		t.Run(fmt.Sprintf("PagesOf%d", limit), func(t *testing.T) {
			got := listAll(t, s, usher.UserQuery{TenantID: tenant}, limit)
			if !slices.Equal(ids(got), ids(want)) {
				t.Errorf("paging by %d: got %q, want %q", limit, keys(got), keys(want))
			}
		})
	}

	t.Run("AfterEachUser", func(t *testing.T) {
		for i, u := range want {
			got := listPage(t, s, usher.UserQuery{TenantID: tenant, After: cursorOf(u), Limit: 100})
			if !slices.Equal(ids(got), ids(want[i+1:])) {
				t.Errorf("after %s: got %q, want %q", u.EmailKey, keys(got), keys(want[i+1:]))
			}
		}
	})

	t.Run("AfterAPositionNoUserHolds", func(t *testing.T) {
		// A cursor is a position, not a user: one between two users (the
		// user it came from deleted since) still splits the order there.
		mid := want[4] // the second of its millisecond
		after := &usher.UserCursor{CreatedAt: mid.CreatedAt, ID: idWith(0x00, 0x00)}
		got := listPage(t, s, usher.UserQuery{TenantID: tenant, After: after, Limit: 100})
		if !slices.Equal(ids(got), ids(want[3:])) {
			t.Errorf("after the smallest id of %v: got %q, want %q", mid.CreatedAt, keys(got), keys(want[3:]))
		}
		after = &usher.UserCursor{CreatedAt: mid.CreatedAt, ID: idWith(0xff, 0xff)}
		got = listPage(t, s, usher.UserQuery{TenantID: tenant, After: after, Limit: 100})
		if !slices.Equal(ids(got), ids(want[6:])) {
			t.Errorf("after the largest id of %v: got %q, want %q", mid.CreatedAt, keys(got), keys(want[6:]))
		}
		last := want[len(want)-1]
		if got := listPage(t, s, usher.UserQuery{TenantID: tenant, After: cursorOf(last), Limit: 100}); len(got) != 0 {
			t.Errorf("after the last user: got %q, want none", keys(got))
		}
	})
}

func testListUsersChanges(t *testing.T, s *store.Store) {
	tenant := newTenant(t, s)
	var us []usher.User
	for i := range 10 {
		u := newUser(tenant, fmt.Sprintf("user%02d@example.com", i))
		u.CreatedAt = base.Add(time.Duration(i) * time.Second)
		us = append(us, create(t, s, u))
	}
	const limit = 4
	q := usher.UserQuery{TenantID: tenant, Limit: limit}
	first := listPage(t, s, q)
	if !slices.Equal(ids(first), ids(us[:4])) {
		t.Fatalf("first page: got %q, want %q", keys(first), keys(us[:4]))
	}
	cursor := first[len(first)-1] // us[3]

	// Between the pages: a user already listed and one not yet listed are
	// deleted; users are created before the cursor, after it, and at the
	// cursor's own time on either side of its id.
	remove := func(u usher.User) {
		mustUpdate(t, s, "DeleteUser", func(tctx context.Context, tx account.Tx) error { return tx.DeleteUser(tctx, tenant, u.ID) })
	}
	remove(us[1])
	remove(us[6])
	at := func(key string, created time.Time, id string) usher.User {
		u := newUser(tenant, key)
		u.CreatedAt = created
		if id != "" {
			u.ID = id
		}
		return create(t, s, u)
	}
	at("before@example.com", us[2].CreatedAt.Add(ms), "")
	at("tie-low@example.com", cursor.CreatedAt, idWith(0x00, 0x01))
	tieHigh := at("tie-high@example.com", cursor.CreatedAt, idWith(0xff, 0x01))
	late := at("late@example.com", us[9].CreatedAt.Add(time.Hour), "")

	var rest []usher.User
	q.After = cursorOf(cursor)
	for range 10 {
		page := listPage(t, s, q)
		rest = append(rest, page...)
		if len(page) < limit {
			break
		}
		q.After = cursorOf(page[len(page)-1])
	}
	want := []usher.User{tieHigh, us[4], us[5], us[7], us[8], us[9], late}
	if !slices.Equal(ids(rest), ids(want)) {
		t.Errorf("pages after the changes: got %q, want %q", keys(rest), keys(want))
	}
	seen := map[string]bool{}
	for _, u := range append(first, rest...) {
		if seen[u.ID] {
			t.Errorf("user %s listed twice", u.EmailKey)
		}
		seen[u.ID] = true
	}
}

func testListUsersFilters(t *testing.T, s *store.Store) {
	tenant, other := newTenant(t, s), newTenant(t, s)
	type spec struct {
		key              string
		disabled, unconf bool
		failed           int
		failedSince      time.Time
	}
	lockSince := base.Add(time.Hour) // the lockout window starts here
	specs := []spec{
		{key: "a%b@example.com"},
		{key: "axb@example.com"},
		{key: "a_b@example.com"},
		{key: "ayyb@example.com"},
		{key: `back\slash@example.com`},
		{key: "off@example.com", disabled: true},
		{key: "new@example.com", unconf: true},
		{key: "off-new@example.com", disabled: true, unconf: true},
		{key: "locked@example.com", failed: 5, failedSince: lockSince.Add(time.Minute)},
		{key: "at-min@example.com", failed: 3, failedSince: lockSince.Add(ms)},
		{key: "window-start@example.com", failed: 3, failedSince: lockSince},
		{key: "old-lock@example.com", failed: 9, failedSince: lockSince.Add(-time.Minute)},
		{key: "few@example.com", failed: 2, failedSince: lockSince.Add(time.Minute)},
	}
	for i, sp := range specs {
		u := newUser(tenant, sp.key)
		u.Enabled, u.Confirmed = !sp.disabled, !sp.unconf
		u.FailedChecks, u.FailedSince = sp.failed, sp.failedSince
		u.CreatedAt = base.Add(time.Duration(i) * time.Second)
		create(t, s, u)
	}
	// The same addresses in another tenant, all matching every filter.
	for _, key := range []string{"a%b@example.com", "axb@example.com", "locked@example.com", "stranger@example.com"} {
		u := newUser(other, key)
		u.FailedChecks, u.FailedSince = 5, lockSince.Add(time.Minute)
		create(t, s, u)
	}
	all := make([]string, len(specs))
	for i, sp := range specs {
		all[i] = sp.key
	}
	except := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(k string) bool { return slices.Contains(drop, k) })
	}
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	locked := func(on bool) usher.UserQuery {
		return usher.UserQuery{Locked: &on, LockedMin: 3, LockedSince: lockSince}
	}
	tests := []filterCase{
		{"All", usher.UserQuery{}, all},
		{"EmailPercentIsLiteral", usher.UserQuery{EmailContains: "a%b"}, []string{"a%b@example.com"}},
		{"EmailUnderscoreIsLiteral", usher.UserQuery{EmailContains: "a_b"}, []string{"a_b@example.com"}},
		{"EmailOnlyPercent", usher.UserQuery{EmailContains: "%"}, []string{"a%b@example.com"}},
		{"EmailOnlyUnderscore", usher.UserQuery{EmailContains: "_"}, []string{"a_b@example.com"}},
		{"EmailBackslash", usher.UserQuery{EmailContains: `k\s`}, []string{`back\slash@example.com`}},
		{"EmailOnlyBackslash", usher.UserQuery{EmailContains: `\`}, []string{`back\slash@example.com`}},
		{"EmailSubstring", usher.UserQuery{EmailContains: "lock"}, []string{"locked@example.com", "old-lock@example.com"}},
		{"EmailDomain", usher.UserQuery{EmailContains: "@example.com"}, all},
		{"EmailNoMatch", usher.UserQuery{EmailContains: "nobody"}, nil},
		{"Enabled", usher.UserQuery{Enabled: ptr(true)}, except("off@example.com", "off-new@example.com")},
		{"Disabled", usher.UserQuery{Enabled: ptr(false)}, []string{"off@example.com", "off-new@example.com"}},
		{"Confirmed", usher.UserQuery{Confirmed: ptr(true)}, except("new@example.com", "off-new@example.com")},
		{"Unconfirmed", usher.UserQuery{Confirmed: ptr(false)}, []string{"new@example.com", "off-new@example.com"}},
		{"DisabledAndConfirmed", usher.UserQuery{Enabled: ptr(false), Confirmed: ptr(true)}, []string{"off@example.com"}},
		{"Locked", locked(true), []string{"locked@example.com", "at-min@example.com"}},
		{"NotLocked", locked(false), except("locked@example.com", "at-min@example.com")},
		{"CreatedAfter", usher.UserQuery{CreatedAfter: at(10)}, all[11:]},
		{"CreatedBefore", usher.UserQuery{CreatedBefore: at(2)}, all[:2]},
		{"CreatedBetween", usher.UserQuery{CreatedAfter: at(3), CreatedBefore: at(7)}, all[4:7]},
		{"CreatedAfterJustBefore", usher.UserQuery{CreatedAfter: at(3).Add(-ms)}, all[3:]},
		{"CreatedBeforeJustAfter", usher.UserQuery{CreatedBefore: at(3).Add(ms)}, all[:4]},
		{"Combined", usher.UserQuery{EmailContains: "new", Enabled: ptr(false)}, []string{"off-new@example.com"}},
		{"EmailLocked", usher.UserQuery{EmailContains: "lock", Locked: ptr(true), LockedMin: 3, LockedSince: lockSince},
			[]string{"locked@example.com"}},
		{"EmailCreatedBetween", usher.UserQuery{EmailContains: "example", CreatedAfter: at(3), CreatedBefore: at(9)}, all[4:9]},
		{"EmailCreatedBetweenRare", usher.UserQuery{EmailContains: "-", CreatedAfter: at(0), CreatedBefore: at(11)},
			[]string{"off-new@example.com", "at-min@example.com", "window-start@example.com"}},
	}
	// A search reads a window of users in creation order, then turns to
	// the email index: the default window holds every user here, a window
	// of 1 or 3 makes most searches take the index.
	for _, window := range []int{0, 1, 3} {
		s.SetSearchWindow(window)
		t.Run(fmt.Sprintf("Window%d", window), func(t *testing.T) { listFilters(t, s, tenant, tests, len(specs)) })
	}
	s.SetSearchWindow(0)
}

// filterCase is a query of testListUsersFilters and the email keys it
// selects.
type filterCase struct {
	name string
	q    usher.UserQuery
	want []string
}

// listFilters runs the cases against the tenant's users, created a second
// apart from base on.
func listFilters(t *testing.T, s *store.Store, tenant string, tests []filterCase, users int) {
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.TenantID = tenant
			got := listAll(t, s, q, 100)
			if !slices.Equal(keys(got), tt.want) {
				t.Errorf("ListUsers: got %q, want %q", keys(got), tt.want)
			}
			if paged := listAll(t, s, q, 2); !slices.Equal(keys(paged), tt.want) {
				t.Errorf("ListUsers by pages of 2: got %q, want %q", keys(paged), tt.want)
			}
			// CountUsers ignores the cursor and the limit.
			q.Limit, q.After = 1, cursorOf(usher.User{CreatedAt: at(users), ID: idWith(0xff, 0xff)})
			n, err := s.CountUsers(ctx(t), q)
			if err != nil {
				t.Fatalf("CountUsers: %v", err)
			}
			if n != len(tt.want) {
				t.Errorf("CountUsers: got %d, want %d", n, len(tt.want))
			}
		})
	}
}

func testListUsersTenants(t *testing.T, s *store.Store) {
	a, b, empty := newTenant(t, s), newTenant(t, s), newTenant(t, s)
	wantA := seedOrdered(t, s, a, "a", 5)
	wantB := seedOrdered(t, s, b, "b", 3)
	tests := []struct {
		tenant string
		want   []usher.User
	}{
		{a, wantA},
		{b, wantB},
		{empty, nil},
		{usher.NewID(base), nil}, // no such tenant
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got := listAll(t, s, usher.UserQuery{TenantID: tt.tenant}, 2)
			if !slices.Equal(ids(got), ids(tt.want)) {
				t.Errorf("ListUsers: got %q, want %q", keys(got), keys(tt.want))
			}
			n, err := s.CountUsers(ctx(t), usher.UserQuery{TenantID: tt.tenant})
			if err != nil {
				t.Fatalf("CountUsers: %v", err)
			}
			if n != len(tt.want) {
				t.Errorf("CountUsers: got %d, want %d", n, len(tt.want))
			}
		})
	}
	// A cursor taken in one tenant lists nothing of another past it.
	got := listPage(t, s, usher.UserQuery{TenantID: b, After: cursorOf(wantA[0]), Limit: 10})
	for _, u := range got {
		if u.TenantID != b {
			t.Errorf("ListUsers of tenant b with a cursor of tenant a: got user %s of tenant %s", u.EmailKey, u.TenantID)
		}
	}
}

var errStop = errors.New("storetest: stop")

func testEachUser(t *testing.T, s *store.Store) {
	tenant, other, empty := newTenant(t, s), newTenant(t, s), newTenant(t, s)
	want := seedOrdered(t, s, tenant, "each", 11)
	seedOrdered(t, s, other, "other", 3)

	each := func(t *testing.T, tenantID string, fn func(usher.User) error) ([]usher.User, error) {
		t.Helper()
		var got []usher.User
		err := s.EachUser(ctx(t), tenantID, func(u usher.User) error {
			got = append(got, u)
			return fn(u)
		})
		return got, err
	}
	nothing := func(usher.User) error { return nil }

	t.Run("Order", func(t *testing.T) {
		got, err := each(t, tenant, nothing)
		if err != nil {
			t.Fatalf("EachUser: %v", err)
		}
		if !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("EachUser: got %q, want %q", keys(got), keys(want))
		}
		for i := range got {
			wantUser(t, "EachUser", got[i], want[i])
		}
	})

	t.Run("Empty", func(t *testing.T) {
		got, err := each(t, empty, nothing)
		if err != nil || len(got) != 0 {
			t.Errorf("EachUser of a tenant without users: got %q (err %v), want none", keys(got), err)
		}
	})

	t.Run("Stop", func(t *testing.T) {
		got, err := each(t, tenant, func(usher.User) error {
			return errStop
		})
		if !errors.Is(err, errStop) {
			t.Errorf("EachUser: got %v, want fn's error", err)
		}
		if len(got) != 1 {
			t.Errorf("EachUser after fn failed: got %d calls, want 1", len(got))
		}
	})

	t.Run("Snapshot", func(t *testing.T) {
		// Writes made while the export runs (from another connection) are
		// not seen: a user created at the end of the order, one deleted
		// further along it, one changed.
		late := newUser(tenant, "late@example.com")
		late.CreatedAt = base.Add(time.Hour)
		doomed, changed := want[len(want)-2], want[len(want)-1]
		wrote := false
		got, err := each(t, tenant, func(usher.User) error {
			if wrote {
				return nil
			}
			wrote = true
			return s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
				if err := tx.CreateUser(tctx, &late); err != nil {
					return err
				}
				if err := tx.DeleteUser(tctx, tenant, doomed.ID); err != nil {
					return err
				}
				c := changed
				c.Email, c.EmailKey, c.UpdatedAt = "changed@example.com", "changed@example.com", base.Add(time.Minute)
				return tx.UpdateUser(tctx, &c)
			})
		})
		if err != nil {
			t.Fatalf("EachUser with writes in fn: %v", err)
		}
		if !slices.Equal(ids(got), ids(want)) {
			t.Errorf("EachUser while users were written: got %q, want the users at its start %q", keys(got), keys(want))
		} else {
			wantUser(t, "user changed during EachUser", got[len(got)-1], changed)
		}

		// The writes were made, and the next export sees them.
		after, err := each(t, tenant, nothing)
		if err != nil {
			t.Fatalf("EachUser: %v", err)
		}
		wantAfter := append(slices.Clone(want[:len(want)-2]), changed, late)
		if !slices.Equal(ids(after), ids(wantAfter)) {
			t.Errorf("EachUser after the writes: got %q, want %q", keys(after), keys(wantAfter))
		}
	})
}
