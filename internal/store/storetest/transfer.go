package storetest

// The import's writes and reads (CreateUsers, UsersByEmailKeys,
// UsersByIDs) and ClearCounts.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// createUsers runs Tx.CreateUsers in a transaction of its own.
func createUsers(t *testing.T, s *store.Store, us ...usher.User) error {
	t.Helper()
	ps := make([]*usher.User, len(us))
	for i := range us {
		ps[i] = &us[i]
	}
	return s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error { return tx.CreateUsers(tctx, ps) })
}

func testCreateUsers(t *testing.T, s *store.Store) {
	tenant, other := newTenant(t, s), newTenant(t, s)
	plain := newUser(tenant, "plain@example.com")
	varied := newUser(tenant, "varied@example.com")
	varied.Email = "Varied@Example.COM" // stored apart from its key
	varied.Confirmed, varied.Enabled = false, false
	varied.Data = []byte(`{"plan":"pro","n":[1,2]}`)
	varied.CreatedAt, varied.UpdatedAt = base.Add(-24*time.Hour), base.Add(time.Minute)
	varied.FailedChecks, varied.FailedSince = 2, base.Add(-time.Minute)
	intl := newUser(tenant, "jürgen@bücher.example")
	intl.Email = "Jürgen@bücher.example"
	batch := []usher.User{plain, varied, intl}
	if err := createUsers(t, s, batch...); err != nil {
		t.Fatalf("CreateUsers: %v", err)
	}
	for _, u := range batch {
		wantUser(t, "user created by CreateUsers", mustGet(t, s, tenant, u.ID), u)
	}

	refused := []struct {
		name  string
		batch func() []usher.User
	}{
		{"TakenEmail", func() []usher.User {
			return []usher.User{newUser(tenant, "fresh1@example.com"), newUser(tenant, plain.EmailKey)}
		}},
		{"TakenEmailInALaterStatement", func() []usher.User {
			var b []usher.User
			for i := range 300 { // more rows than one INSERT holds (128)
				b = append(b, newUser(tenant, fmt.Sprintf("fresh-many%03d@example.com", i)))
			}
			return append(b, newUser(tenant, varied.EmailKey))
		}},
		{"SameEmailTwice", func() []usher.User {
			return []usher.User{newUser(tenant, "twice@example.com"), newUser(tenant, "twice@example.com")}
		}},
		{"TakenID", func() []usher.User {
			u := newUser(tenant, "fresh2@example.com")
			u.ID = varied.ID
			return []usher.User{newUser(tenant, "fresh3@example.com"), u}
		}},
		{"TakenIDInAnotherTenant", func() []usher.User {
			u := newUser(other, "fresh4@example.com")
			u.ID = plain.ID
			return []usher.User{u}
		}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.batch()
			wantCode(t, "CreateUsers", createUsers(t, s, b...), usher.EmailTaken)
			for _, u := range b {
				if got, err := s.UserByEmail(ctx(t), u.TenantID, u.EmailKey); err == nil && got.ID == u.ID {
					t.Errorf("user %s of a refused batch was created", u.EmailKey)
				}
			}
		})
	}
	for _, u := range batch {
		wantUser(t, "user after refused batches", mustGet(t, s, tenant, u.ID), u)
	}

	t.Run("SameEmailInAnotherTenant", func(t *testing.T) {
		u := newUser(other, plain.EmailKey)
		if err := createUsers(t, s, u); err != nil {
			t.Fatalf("CreateUsers: %v", err)
		}
		wantUser(t, "user in another tenant", mustGet(t, s, other, u.ID), u)
	})

	t.Run("TwoTenantsInOneStatement", func(t *testing.T) {
		a, b := newUser(tenant, "both-a@example.com"), newUser(other, "both-b@example.com")
		if err := createUsers(t, s, a, b); err != nil {
			t.Fatalf("CreateUsers: %v", err)
		}
		wantUser(t, "user of the first tenant", mustGet(t, s, tenant, a.ID), a)
		wantUser(t, "user of the second tenant", mustGet(t, s, other, b.ID), b)
	})

	t.Run("UnknownTenant", func(t *testing.T) {
		ghost := usher.NewID(base)
		u, lost := newUser(tenant, "kept-out@example.com"), newUser(ghost, "ghost@example.com")
		wantCode(t, "CreateUsers in a tenant that does not exist", createUsers(t, s, u, lost), usher.NotFound)
		_, err := s.UserByID(ctx(t), tenant, u.ID)
		wantCode(t, "the batch's other user", err, usher.NotFound)
	})

	t.Run("Empty", func(t *testing.T) {
		if err := createUsers(t, s); err != nil {
			t.Errorf("CreateUsers of none: got %v, want nil", err)
		}
	})

	t.Run("Many", func(t *testing.T) {
		// An import's batch (transfer.BatchSize): one statement of 6,000
		// arguments.
		var many []usher.User
		for i := range 500 {
			u := newUser(other, fmt.Sprintf("many%03d@example.com", i))
			// Fields that differ by row, so that a row or a column bound
			// to another's parameter shows.
			u.Email = fmt.Sprintf("Many%03d@example.com", i)
			u.Confirmed, u.Enabled = i%2 == 0, i%3 != 0
			u.Data = fmt.Appendf(nil, `{"i":%d}`, i)
			u.CreatedAt, u.UpdatedAt = base.Add(time.Duration(i)*ms), base.Add(time.Duration(2*i)*ms)
			u.FailedChecks, u.FailedSince = i%7, base.Add(time.Duration(-i)*time.Second)
			many = append(many, u)
		}
		if err := createUsers(t, s, many...); err != nil {
			t.Fatalf("CreateUsers of %d: %v", len(many), err)
		}
		for _, u := range many {
			wantUser(t, "user created in a batch of 500", mustGet(t, s, other, u.ID), u)
		}
		n, err := s.CountUsers(ctx(t), usher.UserQuery{TenantID: other, EmailContains: "many"})
		if err != nil || n != len(many) {
			t.Errorf("users created: got %d (err %v), want %d", n, err, len(many))
		}
	})
}

// byID orders users by id, for comparing sets.
func byID(a, b usher.User) int { return compareIDs(a.ID, b.ID) }

func wantUserSet(t *testing.T, what string, got []usher.User, want ...usher.User) {
	t.Helper()
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if len(got) != len(want) {
		t.Errorf("%s: got %q, want %q", what, keys(got), keys(want))
		return
	}
	for i := range got {
		wantUser(t, what, got[i], want[i])
	}
}

func testUsersByKeys(t *testing.T, s *store.Store) {
	a, b := newTenant(t, s), newTenant(t, s)
	u1 := create(t, s, newUser(a, "one@example.com"))
	create(t, s, newUser(a, "two@example.com")) // in the tenant, never asked for
	u3 := create(t, s, newUser(a, "three@example.com"))
	b1 := create(t, s, newUser(b, "one@example.com"))

	type byKeys func(tenantID string, keys []string) ([]usher.User, error)
	readers := map[string]byKeys{
		"Store": func(tenantID string, keys []string) ([]usher.User, error) {
			return s.UsersByEmailKeys(ctx(t), tenantID, keys)
		},
		"Tx": func(tenantID string, keys []string) (got []usher.User, err error) {
			err = s.Update(ctx(t), func(tctx context.Context, tx account.Tx) error {
				got, err = tx.UsersByEmailKeys(tctx, tenantID, keys)
				return err
			})
			return got, err
		},
	}
	for name, read := range readers {
		t.Run("UsersByEmailKeys/"+name, func(t *testing.T) {
			tests := []struct {
				name   string
				tenant string
				keys   []string
				want   []usher.User
			}{
				{"Some", a, []string{u1.EmailKey, u3.EmailKey, "missing@example.com"}, []usher.User{u1, u3}},
				{"OtherTenant", b, []string{u1.EmailKey, u3.EmailKey}, []usher.User{b1}},
				{"Repeated", a, []string{u1.EmailKey, u1.EmailKey}, []usher.User{u1}},
				{"None", a, nil, nil},
				{"Unknown", a, []string{"nobody@example.com", "ONE@example.com"}, nil},
			}
			for _, tt := range tests {
				got, err := read(tt.tenant, tt.keys)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				wantUserSet(t, tt.name, got, tt.want...)
			}
		})
	}

	t.Run("UsersByIDs", func(t *testing.T) {
		tests := []struct {
			name string
			ids  []string
			want []usher.User
		}{
			{"AnyTenant", []string{u1.ID, b1.ID, usher.NewID(base)}, []usher.User{u1, b1}},
			{"OneOfMany", []string{usher.NewID(base), u3.ID, usher.NewID(base)}, []usher.User{u3}},
			{"None", nil, nil},
		}
		for _, tt := range tests {
			var got []usher.User
			mustUpdate(t, s, "UsersByIDs", func(tctx context.Context, tx account.Tx) error {
				var err error
				got, err = tx.UsersByIDs(tctx, tt.ids)
				return err
			})
			wantUserSet(t, tt.name, got, tt.want...)
		}
	})
}

func testClearCounts(t *testing.T, s *store.Store) {
	const prefix = "lock:0a1b2c3d:"
	cleared := []string{prefix, prefix + "a:00ff", prefix + "a:11ee"}
	kept := []string{
		"lock:0a1b2c3e:a:00ff", // another user's
		"lock:0a1b2c3d",        // the prefix without its last character
		"lock:0a1b2c:a:00ff",
		"xlock:0a1b2c3d:a:00ff",
		"a:lock:0a1b2c3d:",
		"login-unknown:17",
		"LOCK:0A1B2C3D:a:00ff", // the prefix in another case
	}
	now := base
	for _, k := range append(slices.Clone(cleared), kept...) {
		if _, err := count(t, s, k, now, now.Add(-time.Hour)); err != nil {
			t.Fatalf("Count(%q): %v", k, err)
		}
	}
	mustUpdate(t, s, "ClearCounts", func(tctx context.Context, tx account.Tx) error { return tx.ClearCounts(tctx, prefix) })

	rows, err := s.DB().QueryContext(ctx(t), `SELECT key FROM rate_counters`)
	if err != nil {
		t.Fatalf("reading the counters: %v", err)
	}
	defer rows.Close()
	var left []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatalf("reading the counters: %v", err)
		}
		left = append(left, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading the counters: %v", err)
	}
	slices.Sort(left)
	want := slices.Sorted(slices.Values(kept))
	if !slices.Equal(left, want) {
		t.Errorf("counters after ClearCounts(%q): got %q, want %q", prefix, left, want)
	}

	mustUpdate(t, s, "ClearCounts of a prefix nothing has", func(tctx context.Context, tx account.Tx) error {
		return tx.ClearCounts(tctx, "lock:ffffffff:")
	})
	if n := countRows(t, s, `SELECT count(*) FROM rate_counters`); n != len(kept) {
		t.Errorf("counters after ClearCounts of an unused prefix: got %d, want %d", n, len(kept))
	}
}
