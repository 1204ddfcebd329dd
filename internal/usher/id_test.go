package usher_test

import (
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

func TestNewID(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 30, 45, 123_000_000, time.UTC)
	seen := map[string]bool{}
	for range 1000 {
		id := usher.NewID(now)
		if !usher.ValidID(id) {
			t.Fatalf("ValidID(%q) = false; want true", id)
		}
		if got, want := id[14], byte('7'); got != want {
			t.Fatalf("NewID = %q: version nibble %q; want %q", id, got, want)
		}
		variant, err := strconv.ParseUint(id[19:20], 16, 8)
		if err != nil {
			t.Fatalf("NewID = %q: %v", id, err)
		}
		if got, want := variant>>2, uint64(0b10); got != want {
			t.Fatalf("NewID = %q: variant bits %02b; want %02b", id, got, want)
		}
		ms, err := strconv.ParseUint(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
		if err != nil {
			t.Fatalf("NewID = %q: %v", id, err)
		}
		if got, want := int64(ms), now.UnixMilli(); got != want {
			t.Fatalf("NewID = %q: timestamp %d; want %d", id, got, want)
		}
		if seen[id] {
			t.Fatalf("NewID returned %q twice", id)
		}
		seen[id] = true
	}
}

func TestNewIDRandomBits(t *testing.T) {
	// The 74 bits after the timestamp are random: over many IDs every one of
	// them is set at least once and clear at least once.
	now := time.Unix(1_700_000_000, 0)
	var or, and [10]byte
	for i := range and {
		and[i] = 0xff
	}
	for range 256 {
		id := usher.NewID(now)
		b, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			or[i] |= b[6+i]
			and[i] &= b[6+i]
		}
	}
	// Fixed bits: version (high nibble of byte 6) and variant (top two of byte 8).
	wantOr := [10]byte{0x7f, 0xff, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	wantAnd := [10]byte{0x70, 0, 0x80}
	if or != wantOr || and != wantAnd {
		t.Errorf("random part: OR %x AND %x; want OR %x AND %x", or, and, wantOr, wantAnd)
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for _, d := range []time.Duration{0, time.Millisecond, 2 * time.Millisecond, time.Second, time.Hour, 24 * 365 * time.Hour, 100 * 365 * 24 * time.Hour} {
		ids = append(ids, usher.NewID(base.Add(d)))
	}
	if !slices.IsSorted(ids) {
		t.Errorf("IDs in time order are not sorted: %q", ids)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			t.Errorf("ID %q (earlier) >= %q (later)", ids[i-1], ids[i])
		}
	}
}

func TestValidID(t *testing.T) {
	good := "01890a5d-ac96-774b-bcce-b302099a8057"
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{name: "v7", id: good, want: true},
		{name: "issued", id: usher.NewID(time.Now()), want: true},
		{name: "nil uuid", id: "00000000-0000-0000-0000-000000000000", want: true},
		{name: "upper case", id: strings.ToUpper(good), want: false},
		{name: "one upper case letter", id: "01890a5d-ac96-774B-bcce-b302099a8057", want: false},
		{name: "empty", id: "", want: false},
		{name: "too short", id: good[:35], want: false},
		{name: "too long", id: good + "0", want: false},
		{name: "no dashes", id: strings.ReplaceAll(good, "-", ""), want: false},
		{name: "braces", id: "{" + good + "}", want: false},
		{name: "urn", id: "urn:uuid:" + good, want: false},
		{name: "dash moved left", id: "01890a5-dac96-774b-bcce-b302099a8057", want: false},
		{name: "dash moved right", id: "01890a5da-c96-774b-bcce-b302099a8057", want: false},
		{name: "dash replaced", id: "01890a5d_ac96-774b-bcce-b302099a8057", want: false},
		{name: "extra dash for hex", id: "01890a5d-ac96-774b-bcce-b302-99a8057", want: false},
		{name: "non-hex g", id: "01890a5d-ac96-774b-bcce-b302099a805g", want: false},
		{name: "space", id: "01890a5d-ac96-774b-bcce-b302099a805 ", want: false},
		{name: "non-ascii", id: good[:34] + "é", want: false},
		{name: "path traversal", id: strings.Repeat("../", 12), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := usher.ValidID(tt.id); got != tt.want {
				t.Errorf("ValidID(%q) = %v; want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestParseID(t *testing.T) {
	for range 100 {
		id := usher.NewID(time.Now())
		b, ok := usher.ParseID(id)
		if !ok {
			t.Fatalf("ParseID(%q) failed", id)
		}
		if got := usher.FormatID(b); got != id {
			t.Fatalf("FormatID(ParseID(%q)) = %q", id, got)
		}
	}
	for _, bad := range []string{"", "x", "00000000-0000-7000-8000-00000000000G", "00000000-0000-7000-8000-00000000000A",
		"00000000000070008000000000000001", "00000000-0000-7000-8000-0000000000012"} {
		if _, ok := usher.ParseID(bad); ok {
			t.Errorf("ParseID(%q) succeeded; want failure", bad)
		}
	}
}
