package config_test

import (
	"testing"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/topics/packs"
)

// TestTopicPacksExtendedByAQuery: a topic names a pack, and its own query
// adds to what the pack matches (OR).
func TestTopicPacksExtendedByAQuery(t *testing.T) {
	cfg, err := config.Parse("c.yaml", []byte(`topics:
  diplomacy:
    pack: digital-diplomacy
  diplomacy-plus:
    pack: digital-diplomacy
    query: '"science diplomacy"'
sources:
  - id: s
    url: https://example.org/feed
`), config.WithQueryCheck(queryCheck), config.WithTopicPacks(packs.Queries()))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := cfg.TopicByID("diplomacy")
	plus, _ := cfg.TopicByID("diplomacy-plus")
	if plain.Pack != "digital-diplomacy" || plain.Query != packs.Queries()["digital-diplomacy"] {
		t.Errorf("pack-only topic %+v", plain)
	}
	match := func(topic config.Topic, title string) bool {
		q, err := query.Parse(topic.Query)
		if err != nil {
			t.Fatal(err)
		}
		return q.MatchItem(policywire.Item{Title: title})
	}
	pack := "La Commission présente sa stratégie de diplomatie numérique"
	extra := "Science diplomacy week opens in Brussels"
	if !match(plain, pack) || match(plain, extra) {
		t.Errorf("the pack alone should match the French digital diplomacy item only")
	}
	if !match(plus, pack) || !match(plus, extra) {
		t.Errorf("pack + query should match what either matches")
	}
	if match(plus, "Fisheries Council agrees catch limits") {
		t.Errorf("pack + query matched an unrelated item")
	}
}
