package password

import (
	"slices"
	"strings"

	"github.com/trustelem/zxcvbn/frequency"
)

// CommonCount is how many of zxcvbn's most common passwords are refused.
const CommonCount = 30000

// common is zxcvbn's ranked password list, cut to CommonCount and sorted for
// binary search.
var common = func() packedList {
	list := frequency.FrequencyLists["passwords"]
	return pack(list[:min(CommonCount, len(list))])
}()

func init() {
	// Usher needs only the passwords list. The package's other lists (English
	// words, names, TV and film) and its string headers are 1.5 MB of
	// pointers that every garbage collection would otherwise scan for the
	// life of the process; nothing else in Usher reads them. (zxcvbn's
	// strength scorer, packages zxcvbn and zxcvbn/matching, does: whether it
	// read them before or after this depends on the order packages are
	// initialised, so should Usher ever import it, this line must go.)
	frequency.FrequencyLists = nil
}

// packedList is a sorted list of strings in one string: entry i is
// data[ends[i-1]:ends[i]]. Neither the string's bytes nor the offsets hold
// pointers, so the garbage collector does not walk 30,000 string headers on
// each cycle.
type packedList struct {
	data string
	ends []uint32
}

func pack(list []string) packedList {
	sorted := slices.Clone(list)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	total := 0
	for _, s := range sorted {
		total += len(s)
	}
	var b strings.Builder
	b.Grow(total)
	ends := make([]uint32, len(sorted))
	for i, s := range sorted {
		b.WriteString(s)
		ends[i] = uint32(b.Len())
	}
	return packedList{data: b.String(), ends: ends}
}

// Len is the number of entries.
func (l packedList) Len() int { return len(l.ends) }

func (l packedList) at(i int) string {
	var start uint32
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.data[start:l.ends[i]]
}

func (l packedList) contains(s string) bool {
	lo, hi := 0, len(l.ends)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.at(mid) < s {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(l.ends) && l.at(lo) == s
}

// IsCommon reports whether password, ignoring case, is one of the most
// common passwords. Only the first 72 bytes matter: no listed password is
// longer, and the check must stay cheap for long input.
func IsCommon(password string) bool {
	if len(password) > 72 {
		return false
	}
	return common.contains(strings.ToLower(password))
}
