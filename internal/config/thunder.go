package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"
	"gopkg.in/yaml.v3"
)

// ThunderFile is a Thunder config.yaml read as Usher settings: a
// kong.Resolver whose values sit below Usher's own config file, the
// environment and flags (the lowest layer above the defaults).
type ThunderFile struct {
	path   string
	values map[string]any // flag name -> value (a string, or a list of strings)
	// Ignored are the file's settings that have no meaning for Usher, in
	// the file's order of sections; start-up logs one line each.
	Ignored []Ignored
	// Moved are Usher's own listeners that the file's ports pushed off
	// their default addresses; start-up logs one line each.
	Moved []Ignored

	simple bool // server.type simple: one connector, no admin port of its own
}

// Ignored is a Thunder setting Usher does not apply, and why. It names
// the setting, never its value (values may be secrets).
type Ignored struct {
	Setting string // e.g. "database.endpoint"
	Reason  string
}

// LoadThunderFile reads a Thunder config.yaml. ${NAME} and ${NAME:-default}
// are replaced by environment variables first, as Thunder's default
// secrets provider does (lookup is os.LookupEnv outside tests).
func LoadThunderFile(path string, lookup func(string) (string, bool)) (*ThunderFile, error) {
	b, err := readCapped(path, MaxThunderFileSize)
	if err != nil {
		return nil, fmt.Errorf("thunder config: %w", err)
	}
	text, missing := substitute(string(b), lookup)
	doc, err := parseThunderYAML(text)
	if err != nil {
		return nil, fmt.Errorf("thunder config %s: %w", path, err)
	}
	f := &ThunderFile{path: path, values: map[string]any{}}
	if err := f.read(doc); err != nil {
		return nil, fmt.Errorf("thunder config %s: %w", path, err)
	}
	// An unset variable stops the start only where Usher uses its value:
	// a Thunder file's ${...} in an ignored section (its database's
	// connection string) needs no value here.
	for _, name := range sortedKeys(f.values) {
		for _, v := range f.strings(name) {
			for _, m := range missing {
				if strings.Contains(v, "${"+m) {
					return nil, fmt.Errorf("thunder config %s: environment variable %s (for %s) is not set", path, m, name)
				}
			}
		}
	}
	return f, nil
}

// MaxThunderFileSize caps a Thunder file (real ones are a few kilobytes).
const MaxThunderFileSize = 1 << 20

// readCapped reads path whole, refusing one over max bytes without reading
// further (a device such as /dev/zero never ends).
func readCapped(path string, max int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, nil
}

// maxThunderNodes bounds the values a Thunder file may hold, aliases
// counted each time they are used: far above any real file, far below what
// a file of nested aliases (a "billion laughs") would expand to.
const maxThunderNodes = 100_000

// maxThunderDepth bounds nesting (Thunder's deepest setting is five
// levels down), which also stops an alias used within its own value.
const maxThunderDepth = 64

// parseThunderYAML reads a Thunder file into maps, lists and scalars, each
// scalar kept as the text it is written with: Thunder (Jackson) reads its
// settings as strings, so "secret: 00123" is the text 00123, not the
// number 83 printed back. null (or an empty value) is nil; a key given
// twice in one mapping is refused.
func parseThunderYAML(text string) (map[string]any, error) {
	var root yaml.Node
	if err := yaml.NewDecoder(strings.NewReader(text)).Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	budget := maxThunderNodes
	v, err := plainYAML(&root, &budget, 0)
	if err != nil || v == nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the file is not a mapping of settings")
	}
	return doc, nil
}

func plainYAML(n *yaml.Node, budget *int, depth int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("more than %d values (counting each use of an alias)", maxThunderNodes)
	}
	if depth > maxThunderDepth {
		return nil, fmt.Errorf("line %d: nested more than %d levels deep (or an alias within itself)", n.Line, maxThunderDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return plainYAML(n.Content[0], budget, depth+1)
	case yaml.AliasNode:
		return plainYAML(n.Alias, budget, depth+1)
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return nil, nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := plainYAML(c, budget, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		var merged []map[string]any
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			val, err := plainYAML(v, budget, depth+1)
			if err != nil {
				return nil, err
			}
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				// "<<: *base" or "<<: [*a, *b]": the keys of the mapping(s)
				// not given here.
				list, isList := val.([]any)
				if !isList {
					list = []any{val}
				}
				for _, m := range list {
					mm, ok := m.(map[string]any)
					if !ok {
						return nil, fmt.Errorf("line %d: a merge key (<<) takes a mapping or a list of mappings", k.Line)
					}
					merged = append(merged, mm)
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key must be a plain value", k.Line)
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q given twice", k.Line, k.Value)
			}
			out[k.Value] = val
		}
		for _, m := range merged {
			for key, val := range m {
				if _, set := out[key]; !set {
					out[key] = val
				}
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML", n.Line)
}

// strings returns a setting's value as a list of strings.
func (f *ThunderFile) strings(name string) []string {
	switch v := f.values[name].(type) {
	case []any:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = fmt.Sprint(s)
		}
		return out
	case string:
		return []string{v}
	}
	return nil
}

// variable is ${NAME} or ${NAME:-default}; $${ writes a literal ${.
var variable = regexp.MustCompile(`\$?\$\{([^}:]*)(:-([^}]*))?\}`)

// substitute replaces the variables that are set, and returns the names
// of those that are not (left as they are).
func substitute(text string, lookup func(string) (string, bool)) (string, []string) {
	var missing []string
	out := variable.ReplaceAllStringFunc(text, func(m string) string {
		if strings.HasPrefix(m, "$$") {
			return m[1:]
		}
		g := variable.FindStringSubmatch(m)
		if v, ok := lookup(g[1]); ok {
			return v
		}
		if g[2] != "" {
			return g[3]
		}
		missing = append(missing, g[1])
		return m
	})
	return out, missing
}

// Values returns the settings the file gives, by flag name (tests and
// diagnostics).
func (f *ThunderFile) Values() map[string]any { return f.values }

// Validate is kong.Resolver's: every value names a flag of serve.
func (f *ThunderFile) Validate(*kong.Application) error { return nil }

// Resolve returns the file's value for flag, unless the flag's environment
// variable is set (the environment overrides the file).
func (f *ThunderFile) Resolve(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
	for _, env := range flag.Envs {
		if _, set := os.LookupEnv(env); set {
			return nil, nil
		}
	}
	v, ok := f.values[flag.Name]
	if !ok {
		return nil, nil
	}
	return v, nil
}

func (f *ThunderFile) set(flag string, v any) {
	switch x := v.(type) {
	case []string:
		list := make([]any, len(x))
		for i, s := range x {
			list[i] = s
		}
		f.values[flag] = list
	default:
		f.values[flag] = fmt.Sprint(v)
	}
}

func (f *ThunderFile) ignore(setting, reason string) {
	f.Ignored = append(f.Ignored, Ignored{Setting: setting, Reason: reason})
}

// section returns doc[key] as a map (nil when absent or null).
func section(doc map[string]any, key string) (map[string]any, error) {
	v, ok := doc[key]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a mapping", key)
	}
	return m, nil
}

// sortedKeys returns m's keys in order, so that log lines come in a fixed
// order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// boolean reads a YAML boolean (true/false, or their strings).
func boolean(v any, name string) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if b, err := strconv.ParseBool(x); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("%s must be true or false", name)
}

// str reads a YAML scalar as a string.
func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func (f *ThunderFile) read(doc map[string]any) error {
	readers := []struct {
		key  string
		read func(map[string]any) error
	}{
		{"auth", f.readAuth},
		{"properties", f.readProperties},
		{"passwordHash", f.readPasswordHash},
		{"email", f.readEmail},
		{"openApi", f.readOpenAPI},
		{"server", f.readServer},
	}
	known := map[string]bool{}
	defer f.makeRoom()
	for _, r := range readers {
		known[r.key] = true
		m, err := section(doc, r.key)
		if err != nil {
			return err
		}
		if err := r.read(m); err != nil {
			return err
		}
	}
	why := map[string]string{
		"database":               "Usher keeps users in SQLite or PostgreSQL (--db); bring Thunder's users over with `usher users import`",
		"secrets":                "Usher reads ${...} values from the environment only; pass AWS Secrets Manager values as environment variables",
		"options":                "Usher bounds each database call by --db-timeout and answers 503 Database is currently unavailable, never 408",
		"emailAddressValidation": "Usher checks addresses by its own rules (one address, no display name, IDNA domain); Thunder's extra rules are not applied",
		"logging":                "Usher logs JSON lines to stderr (--log-level)",
		"metrics":                "Dropwizard's metric reporters are not run; the admin listener's /metrics serves the same names",
	}
	for _, key := range sortedKeys(doc) {
		if known[key] {
			continue
		}
		reason, ok := why[key]
		if !ok {
			reason = "not a Thunder setting Usher knows"
		}
		if key == "secrets" {
			m, _ := section(doc, key)
			if str(m["provider"]) == "" || str(m["provider"]) == "env" {
				continue // ${...} from the environment: what Usher did above
			}
		}
		if key == "database" {
			// One line per setting, as each names what Usher does instead.
			if m, _ := section(doc, key); m != nil {
				for _, k := range sortedKeys(m) {
					f.ignore("database."+k, reason)
				}
				continue
			}
		}
		f.ignore(key, reason)
	}
	return nil
}

func (f *ThunderFile) readAuth(m map[string]any) error {
	typ := str(m["type"])
	if typ == "" {
		typ = "basic"
	}
	switch typ {
	case "basic":
		f.set("thunder-auth", "basic")
		keys, _ := m["keys"].([]any)
		if m["keys"] != nil && keys == nil {
			return errors.New("auth.keys must be a list of {application, secret}")
		}
		var apps []string
		for i, k := range keys {
			km, _ := k.(map[string]any)
			app, secret := str(km["application"]), str(km["secret"])
			if app == "" || secret == "" {
				return fmt.Errorf("auth.keys[%d] needs application and secret", i)
			}
			apps = append(apps, app+":"+secret)
		}
		if len(apps) > 0 {
			f.set("thunder-app", apps)
		}
		for _, k := range sortedKeys(m) {
			if k != "type" && k != "keys" {
				f.ignore("auth."+k, "an OAuth setting, and auth.type is basic")
			}
		}
	case "oauth":
		f.set("thunder-auth", "oauth")
		for yamlKey, flag := range map[string]string{
			"hmacSecret": "thunder-oauth-hmac-secret", "rsaPublicKeyFilePath": "thunder-oauth-rsa-public-key",
			"issuer": "thunder-oauth-issuer", "audience": "thunder-oauth-audience",
		} {
			if v := str(m[yamlKey]); v != "" {
				f.set(flag, v)
			}
		}
		if m["keys"] != nil {
			f.ignore("auth.keys", "Basic keys, and auth.type is oauth")
		}
	default:
		return fmt.Errorf("auth.type %q: Thunder knows basic and oauth", typ)
	}
	return nil
}

func (f *ThunderFile) readProperties(m map[string]any) error {
	for _, k := range []struct{ yaml, flag string }{{"allowSubset", "thunder-allow-subset"}, {"allowSuperset", "thunder-allow-superset"}} {
		if v, ok := m[k.yaml]; ok {
			b, err := boolean(v, "properties."+k.yaml)
			if err != nil {
				return err
			}
			f.set(k.flag, b)
		}
	}
	if m["allowed"] == nil {
		return nil
	}
	list, ok := m["allowed"].([]any)
	if !ok {
		return errors.New("properties.allowed must be a list of {name, type}")
	}
	var props []string
	for i, p := range list {
		pm, _ := p.(map[string]any)
		name, typ := str(pm["name"]), str(pm["type"])
		if name == "" {
			return fmt.Errorf("properties.allowed[%d] needs a name", i)
		}
		if typ == "" {
			typ = "string" // Thunder's default type
		}
		props = append(props, name+":"+typ)
	}
	f.set("thunder-property", props)
	return nil
}

func (f *ThunderFile) readPasswordHash(m map[string]any) error {
	for _, k := range sortedKeys(m) {
		switch k {
		case "headerCheck", "allowCommonMistakes":
			b, err := boolean(m[k], "passwordHash."+k)
			if err != nil {
				return err
			}
			flag := map[string]string{"headerCheck": "thunder-header-check", "allowCommonMistakes": "thunder-password-allow-common-mistakes"}[k]
			f.set(flag, b)
		case "algorithm":
			f.ignore("passwordHash.algorithm", "Usher hashes every password with argon2id (bcrypt, scrypt, PBKDF2 and argon2 hashes of imported users still verify)")
		case "serverSideHash":
			f.ignore("passwordHash.serverSideHash", "Usher always hashes on the server: the password a client sends is hashed as it is, and the user's password field shows Usher's hash")
		default:
			f.ignore("passwordHash."+k, "not a Thunder setting Usher knows")
		}
	}
	return nil
}

func (f *ThunderFile) readEmail(m map[string]any) error {
	typ := str(m["type"])
	switch typ {
	case "", "none":
		// No email section, or type none: Thunder's email is off.
		f.set("thunder-email", false)
		for _, k := range sortedKeys(m) {
			if k != "type" {
				f.ignore("email."+k, "email is disabled (email.type none or absent)")
			}
		}
		return nil
	case "ses":
		f.set("thunder-email", true)
	default:
		return fmt.Errorf("email.type %q: Thunder knows ses and none", typ)
	}
	for _, k := range sortedKeys(m) {
		switch k {
		case "type":
		case "endpoint", "region":
			f.ignore("email."+k, "Usher sends email through SMTP, not the SES API: set --smtp-host (SES offers SMTP endpoints) and its credentials")
		case "fromAddress":
			f.set("mail-from", str(m[k]))
		case "messageOptions":
			mo, err := section(m, k)
			if err != nil {
				return errors.New("email.messageOptions must be a mapping")
			}
			for _, o := range sortedKeys(mo) {
				flag, ok := map[string]string{
					"subject": "thunder-mail-subject", "bodyHtmlFilePath": "thunder-mail-body-html",
					"bodyTextFilePath": "thunder-mail-body-text", "urlPlaceholderString": "thunder-mail-url-placeholder",
					"successHtmlFilePath": "thunder-success-page",
				}[o]
				switch {
				case !ok:
					f.ignore("email.messageOptions."+o, "not a Thunder setting Usher knows")
				case mo[o] != nil:
					f.set(flag, str(mo[o]))
				}
			}
		default:
			f.ignore("email."+k, "not a Thunder setting Usher knows")
		}
	}
	return nil
}

func (f *ThunderFile) readOpenAPI(m map[string]any) error {
	for _, k := range sortedKeys(m) {
		switch k {
		case "enabled":
			b, err := boolean(m[k], "openApi.enabled")
			if err != nil {
				return err
			}
			f.set("openapi", b)
		case "title":
			f.set("thunder-openapi-title", str(m[k]))
		case "description":
			f.set("thunder-openapi-description", str(m[k]))
		default:
			f.ignore("openApi."+k, "the document names Usher's own version, contact and licence")
		}
	}
	return nil
}

func (f *ThunderFile) readServer(m map[string]any) error {
	typ := str(m["type"])
	f.simple = typ == "simple"
	for _, k := range sortedKeys(m) {
		switch k {
		case "type":
		case "applicationConnectors", "adminConnectors":
			if typ == "simple" {
				f.ignore("server."+k, "server.type simple uses server.connector")
				continue
			}
			flag := map[string]string{"applicationConnectors": "thunder-addr", "adminConnectors": "thunder-admin-addr"}[k]
			if err := f.readConnectors("server."+k, flag, m[k]); err != nil {
				return err
			}
		case "connector":
			if typ != "simple" {
				f.ignore("server.connector", "only server.type simple uses it")
				continue
			}
			if err := f.readConnectors("server.connector", "thunder-addr", []any{m[k]}); err != nil {
				return err
			}
		case "applicationContextPath", "adminContextPath", "rootPath":
			f.ignore("server."+k, "Usher serves the Thunder API at the root of its listener")
		default:
			f.ignore("server."+k, "a Dropwizard server setting with no Usher equivalent (see the README's HTTP limits)")
		}
	}
	return nil
}

// Dropwizard's default ports, which a Thunder file without a server
// section (or without one of its connector lists) listens on.
const (
	thunderAppPort   = "8080"
	thunderAdminPort = "8081"
)

// makeRoom gives the Thunder listeners Dropwizard's default ports when the
// file names none, and moves Usher's own public and backend listeners off
// their defaults (127.0.0.1:8080 and :8081, the same ports) when a Thunder
// port takes them, so that `usher serve --thunder-config config.yaml`
// starts with the file as it is. The moved addresses are resolver values:
// a flag, variable or Usher file that sets them still wins.
func (f *ThunderFile) makeRoom() {
	if _, ok := f.values["thunder-addr"]; !ok {
		f.set("thunder-addr", ":"+thunderAppPort)
	}
	if _, ok := f.values["thunder-admin-addr"]; !ok && !f.simple {
		f.set("thunder-admin-addr", ":"+thunderAdminPort)
	}
	taken := map[string]bool{}
	for _, flag := range []string{"thunder-addr", "thunder-admin-addr"} {
		if _, port, err := net.SplitHostPort(str(f.values[flag])); err == nil {
			taken[port] = true
		}
	}
	for _, l := range []struct{ flag, port, moved string }{
		{"public-addr", "8080", "127.0.0.1:8180"},
		{"backend-addr", "8081", "127.0.0.1:8181"},
	} {
		if !taken[l.port] {
			continue
		}
		f.set(l.flag, l.moved)
		f.Moved = append(f.Moved, Ignored{Setting: l.flag, Reason: "the Thunder file's port " + l.port + " takes its default; it listens on " + l.moved + " (set " + l.flag + " to choose)"})
	}
}

// readConnectors maps the first connector to flag, as host:port. Thunder
// binds every interface unless bindHost says otherwise; so does Usher.
func (f *ThunderFile) readConnectors(name, flag string, v any) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("%s must be a list of connectors", name)
	}
	for i, c := range list {
		cm, _ := c.(map[string]any)
		at := fmt.Sprintf("%s[%d]", name, i)
		if cm == nil {
			return fmt.Errorf("%s must be a mapping", at)
		}
		if i > 0 {
			f.ignore(at, "Usher opens one listener per surface: the first connector is used")
			continue
		}
		port, err := strconv.Atoi(str(cm["port"]))
		if cm["port"] == nil {
			port, err = 8080, nil // Dropwizard's default application port
			if flag == "thunder-admin-addr" {
				port = 8081
			}
		}
		if err != nil || port < 0 || port > 65535 {
			return fmt.Errorf("%s.port must be a port number", at)
		}
		f.set(flag, net.JoinHostPort(str(cm["bindHost"]), strconv.Itoa(port)))
		for _, k := range sortedKeys(cm) {
			switch k {
			case "port", "bindHost":
			case "type":
				if t := str(cm[k]); t != "http" {
					f.ignore(at+".type", "the listener speaks plain HTTP; put a TLS-terminating proxy in front ("+t+" is not served)")
				}
			default:
				f.ignore(at+"."+k, "a Dropwizard connector setting with no Usher equivalent")
			}
		}
	}
	return nil
}

// ThunderFilePath finds --thunder-config (or USHER_THUNDER_CONFIG, or the
// Usher config file's thunder-config) before kong parses, so the file can
// feed kong as a resolver.
func ThunderFilePath(args []string, usherFile *FileResolver) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--thunder-config="); ok {
			return v
		}
		if a == "--thunder-config" && i+1 < len(args) {
			return args[i+1]
		}
	}
	if v := os.Getenv("USHER_THUNDER_CONFIG"); v != "" {
		return v
	}
	if usherFile != nil {
		if v, ok := usherFile.values["thunder-config"]; ok {
			return fmt.Sprint(v)
		}
	}
	return ""
}
