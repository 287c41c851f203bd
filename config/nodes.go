package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/andybalholm/cascadia"
	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// fields is one YAML mapping whose keys have been checked against the
// allowed ones. where names it in "unknown key" messages ("fetch",
// `source "x"`); prefix starts messages about one of its keys.
type fields struct {
	where    string
	prefix   string
	node     *yaml.Node
	keys     map[string]*yaml.Node
	vals     map[string]*yaml.Node
	expanded map[string]bool
}

func (f *fields) has(key string) bool { return f.vals[key] != nil }

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func isScalar(n *yaml.Node) bool {
	n = deref(n)
	return n != nil && n.Kind == yaml.ScalarNode
}

func kindName(n *yaml.Node) string {
	n = deref(n)
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "nothing"
	default:
		return "a single value"
	}
}

// mapping checks that n is a mapping with only allowed keys, each once.
// It returns nil (after reporting) when n is not a mapping. Merge keys
// ("<<: *anchor") are honoured; keys written directly win.
func (l *loader) mapping(n *yaml.Node, where, prefix string, allowed []string) *fields {
	n = deref(n)
	f := &fields{where: where, prefix: prefix, node: n, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}, expanded: map[string]bool{}}
	if isNull(n) {
		return f
	}
	if n.Kind != yaml.MappingNode {
		label := strings.TrimSuffix(strings.TrimSuffix(prefix, ": "), ".")
		if label == "" {
			label = "the config file"
		}
		l.errAt(n, "%s: expected a mapping of keys (%s), got %s", label, strings.Join(allowed, ", "), kindName(n))
		return nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		name, ok := l.key(k, where)
		if !ok {
			continue
		}
		if !contains(allowed, name) {
			l.errAt(k, "%s", unknownKey(name, where, allowed))
			continue
		}
		if prev := f.keys[name]; prev != nil {
			l.errAt(k, "duplicate key %q in %s (first at line %d)", name, where, prev.Line)
			continue
		}
		f.keys[name], f.vals[name] = k, v
	}
	for _, m := range merges {
		l.merge(f, m, allowed)
	}
	return f
}

func (l *loader) merge(f *fields, m *yaml.Node, allowed []string) {
	m = deref(m)
	switch m.Kind {
	case yaml.SequenceNode:
		for _, e := range m.Content {
			l.merge(f, e, allowed)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			name, ok := l.key(k, f.where)
			if !ok || f.keys[name] != nil {
				continue
			}
			if !contains(allowed, name) {
				l.errAt(k, "%s", unknownKey(name, f.where, allowed))
				continue
			}
			f.keys[name], f.vals[name] = k, v
		}
	default:
		l.errAt(m, "%s: a merge key (<<) needs a mapping or a list of mappings, got %s", f.where, kindName(m))
	}
}

func unknownKey(name, where string, allowed []string) string {
	msg := fmt.Sprintf("unknown key %q in %s", name, where)
	if s := suggest(name, allowed); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + " (allowed: " + strings.Join(allowed, ", ") + ")"
}

// key reads a mapping key, which must be a plain value.
func (l *loader) key(k *yaml.Node, where string) (string, bool) {
	k = deref(k)
	if k.Kind != yaml.ScalarNode {
		l.errAt(k, "%s: a key must be a single value, got %s", where, kindName(k))
		return "", false
	}
	return k.Value, true
}

// scalar reads the value of f's key as text with ${VAR} expanded. ok is
// false when the key is absent or the value is not usable (reported).
// show is how the value may be quoted in messages: the text as written when
// it came from the environment, so values of variables are never echoed.
func (l *loader) scalar(f *fields, key, want string) (val, show string, ok bool) {
	n := deref(f.vals[key])
	if n == nil {
		return "", "", false
	}
	if isNull(n) {
		return "", `""`, true
	}
	if n.Kind != yaml.ScalarNode {
		l.errAt(n, "%s%s: expected %s, got %s", f.prefix, key, want, kindName(n))
		return "", "", false
	}
	v, err := expandEnv(n.Value, l.lookupEnv)
	if err != nil {
		l.errAt(n, "%s%s: %v", f.prefix, key, err)
		return "", "", false
	}
	if v != n.Value {
		f.expanded[key] = true
		return v, strconv.Quote(n.Value), true
	}
	return v, strconv.Quote(v), true
}

func (l *loader) str(f *fields, key string) (string, bool) {
	v, _, ok := l.scalar(f, key, "a string")
	return v, ok
}

// secret reads a token; neither it nor its text appears in any message.
// It is given as ${VAR}, or in a file named by key_file (a Docker or
// Kubernetes secret); one written in the config file itself is taken, with
// a warning.
func (l *loader) secret(f *fields, key string) (Secret, bool) {
	fileKey := key + "_file"
	if fn := deref(f.vals[fileKey]); fn != nil && !isNull(fn) {
		if n := deref(f.vals[key]); n != nil && !isNull(n) {
			l.errAt(fn, "%s%s and %s%s are both set: keep one", f.prefix, key, f.prefix, fileKey)
			return "", false
		}
		return l.secretFile(f, fileKey)
	}
	v, _, ok := l.scalar(f, key, "a string")
	if ok && v != "" && !f.expanded[key] {
		l.warnAt(f.vals[key], "%s%s is written in the config file: give it as ${VAR} or in a file named by %s%s, so that it stays out of the file, its backups and its history",
			f.prefix, key, f.prefix, fileKey)
	}
	return Secret(v), ok
}

// secretFile reads a secret from the file named by f's key: its text, less
// the line break that ends it. A relative name is relative to the config
// file.
func (l *loader) secretFile(f *fields, fileKey string) (Secret, bool) {
	name, ok := l.str(f, fileKey)
	if !ok || name == "" {
		return "", false
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(filepath.Dir(l.file), name)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		// The error names the file, never what it holds.
		l.errAt(f.vals[fileKey], "%s%s: cannot read the secret file: %v", f.prefix, fileKey, err)
		return "", false
	}
	v := strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(v) == "" {
		l.errAt(f.vals[fileKey], "%s%s: the secret file %s is empty", f.prefix, fileKey, name)
		return "", false
	}
	return Secret(v), true
}

func (l *loader) integer(f *fields, key string) (int, bool) {
	v, show, ok := l.scalar(f, key, "a whole number")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		l.errAt(f.vals[key], "%s%s: expected a whole number, got %s", f.prefix, key, show)
		return 0, false
	}
	return n, true
}

func (l *loader) boolean(f *fields, key string) (bool, bool) {
	v, show, ok := l.scalar(f, key, "true or false")
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	l.errAt(f.vals[key], "%s%s: expected true or false, got %s", f.prefix, key, show)
	return false, false
}

func (l *loader) duration(f *fields, key string, dst *time.Duration) bool {
	v, show, ok := l.scalar(f, key, "a duration")
	if !ok {
		return !f.has(key)
	}
	d, err := parseDuration(strings.TrimSpace(v))
	if err != nil {
		l.errAt(f.vals[key], "%s%s: %v, got %s", f.prefix, key, err, show)
		return false
	}
	*dst = d
	return true
}

func (l *loader) positiveDuration(f *fields, key string, dst *time.Duration) bool {
	var d time.Duration
	if !f.has(key) {
		return true
	}
	if !l.duration(f, key, &d) {
		return false
	}
	if d <= 0 {
		l.errAt(f.vals[key], "%s%s: must be longer than 0", f.prefix, key)
		return false
	}
	*dst = d
	return true
}

func (l *loader) size(f *fields, key string) (int64, bool) {
	v, show, ok := l.scalar(f, key, "a size")
	if !ok {
		return 0, false
	}
	n, err := parseSize(v)
	if err != nil {
		l.errAt(f.vals[key], "%s%s: %v, got %s", f.prefix, key, err, show)
		return 0, false
	}
	return n, true
}

func (l *loader) enum(f *fields, key string, dst *string, options ...string) bool {
	v, show, ok := l.scalar(f, key, "one of "+strings.Join(options, ", "))
	if !ok {
		return !f.has(key)
	}
	if !contains(options, v) {
		msg := fmt.Sprintf("%s%s: expected one of %s, got %s", f.prefix, key, strings.Join(options, ", "), show)
		if s := suggest(v, options); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		l.errAt(f.vals[key], "%s", msg)
		return false
	}
	*dst = v
	return true
}

// cron reads a schedule in robfig/cron's standard syntax: five fields,
// @every DURATION, or a descriptor such as @hourly.
func (l *loader) cron(f *fields, key string, dst *string) bool {
	v, show, ok := l.scalar(f, key, "a cron schedule")
	if !ok {
		return !f.has(key)
	}
	v = strings.TrimSpace(v)
	if _, err := cron.ParseStandard(v); err != nil || v == "" {
		reason := "empty"
		if err != nil {
			reason = err.Error()
		}
		l.errAt(f.vals[key], `%s%s: invalid schedule %s: %s (use five cron fields such as "0 8 * * 1-5", "@every 15m" or "@hourly")`, f.prefix, key, show, reason)
		return false
	}
	*dst = v
	return true
}

// sequence returns the elements of a list; absent or null is no elements.
func (l *loader) sequence(n *yaml.Node, what string) []*yaml.Node {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.errAt(n, "%s: expected a list, got %s", what, kindName(n))
		return nil
	}
	return n.Content
}

// strList reads a list of strings, with the node of each for messages.
func (l *loader) strList(f *fields, key string) ([]string, []*yaml.Node) {
	n := deref(f.vals[key])
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		l.errAt(n, "%s%s: expected a list such as [a, b], got %s", f.prefix, key, kindName(n))
		return nil, nil
	}
	var vals []string
	var nodes []*yaml.Node
	for _, e := range n.Content {
		e = deref(e)
		if e.Kind != yaml.ScalarNode || isNull(e) {
			l.errAt(e, "%s%s: each entry must be a single value, got %s", f.prefix, key, kindName(e))
			continue
		}
		v, err := expandEnv(e.Value, l.lookupEnv)
		if err != nil {
			l.errAt(e, "%s%s: %v", f.prefix, key, err)
			continue
		}
		vals, nodes = append(vals, v), append(nodes, e)
	}
	return vals, nodes
}

// requiredID reads the id of a list entry and checks it is valid and new.
func (l *loader) requiredID(f *fields, kind, where string, seen map[string]*yaml.Node) (string, bool) {
	id, ok := l.str(f, "id")
	if !ok {
		if !f.has("id") {
			l.errAt(f.node, "%s: id is required", where)
		}
		return "", false
	}
	if err := checkID(id); err != nil {
		l.errAt(f.vals["id"], "%s: %v", where, err)
		return "", false
	}
	if prev := seen[id]; prev != nil {
		l.errAt(f.vals["id"], "duplicate %s id %q (first used at line %d)", kind, id, prev.Line)
		return "", false
	}
	seen[id] = deref(f.vals["id"])
	l.declared[kind] = append(l.declared[kind], id)
	return id, true
}

var attrName = regexp.MustCompile(`^[A-Za-z_:][-A-Za-z0-9_:.]*$`)

// checkSelector checks a CSS selector that may end in @attribute.
func checkSelector(s string) error {
	sel := s
	if i := strings.LastIndexByte(s, '@'); i >= 0 && !strings.ContainsAny(s[i:], `]"'`) {
		if !attrName.MatchString(s[i+1:]) {
			return fmt.Errorf("invalid attribute name %q after @ in %q", s[i+1:], s)
		}
		sel = s[:i]
	}
	if strings.TrimSpace(sel) == "" {
		return fmt.Errorf("missing CSS selector before @ in %q", s)
	}
	if _, err := cascadia.ParseGroup(sel); err != nil {
		return fmt.Errorf("invalid CSS selector %q: %v", sel, err)
	}
	return nil
}
