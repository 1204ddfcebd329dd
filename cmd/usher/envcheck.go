package main

import (
	"os"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
)

// envPrefix starts every environment variable Usher reads (kong.DefaultEnvars).
const envPrefix = "USHER_"

// testEnvPrefix starts the variables the test suites read (USHER_TEST_POSTGRES,
// USHER_TEST_ENGINE); a developer's shell holds them, so they are not
// reported.
const testEnvPrefix = "USHER_TEST_"

// unknownEnv is an USHER_* variable that names no setting, and the known
// one it most likely meant ("" when none is close).
type unknownEnv struct {
	Name, Suggestion string
}

// findUnknownEnv returns the USHER_* variables in environ ("KEY=value")
// that no flag of app reads, sorted by name. The known set comes from the
// parsed model, so it cannot drift from the flags.
func findUnknownEnv(app *kong.Application, environ []string) []unknownEnv {
	known := map[string]bool{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			for _, e := range f.Envs {
				known[e] = true
			}
		}
		for _, c := range n.Children {
			if c.Hidden {
				continue // hash-worker: serve starts it with no USHER_ variable
			}
			walk(c)
		}
	}
	walk(app.Node)
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)

	var out []unknownEnv
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || strings.HasPrefix(name, testEnvPrefix) || known[name] {
			continue
		}
		out = append(out, unknownEnv{Name: name, Suggestion: closest(name, names)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// closest returns the known name nearest to name: within three edits, or
// one that name abbreviates or extends (USHER_SMTP_PASS, USHER_DATA_DIR);
// "" when none is. A prefix match counts as one edit; ties go to the fewer
// real edits.
func closest(name string, known []string) string {
	best, bestScore, bestDist := "", 4, 0
	for _, k := range known {
		d := editDistance(name, k)
		score := d
		if strings.HasPrefix(k, name) || strings.HasPrefix(name, k) {
			score = min(score, 1)
		}
		if score < bestScore || (score == bestScore && d < bestDist) {
			best, bestScore, bestDist = k, score, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (ASCII names).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// warnUnknownEnv logs a warning for each USHER_* variable in the process's
// environment that names no setting: a misspelt variable would otherwise
// be ignored in silence. Values are never logged (they may be secrets).
func warnUnknownEnv(kctx *kong.Context) {
	level := "info"
	for _, f := range kctx.Flags() {
		if f.Name == "log-level" {
			if v, ok := kctx.FlagValue(f).(string); ok {
				level = v
			}
		}
	}
	log := newLogger(level)
	for _, u := range findUnknownEnv(kctx.Model, os.Environ()) {
		args := []any{"event", "config_warning", "variable", u.Name}
		if u.Suggestion != "" {
			args = append(args, "did_you_mean", u.Suggestion)
		}
		log.Warn("unknown environment variable "+u.Name+": no setting reads it", args...)
	}
}
