// Package packs holds the topic packs shipped in the binary: ready-made,
// multilingual topic queries (digital diplomacy, cyber diplomacy, tech
// envoys, AI governance, data flows, platform regulation, cyber
// sanctions, internet governance, digital connectivity) written in the
// query language, one query per language, ORed together. A config uses
// one with `topics: {x: {pack: NAME}}`. It knows nothing of sources,
// storage or chat.
package packs

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed packs.yaml
var packsYAML []byte

// Pack is one ready-made topic.
type Pack struct {
	Name        string
	Description string
	// Languages maps a language code to the query for text in it.
	Languages map[string]string
}

// Query is the pack's query: the queries of every language ORed.
func (p Pack) Query() string {
	langs := make([]string, 0, len(p.Languages))
	for l := range p.Languages {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	parts := make([]string, 0, len(langs))
	for _, l := range langs {
		parts = append(parts, "("+strings.TrimSpace(p.Languages[l])+")")
	}
	return strings.Join(parts, " OR ")
}

// All returns the packs in the order of the file.
func All() []Pack {
	var doc struct {
		Packs yaml.Node `yaml:"packs"`
	}
	if err := yaml.Unmarshal(packsYAML, &doc); err != nil {
		panic(fmt.Sprintf("packs: the embedded packs.yaml does not parse: %v", err))
	}
	var out []Pack
	n := doc.Packs
	for i := 0; i+1 < len(n.Content); i += 2 {
		var p struct {
			Description string            `yaml:"description"`
			Languages   map[string]string `yaml:"languages"`
		}
		if err := n.Content[i+1].Decode(&p); err != nil {
			panic(fmt.Sprintf("packs: pack %s: %v", n.Content[i].Value, err))
		}
		out = append(out, Pack{Name: n.Content[i].Value, Description: p.Description, Languages: p.Languages})
	}
	return out
}

// Queries maps each pack name to its query, for config.WithTopicPacks.
func Queries() map[string]string {
	m := map[string]string{}
	for _, p := range All() {
		m[p.Name] = p.Query()
	}
	return m
}
