package storetest

import (
	"testing"
	"time"

	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// The signing_keys table: SigningKeys and AddSigningKey.

func testSigningKeys(t *testing.T, s *store.Store) {
	keys, err := s.SigningKeys(ctx(t))
	if err != nil {
		t.Fatalf("SigningKeys of an empty store: %v", err)
	}
	if len(keys) != 0 {
		t.Errorf("SigningKeys of an empty store: got %d keys, want none", len(keys))
	}

	// KIDs sort against creation, so an order by KID is caught.
	newKey := func(kid string, created time.Time) usher.SigningKey {
		return usher.SigningKey{KID: kid, Algorithm: "EdDSA", Public: "pub-" + kid, Private: "sealed-" + kid, CreatedAt: created}
	}
	k1 := newKey("z-first", base)
	k2 := newKey("m-second", base.Add(24*time.Hour))
	k3 := newKey("a-third", base.Add(48*time.Hour+ms))

	steps := []struct {
		name string
		add  usher.SigningKey
		want []usher.SigningKey // after the add
	}{
		{"First", k1, []usher.SigningKey{k1}},
		{"SecondRetiresFirst", k2, []usher.SigningKey{retired(k1, k2.CreatedAt), k2}},
		{"ThirdRetiresOnlyActive", k3, []usher.SigningKey{retired(k1, k2.CreatedAt), retired(k2, k3.CreatedAt), k3}},
	}
	var last []usher.SigningKey
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.AddSigningKey(ctx(t), st.add); err != nil {
				t.Fatalf("AddSigningKey(%s): %v", st.add.KID, err)
			}
			wantKeys(t, s, st.want)
			last = st.want
		})
	}

	// One transaction: a key that cannot be stored retires nothing.
	t.Run("FailedAddRetiresNothing", func(t *testing.T) {
		dup := newKey(k3.KID, base.Add(72*time.Hour))
		if err := s.AddSigningKey(ctx(t), dup); err == nil {
			t.Fatalf("AddSigningKey of a taken KID: got nil error, want one")
		}
		wantKeys(t, s, last)
	})
}

func retired(k usher.SigningKey, at time.Time) usher.SigningKey {
	k.RetiredAt = at
	return k
}

func wantKeys(t *testing.T, s *store.Store, want []usher.SigningKey) {
	t.Helper()
	got, err := s.SigningKeys(ctx(t))
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("SigningKeys: got %d keys %+v, want %d", len(got), got, len(want))
	}
	for i := range got {
		if d := diff(got[i], want[i]); d != "" {
			t.Errorf("SigningKeys[%d] (want %s): key differs:\n%s", i, want[i].KID, d)
		}
		if want[i].RetiredAt.IsZero() && !got[i].RetiredAt.IsZero() {
			t.Errorf("SigningKeys[%d]: got RetiredAt %v, want the zero time", i, got[i].RetiredAt)
		}
	}
}
