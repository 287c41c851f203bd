package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/policywire/policywire/query"
)

// Defaults of keys the file may leave out.
const (
	DefaultDataDir  = "./data"
	DefaultTimezone = "UTC"
	DefaultListen   = "127.0.0.1:8080"
	// DefaultMaxSubscriptions bounds the subscriptions of one channel: a
	// routing rule each, checked for every new item.
	DefaultMaxSubscriptions = 50
	DefaultTimeout          = 30 * time.Second
	DefaultMaxBytes         = 10 << 20
	DefaultConcurrency      = 8
	DefaultHostDelay        = 2 * time.Second
	DefaultSchedule         = "@every 15m"
	DefaultBackfill         = 72 * time.Hour
	DefaultMaxChars         = 400
	DefaultFetchArticle     = "auto"
	DefaultLLMTimeout       = 20 * time.Second
	DefaultSlackCommand     = "/policywire"
	DefaultMatrixPrefix     = "!pw"
	DefaultLogLevel         = "info"
	DefaultLogFormat        = "auto"
)

// UserAgent is the default fetch.user_agent for a build version.
func UserAgent(version string) string {
	return "policywire/" + version + " (+https://github.com/policywire/policywire)"
}

// Option changes how Load reads a file.
type Option func(*loader)

// WithLookupEnv replaces os.LookupEnv for ${VAR} expansion (tests use it to
// run without touching the process environment).
func WithLookupEnv(lookup func(name string) (string, bool)) Option {
	return func(l *loader) { l.lookupEnv = lookup }
}

// WithQueryCheck makes Load check every topic query with check (normally a
// wrapper of query.Parse). When check returns an error wrapping a
// *query.SyntaxError, the problem is reported at that column of the query
// in the file.
func WithQueryCheck(check func(q string) error) Option {
	return func(l *loader) { l.queryCheck = check }
}

// WithLinkCheck makes Load check the link of every json source with check
// (normally sources.CheckLinkTemplate: a link may be a template such as
// "https://example.org/{refCode|lower}").
func WithLinkCheck(check func(link string) error) Option {
	return func(l *loader) { l.linkCheck = check }
}

// WithTopicPacks gives the topic packs a topic may name with pack:, by
// name, each with its query (normally packs.Queries()). Without it a
// topic that names a pack is an error.
func WithTopicPacks(packs map[string]string) Option {
	return func(l *loader) { l.packs = packs }
}

// WithVersion sets the version named in the default User-Agent.
func WithVersion(version string) Option {
	return func(l *loader) { l.version = version }
}

// Load reads, expands, validates and fills in the config file at path.
// A file that cannot be read gives an error wrapping the os error (so
// errors.Is(err, fs.ErrNotExist) works); an invalid file gives Errors with
// every problem found.
func Load(path string, opts ...Option) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, opts...)
}

// Parse is Load for a file already in memory; path names it in errors and
// anchors a relative data_dir.
func Parse(path string, data []byte, opts ...Option) (*Config, error) {
	l := &loader{file: path, lookupEnv: os.LookupEnv, version: "dev", declared: map[string][]string{}}
	for _, o := range opts {
		o(l)
	}
	l.lines = strings.Split(string(data), "\n")
	cfg := l.load(data)
	if len(l.errs) > 0 {
		l.errs.sort()
		return nil, l.errs
	}
	l.warns.sort()
	for _, w := range l.warns {
		cfg.Warnings = append(cfg.Warnings, w.Error())
	}
	return cfg, nil
}

type loader struct {
	file       string
	lines      []string
	lookupEnv  func(string) (string, bool)
	queryCheck func(string) error
	linkCheck  func(string) error
	packs      map[string]string
	version    string
	errs       Errors
	warns      Errors
	// declared holds the ids of each kind ("topic", "source", "channel")
	// in file order, including entries invalid for other reasons, so
	// references to them are not reported as unknown as well.
	declared map[string][]string
}

// warnAt records a warning: the config is valid, but something in it
// should change.
func (l *loader) warnAt(n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, n.Column
	}
	l.warns = append(l.warns, &Error{File: l.file, Line: line, Col: col, Msg: "warning: " + fmt.Sprintf(format, args...)})
}

func (l *loader) errAt(n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, n.Column
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (l *loader) load(data []byte) *Config {
	cfg := &Config{
		Path:     l.file,
		DataDir:  DefaultDataDir,
		Timezone: DefaultTimezone,
		Log:      Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		HTTP:     HTTP{Listen: DefaultListen},
		Fetch: Fetch{
			UserAgent:   UserAgent(l.version),
			Timeout:     DefaultTimeout,
			MaxBytes:    DefaultMaxBytes,
			Concurrency: DefaultConcurrency,
			HostDelay:   DefaultHostDelay,
		},
		Defaults: Defaults{Schedule: DefaultSchedule, Backfill: DefaultBackfill},
		Summary: Summary{
			MaxChars:     DefaultMaxChars,
			FetchArticle: DefaultFetchArticle,
			LLM:          LLM{Timeout: DefaultLLMTimeout},
		},
		Chat: defaultChat(),
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		l.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.errAt(&extra, "only one YAML document is allowed in a config file")
	} else if !errors.Is(err, io.EOF) {
		l.yamlError(err)
	}
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = deref(doc.Content[0])
	}
	if root != nil && !(root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null") {
		l.decodeRoot(root, cfg)
	}
	l.resolve(cfg)
	return cfg
}

func (l *loader) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Col: 1, Msg: "invalid YAML: " + msg})
}

// resolve fills values that depend on other parts: data_dir against the
// file, the time zone, and source defaults.
func (l *loader) resolve(cfg *Config) {
	if !filepath.IsAbs(cfg.DataDir) {
		cfg.DataDir = filepath.Join(filepath.Dir(cfg.Path), cfg.DataDir)
	}
	if abs, err := filepath.Abs(cfg.DataDir); err == nil {
		cfg.DataDir = abs
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
}

var topKeys = []string{"data_dir", "timezone", "log", "http", "fetch", "defaults", "summary", "chat", "topics", "sources", "slack", "matrix", "channels", "admin"}

func (l *loader) decodeRoot(root *yaml.Node, cfg *Config) {
	f := l.mapping(root, "the top level", "", topKeys)
	if f == nil {
		return
	}
	if v, ok := l.str(f, "data_dir"); ok {
		if v == "" {
			l.errAt(f.vals["data_dir"], "data_dir: must not be empty")
		} else {
			cfg.DataDir = v
		}
	}
	if v, ok := l.str(f, "timezone"); ok {
		loc, err := time.LoadLocation(v)
		if err != nil || v == "" || strings.EqualFold(v, "local") {
			l.errAt(f.vals["timezone"], "timezone: unknown time zone %s (use an IANA name such as Europe/Brussels or UTC)", show(f.vals["timezone"], v))
		} else {
			cfg.Timezone, cfg.Location = v, loc
		}
	}
	if n := f.vals["log"]; n != nil {
		l.decodeLog(n, &cfg.Log)
	}
	if n := f.vals["http"]; n != nil {
		l.decodeHTTP(n, &cfg.HTTP)
	}
	if n := f.vals["fetch"]; n != nil {
		l.decodeFetch(n, &cfg.Fetch)
	}
	if n := f.vals["defaults"]; n != nil {
		l.decodeDefaults(n, &cfg.Defaults)
	}
	if n := f.vals["summary"]; n != nil {
		l.decodeSummary(n, &cfg.Summary)
	}
	if n := f.vals["chat"]; n != nil {
		l.decodeChat(n, &cfg.Chat)
	}
	topicNodes := map[string]*yaml.Node{}
	if n := f.vals["topics"]; n != nil {
		cfg.Topics = l.decodeTopics(n, topicNodes)
	}
	if n := f.vals["sources"]; n != nil {
		cfg.Sources = l.decodeSources(n, cfg.Defaults)
	}
	var slackFields, matrixFields *fields
	if n := f.vals["slack"]; n != nil && !isNull(n) {
		cfg.Slack, slackFields = l.decodeSlack(n)
	}
	if n := f.vals["matrix"]; n != nil && !isNull(n) {
		cfg.Matrix, matrixFields = l.decodeMatrix(n)
	}
	var chans []channelNodes
	if n := f.vals["channels"]; n != nil {
		cfg.Channels, chans = l.decodeChannels(n)
	}
	fillFollowUpWindows(cfg)
	l.checkChannels(cfg, chans, f.vals["slack"], slackFields, f.vals["matrix"], matrixFields)
	if v, ok := l.str(f, "admin"); ok && v != "" {
		if !contains(l.declared["channel"], v) {
			l.errAt(f.vals["admin"], "admin: %s", unknownRef("channel", v, l.declared["channel"]))
		} else {
			cfg.Admin = v
		}
	}
}

func (l *loader) decodeLog(n *yaml.Node, dst *Log) {
	f := l.mapping(n, "log", "log.", []string{"level", "format"})
	if f == nil {
		return
	}
	l.enum(f, "level", &dst.Level, "debug", "info", "warn", "error")
	l.enum(f, "format", &dst.Format, "auto", "text", "json")
}

func (l *loader) decodeHTTP(n *yaml.Node, dst *HTTP) {
	f := l.mapping(n, "http", "http.", []string{"listen", "metrics_listen"})
	if f == nil {
		return
	}
	if v, ok := l.str(f, "listen"); ok {
		if v != "" {
			if err := checkListen(v); err != nil {
				l.errAt(f.vals["listen"], "http.listen: %v, got %s", err, show(f.vals["listen"], v))
				return
			}
		}
		dst.Listen = v
	}
	if v, ok := l.str(f, "metrics_listen"); ok {
		if v != "" {
			if err := checkListen(v); err != nil {
				l.errAt(f.vals["metrics_listen"], "http.metrics_listen: %v, got %s", err, show(f.vals["metrics_listen"], v))
				return
			}
			if v == dst.Listen {
				l.errAt(f.vals["metrics_listen"], "http.metrics_listen: must differ from http.listen (%s), or be left out to serve /metrics there", dst.Listen)
				return
			}
		}
		dst.MetricsListen = v
	}
}

func (l *loader) decodeFetch(n *yaml.Node, dst *Fetch) {
	f := l.mapping(n, "fetch", "fetch.", []string{"user_agent", "timeout", "max_bytes", "concurrency", "host_delay", "allow_private"})
	if f == nil {
		return
	}
	if v, ok := l.str(f, "user_agent"); ok {
		if strings.TrimSpace(v) == "" {
			l.errAt(f.vals["user_agent"], "fetch.user_agent: must not be empty")
		} else {
			dst.UserAgent = v
		}
	}
	l.positiveDuration(f, "timeout", &dst.Timeout)
	if v, ok := l.size(f, "max_bytes"); ok {
		if v <= 0 {
			l.errAt(f.vals["max_bytes"], "fetch.max_bytes: must be more than 0")
		} else {
			dst.MaxBytes = v
		}
	}
	if v, ok := l.integer(f, "concurrency"); ok {
		if v < 1 {
			l.errAt(f.vals["concurrency"], "fetch.concurrency: must be at least 1, got %d", v)
		} else {
			dst.Concurrency = v
		}
	}
	l.duration(f, "host_delay", &dst.HostDelay)
	if v, ok := l.boolean(f, "allow_private"); ok {
		dst.AllowPrivate = v
	}
}

func (l *loader) decodeDefaults(n *yaml.Node, dst *Defaults) {
	f := l.mapping(n, "defaults", "defaults.", []string{"schedule", "backfill", "retention", "follow_up_window"})
	if f == nil {
		return
	}
	l.cron(f, "schedule", &dst.Schedule)
	l.duration(f, "backfill", &dst.Backfill)
	l.duration(f, "retention", &dst.Retention)
	l.positiveDuration(f, "follow_up_window", &dst.FollowUpWindow)
}

func (l *loader) decodeSummary(n *yaml.Node, dst *Summary) {
	f := l.mapping(n, "summary", "summary.", []string{"max_chars", "fetch_article", "llm"})
	if f == nil {
		return
	}
	if v, ok := l.integer(f, "max_chars"); ok {
		if v <= 0 {
			l.errAt(f.vals["max_chars"], "summary.max_chars: must be more than 0, got %d", v)
		} else {
			dst.MaxChars = v
		}
	}
	l.enum(f, "fetch_article", &dst.FetchArticle, "auto", "always", "never")
	ln := f.vals["llm"]
	if ln == nil || isNull(ln) {
		return
	}
	g := l.mapping(ln, "summary.llm", "summary.llm.", []string{"url", "model", "api_key", "api_key_file", "timeout"})
	if g == nil {
		return
	}
	if v, ok := l.str(g, "url"); ok && v != "" {
		if err := checkHTTPURL(v); err != nil {
			l.errAt(g.vals["url"], "summary.llm.url: %v, got %s", err, show(g.vals["url"], v))
		} else {
			dst.LLM.URL = v
		}
	}
	if v, ok := l.str(g, "model"); ok {
		dst.LLM.Model = v
	}
	if v, ok := l.secret(g, "api_key"); ok {
		dst.LLM.APIKey = v
	}
	l.positiveDuration(g, "timeout", &dst.LLM.Timeout)
	if dst.LLM.URL != "" && dst.LLM.Model == "" {
		at := g.vals["model"]
		if at == nil {
			at = g.keys["url"]
		}
		l.errAt(at, "summary.llm.model: is required when summary.llm.url is set")
	}
}

func (l *loader) decodeTopics(n *yaml.Node, nodes map[string]*yaml.Node) []Topic {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		l.errAt(n, "topics: expected a mapping of topic id to {query: ...}, got %s", kindName(n))
		return nil
	}
	var topics []Topic
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		id, ok := l.key(k, "topics")
		if !ok {
			continue
		}
		if err := checkID(id); err != nil {
			l.errAt(k, "topic: %v", err)
			continue
		}
		if prev := nodes[id]; prev != nil {
			l.errAt(k, "duplicate topic %q (first defined at line %d)", id, prev.Line)
			continue
		}
		nodes[id] = k
		l.declared["topic"] = append(l.declared["topic"], id)
		label := fmt.Sprintf("topic %q", id)
		f := l.mapping(v, label, label+": ", []string{"pack", "query"})
		if f == nil {
			continue
		}
		pack, packQuery, ok := l.topicPack(f, label)
		if !ok {
			continue
		}
		q, hasQuery := l.str(f, "query")
		switch {
		case !hasQuery && f.has("query"):
			continue
		case !hasQuery && pack == "":
			l.errAt(k, "%s: query or pack is required", label)
			continue
		case hasQuery && strings.TrimSpace(q) == "" && pack == "":
			l.errAt(f.vals["query"], "%s: query must not be empty", label)
			continue
		}
		if strings.TrimSpace(q) != "" && !l.checkQuery(label, q, f) {
			continue
		}
		topics = append(topics, Topic{ID: id, Pack: pack, Query: packOr(packQuery, q)})
	}
	return topics
}

// topicPack reads a topic's pack: the pack's name and query, or ok false
// after reporting an unknown pack.
func (l *loader) topicPack(f *fields, label string) (name, query string, ok bool) {
	if !f.has("pack") {
		return "", "", true
	}
	name, ok = l.str(f, "pack")
	if !ok {
		return "", "", false
	}
	var names []string
	for n := range l.packs {
		names = append(names, n)
	}
	sort.Strings(names)
	query, known := l.packs[name]
	if !known {
		msg := fmt.Sprintf("%s: pack: unknown topic pack %s", label, show(f.vals["pack"], name))
		if s := suggest(name, names); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		if len(names) > 0 {
			msg += "; packs: " + strings.Join(names, ", ")
		}
		l.errAt(f.vals["pack"], "%s", msg)
		return "", "", false
	}
	return name, query, true
}

// packOr extends a pack with a topic's own query: an item matches the
// topic when it matches the pack or the query.
func packOr(pack, q string) string {
	switch {
	case strings.TrimSpace(pack) == "":
		return q
	case strings.TrimSpace(q) == "":
		return pack
	}
	return "(" + pack + ") OR (" + q + ")"
}

// checkQuery runs the query check and reports a syntax error at its column
// in the file when the query is written on one line.
func (l *loader) checkQuery(label, q string, f *fields) bool {
	if l.queryCheck == nil {
		return true
	}
	err := l.queryCheck(q)
	if err == nil {
		return true
	}
	node := deref(f.vals["query"])
	pos, msg, ok := queryErrorParts(err)
	if !ok {
		l.errAt(node, "%s: query: %v", label, err)
		return false
	}
	if line, col, exact := l.queryColumn(node, pos, f.expanded["query"]); exact {
		l.errs = append(l.errs, &Error{File: l.file, Line: line, Col: col, Msg: fmt.Sprintf("%s: query: %s", label, msg)})
	} else {
		l.errAt(node, "%s: query: %s (at character %d of the query)", label, msg, pos)
	}
	return false
}

// queryColumn maps the pos-th character (1-based) of a scalar's value to its
// line and column in the file. Only single-line plain and quoted scalars
// written literally (no ${VAR}) map exactly.
func (l *loader) queryColumn(n *yaml.Node, pos int, expanded bool) (line, col int, exact bool) {
	if n == nil || expanded || pos < 1 || n.Line < 1 || n.Line > len(l.lines) || strings.Contains(n.Value, "\n") {
		return 0, 0, false
	}
	src := []rune(strings.TrimRight(l.lines[n.Line-1], "\r"))
	i := n.Column - 1 // index of the scalar's first character (or quote)
	switch n.Style {
	case 0:
		if i+len([]rune(n.Value)) > len(src) {
			return 0, 0, false
		}
		return n.Line, n.Column + pos - 1, true
	case yaml.SingleQuotedStyle:
		i++
		for c := 1; c < pos; c++ {
			if i >= len(src) {
				return 0, 0, false
			}
			if src[i] == '\'' && i+1 < len(src) && src[i+1] == '\'' {
				i += 2
			} else {
				i++
			}
		}
	case yaml.DoubleQuotedStyle:
		i++
		for c := 1; c < pos; c++ {
			if i >= len(src) {
				return 0, 0, false
			}
			if src[i] == '\\' && i+1 < len(src) {
				switch src[i+1] {
				case 'x':
					i += 4
				case 'u':
					i += 6
				case 'U':
					i += 10
				default:
					i += 2
				}
			} else {
				i++
			}
		}
	default:
		return 0, 0, false
	}
	if i > len(src) {
		return 0, 0, false
	}
	return n.Line, i + 1, true
}

// queryErrorParts finds the column and message of a query syntax error.
func queryErrorParts(err error) (pos int, msg string, ok bool) {
	var se *query.SyntaxError
	if errors.As(err, &se) {
		return se.Pos, se.Msg, true
	}
	return 0, "", false
}

type channelNodes struct {
	node, slack, matrix *yaml.Node
	topics, sources     []*yaml.Node
}

var sourceKeys = []string{"id", "name", "type", "url", "schedule", "backfill", "language", "html", "json"}

func (l *loader) decodeSources(n *yaml.Node, defaults Defaults) []Source {
	items := l.sequence(n, "sources")
	seen := map[string]*yaml.Node{}
	var out []Source
	for i, item := range items {
		where := entryName("source", "sources", i, item)
		f := l.mapping(item, where, where+": ", sourceKeys)
		if f == nil {
			continue
		}
		id, ok := l.requiredID(f, "source", where, seen)
		if !ok {
			continue
		}
		label := fmt.Sprintf("source %q", id)
		f.where, f.prefix = label, label+": "
		src := Source{ID: id, Name: id, Type: TypeFeed, Schedule: defaults.Schedule, Backfill: defaults.Backfill}
		valid := true
		if v, ok := l.str(f, "name"); ok && strings.TrimSpace(v) != "" {
			src.Name = v
		}
		if f.has("type") {
			valid = l.enum(f, "type", &src.Type, TypeFeed, TypeHTML, TypeJSON) && valid
		}
		if v, ok := l.str(f, "url"); ok {
			if err := checkHTTPURL(v); err != nil {
				l.errAt(f.vals["url"], "%surl: %v, got %s", f.prefix, err, show(f.vals["url"], v))
				valid = false
			} else {
				src.URL = v
			}
		} else if !f.has("url") {
			l.errAt(item, "%surl is required", f.prefix)
			valid = false
		}
		if f.has("schedule") {
			valid = l.cron(f, "schedule", &src.Schedule) && valid
		}
		if f.has("backfill") {
			valid = l.duration(f, "backfill", &src.Backfill) && valid
		}
		if v, ok := l.str(f, "language"); ok && v != "" {
			if !languagePattern.MatchString(v) {
				l.errAt(f.vals["language"], "%slanguage: expected a language code such as en, fr or pt-BR, got %s", f.prefix, show(f.vals["language"], v))
				valid = false
			} else {
				src.Language = v
			}
		}
		valid = l.sourceSections(f, item, &src) && valid
		if valid {
			out = append(out, src)
		}
	}
	return out
}

func (l *loader) sourceSections(f *fields, item *yaml.Node, src *Source) bool {
	valid := true
	for _, section := range []string{TypeHTML, TypeJSON} {
		if f.has(section) && src.Type != section && !isNull(f.vals[section]) {
			l.errAt(f.keys[section], "%s%s: section only applies to sources of type %s (this one is type %s)", f.prefix, section, section, src.Type)
			valid = false
		}
	}
	switch src.Type {
	case TypeHTML:
		n := f.vals["html"]
		if n == nil || isNull(n) {
			l.errAt(item, "%stype html needs an html section with item, title and link selectors", f.prefix)
			return false
		}
		g := l.mapping(n, f.where+" html", f.prefix+"html.", []string{"item", "title", "link", "date", "date_format", "summary"})
		if g == nil {
			return false
		}
		h := &HTMLSource{}
		for _, s := range []struct {
			key      string
			dst      *string
			required bool
		}{{"item", &h.Item, true}, {"title", &h.Title, true}, {"link", &h.Link, true}, {"date", &h.Date, false}, {"summary", &h.Summary, false}} {
			valid = l.selector(g, n, s.key, s.dst, s.required) && valid
		}
		if v, ok := l.str(g, "date_format"); ok {
			h.DateFormat = v
		}
		src.HTML = h
	case TypeJSON:
		n := f.vals["json"]
		if n == nil || isNull(n) {
			l.errAt(item, "%stype json needs a json section with title and link paths", f.prefix)
			return false
		}
		g := l.mapping(n, f.where+" json", f.prefix+"json.", []string{"items", "title", "link", "base_url", "date", "date_format", "summary", "guid"})
		if g == nil {
			return false
		}
		j := &JSONSource{}
		for _, s := range []struct {
			key      string
			dst      *string
			required bool
		}{{"items", &j.Items, false}, {"title", &j.Title, true}, {"link", &j.Link, true}, {"date", &j.Date, false}, {"date_format", &j.DateFormat, false}, {"summary", &j.Summary, false}, {"guid", &j.GUID, false}} {
			v, ok := l.str(g, s.key)
			switch {
			case ok && (v != "" || !s.required):
				*s.dst = v
			case ok || !g.has(s.key):
				if s.required {
					at := g.vals[s.key]
					if at == nil {
						at = deref(n)
					}
					l.errAt(at, "%sjson.%s is required", f.prefix, s.key)
				}
				valid = valid && !s.required
			default:
				valid = false
			}
		}
		if j.Link != "" && l.linkCheck != nil {
			if err := l.linkCheck(j.Link); err != nil {
				l.errAt(g.vals["link"], "%sjson.link: %s", f.prefix, strings.TrimPrefix(err.Error(), "sources: "))
				valid = false
			}
		}
		if v, ok := l.str(g, "base_url"); ok && v != "" {
			if err := checkHTTPURL(v); err != nil {
				l.errAt(g.vals["base_url"], "%sjson.base_url: %v, got %s", f.prefix, err, show(g.vals["base_url"], v))
				valid = false
			} else {
				j.BaseURL = v
			}
		}
		src.JSON = j
	}
	return valid
}

// selector reads one CSS selector, optionally ending in @attribute.
func (l *loader) selector(g *fields, section *yaml.Node, key string, dst *string, required bool) bool {
	v, ok := l.str(g, key)
	if !ok {
		if g.has(key) {
			return false
		}
		if required {
			l.errAt(deref(section), "%s%s is required", g.prefix, key)
			return false
		}
		return true
	}
	if strings.TrimSpace(v) == "" {
		if required {
			l.errAt(g.vals[key], "%s%s: must not be empty", g.prefix, key)
			return false
		}
		return true
	}
	if err := checkSelector(v); err != nil {
		l.errAt(g.vals[key], "%s%s: %v", g.prefix, key, err)
		return false
	}
	*dst = v
	return true
}

var channelKeys = append([]string{"id", "slack", "matrix", "topics", "sources", "digest"}, followUpKeys...)

func (l *loader) decodeChannels(n *yaml.Node) ([]Channel, []channelNodes) {
	items := l.sequence(n, "channels")
	seen := map[string]*yaml.Node{}
	var out []Channel
	var nodes []channelNodes
	for i, item := range items {
		where := entryName("channel", "channels", i, item)
		f := l.mapping(item, where, where+": ", channelKeys)
		if f == nil {
			continue
		}
		id, ok := l.requiredID(f, "channel", where, seen)
		if !ok {
			continue
		}
		label := fmt.Sprintf("channel %q", id)
		f.where, f.prefix = label, label+": "
		ch := Channel{ID: id}
		cn := channelNodes{node: deref(item)}
		valid := true
		slack, hasSlack := l.str(f, "slack")
		matrix, hasMatrix := l.str(f, "matrix")
		hasSlack, hasMatrix = hasSlack && slack != "", hasMatrix && matrix != ""
		switch {
		case hasSlack && hasMatrix:
			l.errAt(f.keys["matrix"], "%snames both slack and matrix; a channel is one Slack channel or one Matrix room", f.prefix)
			valid = false
		case !hasSlack && !hasMatrix:
			if !f.has("slack") && !f.has("matrix") {
				l.errAt(item, "%sneeds either slack: CHANNEL_ID or matrix: ROOM_ID", f.prefix)
			} else if at := firstNonNil(f.vals["slack"], f.vals["matrix"]); isScalar(at) {
				l.errAt(at, "%sthe channel or room id must not be empty", f.prefix)
			}
			valid = false
		case hasSlack:
			if !slackChanPattern.MatchString(slack) {
				l.errAt(f.vals["slack"], "%sslack: expected a Slack channel ID such as C0123ABCDEF, got %s", f.prefix, show(f.vals["slack"], slack))
				valid = false
			}
			ch.Slack, cn.slack = slack, f.keys["slack"]
		case hasMatrix:
			if !matrixRoomPattern.MatchString(matrix) {
				l.errAt(f.vals["matrix"], "%smatrix: expected a Matrix room ID such as !abcdef:example.org, got %s", f.prefix, show(f.vals["matrix"], matrix))
				valid = false
			}
			ch.Matrix, cn.matrix = matrix, f.keys["matrix"]
		}
		ch.Topics, cn.topics = l.strList(f, "topics")
		ch.Sources, cn.sources = l.strList(f, "sources")
		if f.has("digest") {
			if v, ok := l.str(f, "digest"); ok && v != "" {
				valid = l.cron(f, "digest", &ch.Digest) && valid
			}
		}
		valid = l.decodeFollowUps(f, &ch) && valid
		if valid {
			out = append(out, ch)
			nodes = append(nodes, cn)
		}
	}
	return out, nodes
}

// checkChannels checks what channels refer to: topics, sources and the chat
// platform sections they need.
func (l *loader) checkChannels(cfg *Config, chans []channelNodes, slackNode *yaml.Node, slackFields *fields, matrixNode *yaml.Node, matrixFields *fields) {
	topicIDs, sourceIDs := l.declared["topic"], l.declared["source"]
	var slackUser, matrixUser *channelNodes
	for i := range cfg.Channels {
		ch, cn := &cfg.Channels[i], &chans[i]
		l.checkRefs(ch.ID, "topic", ch.Topics, cn.topics, topicIDs)
		l.checkRefs(ch.ID, "source", ch.Sources, cn.sources, sourceIDs)
		if ch.Slack != "" && slackUser == nil {
			slackUser = cn
		}
		if ch.Matrix != "" && matrixUser == nil {
			matrixUser = cn
		}
	}
	if slackUser != nil {
		id := cfg.Channels[indexOf(chans, slackUser)].ID
		switch {
		case isNull(slackNode):
			l.errAt(slackUser.slack, "channel %q: posts to Slack but there is no slack section", id)
		case cfg.Slack != nil:
			l.required(slackFields, "bot_token", cfg.Slack.BotToken.Value(), fmt.Sprintf("channel %q posts to Slack", id))
		}
	} else if cfg.Slack != nil && cfg.Slack.BotToken == "" {
		// A Slack section left without a token and unused is not in use.
		cfg.Slack = nil
	}
	if matrixUser != nil {
		id := cfg.Channels[indexOf(chans, matrixUser)].ID
		switch {
		case isNull(matrixNode):
			l.errAt(matrixUser.matrix, "channel %q: posts to Matrix but there is no matrix section", id)
		case cfg.Matrix != nil:
			why := fmt.Sprintf("channel %q posts to Matrix", id)
			l.required(matrixFields, "homeserver", cfg.Matrix.Homeserver, why)
			l.required(matrixFields, "user_id", cfg.Matrix.UserID, why)
			if cfg.Matrix.Password == "" || cfg.Matrix.AccessToken != "" {
				l.required(matrixFields, "access_token", cfg.Matrix.AccessToken.Value(), why+"; or set matrix.password")
			}
			if cfg.Matrix.DeviceID != "" && cfg.Matrix.AccessToken == "" {
				l.errAt(matrixFields.vals["device_id"], "matrix.device_id: goes with matrix.access_token (with matrix.password the device is kept in the data dir)")
			}
		}
	} else if cfg.Matrix != nil && cfg.Matrix.AccessToken == "" && cfg.Matrix.Password == "" {
		cfg.Matrix = nil
	}
}

// required reports a key of a chat section that is missing or empty. A
// value present but invalid has been reported already.
func (l *loader) required(f *fields, key, val, why string) {
	n := deref(f.vals[key])
	switch {
	case n == nil && f.vals[key+"_file"] != nil:
		// Given in a secret file: secretFile reported a file it could not use.
	case n == nil:
		l.errAt(f.node, "%s%s is required (%s)", f.prefix, key, why)
	case val == "" && (isNull(n) || (n.Kind == yaml.ScalarNode && l.expandsEmpty(n))):
		l.errAt(n, "%s%s: must not be empty (%s)", f.prefix, key, why)
	}
}

// expandsEmpty tells whether a scalar reads as "" after ${VAR} expansion.
func (l *loader) expandsEmpty(n *yaml.Node) bool {
	v, err := expandEnv(n.Value, l.lookupEnv)
	return err == nil && strings.TrimSpace(v) == ""
}

func indexOf(chans []channelNodes, cn *channelNodes) int {
	for i := range chans {
		if &chans[i] == cn {
			return i
		}
	}
	return 0
}

func (l *loader) checkRefs(channel, kind string, refs []string, nodes []*yaml.Node, known []string) {
	seen := map[string]bool{}
	for i, ref := range refs {
		switch {
		case seen[ref]:
			l.errAt(nodes[i], "channel %q: %s %s is listed twice", channel, kind, show(nodes[i], ref))
		case !contains(known, ref):
			l.errAt(nodes[i], "channel %q: %s", channel, unknownRef(kind, ref, known))
		}
		seen[ref] = true
	}
}

func (l *loader) decodeSlack(n *yaml.Node) (*Slack, *fields) {
	f := l.mapping(n, "slack", "slack.", []string{"bot_token", "bot_token_file", "signing_secret", "signing_secret_file", "app_token", "app_token_file", "command", "api_url", "admins"})
	if f == nil {
		return nil, nil
	}
	s := &Slack{Command: DefaultSlackCommand}
	s.BotToken, _ = l.secret(f, "bot_token")
	s.SigningSecret, _ = l.secret(f, "signing_secret")
	s.AppToken, _ = l.secret(f, "app_token")
	if v, ok := l.str(f, "command"); ok {
		if !slackCommandPatern.MatchString(v) {
			l.errAt(f.vals["command"], "slack.command: expected a slash command such as /policywire, got %s", show(f.vals["command"], v))
		} else {
			s.Command = v
		}
	}
	if v, ok := l.str(f, "api_url"); ok && v != "" {
		if err := checkHTTPURL(v); err != nil {
			l.errAt(f.vals["api_url"], "slack.api_url: %v, got %s", err, show(f.vals["api_url"], v))
		} else {
			s.APIURL = v
		}
	}
	s.Admins = l.userIDs(f, "admins", slackUserPattern, "a Slack user ID such as U024BE7LH")
	return s, f
}

func (l *loader) decodeMatrix(n *yaml.Node) (*Matrix, *fields) {
	f := l.mapping(n, "matrix", "matrix.", []string{"homeserver", "user_id", "access_token", "access_token_file", "device_id", "password", "password_file", "pickle_key", "pickle_key_file", "command_prefix", "admins", "autojoin"})
	if f == nil {
		return nil, nil
	}
	m := &Matrix{CommandPrefix: DefaultMatrixPrefix, Autojoin: AutojoinConfigured}
	if v, ok := l.str(f, "homeserver"); ok && v != "" {
		if err := checkHTTPURL(v); err != nil {
			l.errAt(f.vals["homeserver"], "matrix.homeserver: %v, got %s", err, show(f.vals["homeserver"], v))
		} else {
			m.Homeserver = v
		}
	}
	if v, ok := l.str(f, "user_id"); ok && v != "" {
		if !matrixUserPattern.MatchString(v) {
			l.errAt(f.vals["user_id"], "matrix.user_id: expected a Matrix user ID such as @policywire:example.org, got %s", show(f.vals["user_id"], v))
		} else {
			m.UserID = v
		}
	}
	m.AccessToken, _ = l.secret(f, "access_token")
	m.Password, _ = l.secret(f, "password")
	if v, ok := l.str(f, "device_id"); ok && v != "" {
		if strings.ContainsAny(v, " \t\n/") || len(v) > 255 {
			l.errAt(f.vals["device_id"], "matrix.device_id: expected a device ID such as ABCDEFGHIJ, got %s", show(f.vals["device_id"], v))
		} else {
			m.DeviceID = v
		}
	}
	if v, ok := l.secret(f, "pickle_key"); ok && v != "" {
		if len(v.Value()) < MinPickleKeyLength {
			l.errAt(f.vals["pickle_key"], "matrix.pickle_key: must be at least %d characters (a random string, e.g. from openssl rand -hex 32)", MinPickleKeyLength)
		} else {
			m.PickleKey = v
		}
	}
	if v, ok := l.str(f, "command_prefix"); ok {
		if strings.TrimSpace(v) == "" || strings.ContainsAny(v, " \t\n") {
			l.errAt(f.vals["command_prefix"], "matrix.command_prefix: must be one word such as !pw, got %s", show(f.vals["command_prefix"], v))
		} else {
			m.CommandPrefix = v
		}
	}
	if v, ok := l.str(f, "autojoin"); ok {
		switch v {
		case AutojoinConfigured, AutojoinAny, AutojoinNone:
			m.Autojoin = v
		default:
			l.errAt(f.vals["autojoin"], "matrix.autojoin: must be configured, any or none, got %s", show(f.vals["autojoin"], v))
		}
	}
	m.Admins = l.userIDs(f, "admins", matrixUserPattern, "a Matrix user ID such as @alice:example.org")
	return m, f
}

// userIDs reads a list of user IDs, each matching pattern; a bad one is an
// error naming what was expected.
func (l *loader) userIDs(f *fields, key string, pattern *regexp.Regexp, expected string) []string {
	var out []string
	ids, nodes := l.strList(f, key)
	for i, id := range ids {
		if !pattern.MatchString(id) {
			l.errAt(nodes[i], "%s%s: expected %s, got %s", f.prefix, key, expected, show(nodes[i], id))
			continue
		}
		out = append(out, id)
	}
	return out
}

// show quotes a value for a message: as written in the file when it came
// from the environment, so the values of variables are never echoed.
func show(n *yaml.Node, v string) string {
	if n = deref(n); n != nil && n.Value != v {
		return strconv.Quote(n.Value)
	}
	return strconv.Quote(v)
}

// entryName names the i-th entry of a list in messages: by its id when it
// has a plausible one, else by its index.
func entryName(kind, list string, i int, item *yaml.Node) string {
	if n := deref(item); n != nil && n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if k, v := n.Content[j], deref(n.Content[j+1]); k.Value == "id" && v.Kind == yaml.ScalarNode && idPattern.MatchString(v.Value) {
				return fmt.Sprintf("%s %q", kind, v.Value)
			}
		}
	}
	return fmt.Sprintf("%s[%d]", list, i)
}

// unknownRef says that kind id does not exist, with a likely meant one or
// the list of those that do.
func unknownRef(kind, id string, known []string) string {
	msg := fmt.Sprintf("unknown %s %q", kind, id)
	if s := suggest(id, known); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	if len(known) == 0 {
		return msg + fmt.Sprintf(" (no %ss are defined)", kind)
	}
	return msg + fmt.Sprintf(" (known %ss: %s)", kind, strings.Join(known, ", "))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func firstNonNil(ns ...*yaml.Node) *yaml.Node {
	for _, n := range ns {
		if n != nil {
			return n
		}
	}
	return nil
}
