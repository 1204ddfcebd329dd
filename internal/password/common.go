package password

import (
	"slices"
	"strings"
	"sync"

	"github.com/trustelem/zxcvbn/frequency"
)

// CommonCount is how many of zxcvbn's most common passwords are refused.
const CommonCount = 30000

// common is zxcvbn's ranked password list, cut to CommonCount and sorted
// for binary search: no map, so it costs no more than its strings.
var common = sync.OnceValue(func() []string {
	list := frequency.FrequencyLists["passwords"]
	out := slices.Clone(list[:min(CommonCount, len(list))])
	slices.Sort(out)
	return out
})

// IsCommon reports whether password, ignoring case, is one of the most
// common passwords. Only the first 72 bytes matter: no listed password is
// longer, and the check must stay cheap for long input.
func IsCommon(password string) bool {
	if len(password) > 72 {
		return false
	}
	_, found := slices.BinarySearch(common(), strings.ToLower(password))
	return found
}
