package password

import (
	_ "embed"
	"strings"
)

// CommonCount is how many of zxcvbn's most common passwords are refused.
const CommonCount = 30000

// common is the first CommonCount entries of zxcvbn's ranked password list
// (github.com/trustelem/zxcvbn, package frequency, MIT licence), sorted,
// without duplicates, one per line, each line ending in "\n".
// TestCommonListIsZxcvbns checks the file against the module and, with
// -update, writes it.
//
// The list is embedded as it is searched, rather than read from package
// frequency at start: that package's init builds all of zxcvbn's lists
// (words, names, film and TV besides passwords), 1.5 MB of heap and about
// 2 MB of the binary's pages touched in every process, the hashing process
// included, for 30,000 strings that are searched in place here. The
// list's licence is common.LICENSE.
//
//go:embed common.txt
var common string

// IsCommon reports whether password, ignoring case, is one of the most
// common passwords. Only the first 72 bytes matter: no listed password is
// longer, and the check must stay cheap for long input.
func IsCommon(password string) bool {
	if len(password) > 72 {
		return false
	}
	return hasLine(common, strings.ToLower(password))
}

// hasLine reports whether s is a line of list: sorted lines, each ending in
// "\n". It bisects by byte offset, taking the line that holds the middle
// byte, so it needs no index of where lines start.
func hasLine(list, s string) bool {
	lo, hi := 0, len(list) // both at the start of a line
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := lo + strings.LastIndexByte(list[lo:mid], '\n') + 1
		end := strings.IndexByte(list[start:], '\n')
		if end < 0 { // a last line without its "\n"
			end = len(list) - start
		}
		end += start
		switch line := list[start:end]; {
		case line == s:
			return true
		case line < s:
			lo = end + 1
		default:
			hi = start
		}
	}
	return false
}
