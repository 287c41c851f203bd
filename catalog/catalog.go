// Package catalog is the list of sources shipped in the binary: the
// publishers digital-diplomacy teams follow (EU institutions, governments,
// international organisations, civil society and industry), each as a
// ready source definition with its region, kind and the date its shape
// was last checked. It selects entries, writes a starter config from
// them, and verifies that live sources still parse. It knows nothing of
// the database, topics or chat.
package catalog

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
)

//go:embed catalog.yaml
var catalogYAML []byte

// Kinds of publisher.
const (
	KindEU            = "eu-institution"
	KindGovernment    = "government"
	KindInternational = "international"
	KindCivilSociety  = "civil-society"
)

// Entry is one publisher's source.
type Entry struct {
	Source  config.Source
	Region  string // eu, us, uk, fr, de, nl, ee, jp, ca, au, int
	Kind    string
	Checked string // YYYY-MM-DD
}

// catalogKeys are the keys of an entry that are not source keys.
var catalogKeys = []string{"region", "kind", "checked"}

// Entries returns the catalog in its order. The embedded file is read
// through the config loader, so an entry is exactly what a config holding
// it would give.
func Entries() ([]Entry, error) {
	return parse(catalogYAML)
}

func parse(data []byte) ([]Entry, error) {
	var doc struct {
		Entries []yaml.Node `yaml:"entries"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	var meta []Entry
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for i := range doc.Entries {
		n := &doc.Entries[i]
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("catalog: line %d: an entry must be a mapping", n.Line)
		}
		var e Entry
		src := &yaml.Node{Kind: yaml.MappingNode}
		for j := 0; j+1 < len(n.Content); j += 2 {
			k, v := n.Content[j], n.Content[j+1]
			switch k.Value {
			case "region":
				e.Region = v.Value
			case "kind":
				e.Kind = v.Value
			case "checked":
				e.Checked = v.Value
			default:
				src.Content = append(src.Content, k, v)
			}
		}
		if e.Region == "" || e.Kind == "" || e.Checked == "" {
			return nil, fmt.Errorf("catalog: line %d: an entry needs %s", n.Line, strings.Join(catalogKeys, ", "))
		}
		if _, err := time.Parse("2006-01-02", e.Checked); err != nil {
			return nil, fmt.Errorf("catalog: line %d: checked: %w", n.Line, err)
		}
		switch e.Kind {
		case KindEU, KindGovernment, KindInternational, KindCivilSociety:
		default:
			return nil, fmt.Errorf("catalog: line %d: unknown kind %q", n.Line, e.Kind)
		}
		meta = append(meta, e)
		seq.Content = append(seq.Content, src)
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "sources"}, seq}}
	text, err := yaml.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	cfg, err := config.Parse("catalog.yaml", text, config.WithLinkCheck(sources.CheckLinkTemplate))
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if len(cfg.Sources) != len(meta) {
		return nil, errors.New("catalog: some entries are not valid sources")
	}
	for i := range meta {
		meta[i].Source = cfg.Sources[i]
	}
	return meta, nil
}

// Filter keeps the entries of a region, kind and language ("" matches all).
func Filter(entries []Entry, region, kind, lang string) []Entry {
	var out []Entry
	for _, e := range entries {
		if region != "" && !strings.EqualFold(e.Region, region) ||
			kind != "" && !strings.EqualFold(e.Kind, kind) ||
			lang != "" && !strings.EqualFold(e.Source.Language, lang) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Find returns the entry with that id.
func Find(entries []Entry, id string) (Entry, bool) {
	for _, e := range entries {
		if e.Source.ID == id {
			return e, true
		}
	}
	return Entry{}, false
}

// Select resolves a list of names, each a region (eu), a kind
// (civil-society) or an entry id, to the entries they name, in catalog
// order and without repeats. An unknown name is an error listing the
// names that exist.
func Select(entries []Entry, names []string) ([]Entry, error) {
	want := map[string]bool{}
	for _, name := range names {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		found := false
		for _, e := range entries {
			if e.Region == name || e.Kind == name || e.Source.ID == name || name == "all" {
				want[e.Source.ID] = true
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("catalog: no region, kind or entry %q; regions: %s; kinds: %s", name,
				strings.Join(Regions(entries), ", "), strings.Join([]string{KindEU, KindGovernment, KindInternational, KindCivilSociety}, ", "))
		}
	}
	var out []Entry
	for _, e := range entries {
		if want[e.Source.ID] {
			out = append(out, e)
		}
	}
	return out, nil
}

// Regions lists the regions of the entries, sorted.
func Regions(entries []Entry) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range entries {
		if !seen[e.Region] {
			seen[e.Region] = true
			out = append(out, e.Region)
		}
	}
	sort.Strings(out)
	return out
}

// Check is the outcome of reading one source live.
type Check struct {
	Source config.Source
	Items  int
	Dated  int
	Newest time.Time
	// Problem says why the source no longer parses; "" when it does.
	Problem string
}

// OK reports whether the source still reads as it should.
func (c Check) OK() bool { return c.Problem == "" }

// Verify reads each source once through the fetcher and reports those
// that no longer give items with titles, links and dates: a failed fetch,
// a page served instead of the feed, a listing whose selectors find
// nothing, or items that lost their dates.
func Verify(ctx context.Context, f *sources.Fetcher, srcs []config.Source, loc *time.Location) []Check {
	out := make([]Check, 0, len(srcs))
	for _, src := range srcs {
		c := Check{Source: src}
		res, err := sources.Read(ctx, f, wiring.Source(src), sources.Validators{}, loc)
		switch {
		case err != nil:
			c.Problem = strings.TrimPrefix(err.Error(), "sources: ")
			if k := sources.KindOf(err); k != "" {
				c.Problem = string(k) + ": " + c.Problem
			}
		default:
			c.Items = len(res.Items)
			for _, it := range res.Items {
				if d := it.Date(); !d.IsZero() {
					c.Dated++
					if d.After(c.Newest) {
						c.Newest = d
					}
				}
			}
			switch {
			case c.Items == 0:
				c.Problem = "no items: the feed is empty or the page no longer matches the selectors"
			case c.Dated*2 < c.Items:
				c.Problem = fmt.Sprintf("only %d of %d items have a date: the date selector or format no longer matches", c.Dated, c.Items)
			}
		}
		out = append(out, c)
	}
	return out
}
