package bench

import (
	"fmt"
	"time"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/summary"
)

// benchTopics are the 20 topics every item is matched against, written
// as a policy team would, across English, French and German.
var benchTopics = []config.Topic{
	{ID: "digital-diplomacy", Query: `"digital diplomacy" OR "diplomatie numérique" OR "digitale Diplomatie" OR "tech ambassadors" OR Technologiebotschafter OR "ambassadeurs pour le numérique"`},
	{ID: "cyber", Query: `cyber* AND (security OR resilience OR cables OR infrastructure OR sécurité OR câbles OR Unterseekabeln OR Infrastrukturen OR cybersicherheit OR cyberresilienz)`},
	{ID: "ai", Query: `"artificial intelligence" OR "intelligence artificielle" OR "künstliche Intelligenz" OR "AI Act"`},
	{ID: "raw-materials", Query: `"raw materials" OR "matières premières" OR Rohstoffe`},
	{ID: "chips", Query: `semiconductor* OR "semi-conducteurs" OR Halbleiter`},
	{ID: "fisheries", Query: `fishing OR pêche OR Fangmöglichkeiten`},
	{ID: "agriculture", Query: `agricultural OR agricoles OR Agrarmärkte`},
	{ID: "budget", Query: `title:budget OR title:Haushalt`},
	{ID: "migration", Query: `migration OR asylum OR asile OR Asyl`},
	{ID: "humanitarian", Query: `humanitar* OR humanitaire`},
	{ID: "energy", Query: `energy OR énergie OR Energiepreise OR hydrogen OR hydrogène OR Wasserstoffnetze`},
	{ID: "trade", Query: `Mercosur OR (trade AND -"trade union")`},
	{ID: "sanctions", Query: `sanctions OR Sanktionen`},
	{ID: "rule-of-law", Query: `"rule of law" OR "État de droit" OR Rechtsstaatlichkeit`},
	{ID: "enlargement", Query: `enlargement OR élargissement OR Erweiterung OR "Western Balkans"`},
	{ID: "climate", Query: `"climate neutrality" OR "neutralité climatique" OR Klimaneutralität`},
	{ID: "data-protection", Query: `"data protection" OR "protection des données" OR Datenschutz`},
	{ID: "space", Query: `"space surveillance" OR "surveillance de l'espace" OR Weltraumüberwachung`},
	{ID: "health", Query: `"public health" OR "santé publique" OR "öffentlichen Gesundheit"`},
	{ID: "platforms", Query: `"online platforms" OR "plateformes en ligne" OR "Online-Plattformen"`},
}

// benchChannels is how many Slack channels receive alerts; channel k
// follows topics 2k and 2k+1, so every topic is matched against every item.
const benchChannels = 10

func slackChannelID(k int) string { return fmt.Sprintf("C0BENCH%02d", k) }

// benchConfig is the configuration of a pipeline run: n sources on the
// fixture server at base, fetched conc at a time.
func benchConfig(n, conc int, base, dataDir string) *config.Config {
	cfg := &config.Config{
		DataDir:  dataDir,
		Timezone: "UTC",
		Location: time.UTC,
		Fetch: config.Fetch{
			UserAgent:   sources.DefaultUserAgent,
			Timeout:     60 * time.Second,
			MaxBytes:    10 << 20,
			Concurrency: conc,
			// Every synthetic source is on the same loopback host: the
			// per-host spacing would serialize them all, so it is off.
			HostDelay:    0,
			AllowPrivate: true,
		},
		Defaults: config.Defaults{Schedule: "@every 15m", Backfill: 72 * time.Hour},
		Summary:  config.Summary{MaxChars: 400, FetchArticle: summary.FetchAuto},
		Topics:   benchTopics,
		Slack:    &config.Slack{BotToken: "xoxb-bench", APIURL: base + "/api/", Command: "/policywire"},
	}
	for k := range benchChannels {
		cfg.Channels = append(cfg.Channels, config.Channel{
			ID:     fmt.Sprintf("desk-%02d", k),
			Slack:  slackChannelID(k),
			Topics: []string{benchTopics[2*k].ID, benchTopics[2*k+1].ID},
		})
	}
	for i := range n {
		cfg.Sources = append(cfg.Sources, config.Source{
			ID:       sourceID(i),
			Name:     "Bench source " + sourceID(i),
			Type:     config.TypeFeed,
			URL:      FeedURL(base, i),
			Schedule: cfg.Defaults.Schedule,
			Backfill: cfg.Defaults.Backfill,
		})
	}
	return cfg
}
