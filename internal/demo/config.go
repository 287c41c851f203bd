package demo

import (
	"fmt"
	"time"

	"github.com/policywire/policywire/config"
)

// The demo's topics, as an admin would write them in config.yaml.
const (
	topicDigitalDiplomacy = `"digital diplomacy" OR "cyber diplomacy" OR "tech ambassador" OR "diplomatie numérique"`
	topicCyber            = `cyber* AND (security OR resilience OR attack OR attacks OR ransomware OR sécurité)`
)

// The demo's two chat channels: one shown as a Slack channel, one as a
// Matrix room. Both print to the terminal.
const (
	euDeskID      = "eu-desk"
	euDeskTarget  = "C0DEMOEUDESK"
	euDeskName    = "#eu-desk (Slack)"
	roomID        = "diplomacy-room"
	roomTarget    = "!diplomacy:example.org"
	roomName      = "!diplomacy:example.org (Matrix)"
	demoTimezone  = "Europe/Brussels"
	demoUserAgent = "policywire-demo (+https://github.com/policywire/policywire)"
)

// demoConfig is the configuration the demo runs with: the bundled sources
// at baseURL (a loopback server, hence allow_private), two topics, two
// channels, and no backfill so every recent item may alert.
func demoConfig(baseURL, dataDir string) (*config.Config, error) {
	loc, err := time.LoadLocation(demoTimezone)
	if err != nil {
		return nil, fmt.Errorf("demo: time zone %s: %w", demoTimezone, err)
	}
	cfg := &config.Config{
		Path:     "(demo)",
		DataDir:  dataDir,
		Timezone: demoTimezone,
		Location: loc,
		Log:      config.Log{Level: "error", Format: "text"},
		HTTP:     config.HTTP{Listen: ""},
		Fetch: config.Fetch{
			UserAgent:    demoUserAgent,
			Timeout:      10 * time.Second,
			MaxBytes:     config.DefaultMaxBytes,
			Concurrency:  4,
			HostDelay:    0, // every sample is on the same loopback host
			AllowPrivate: true,
		},
		Defaults: config.Defaults{Schedule: config.DefaultSchedule, Backfill: 0},
		Summary: config.Summary{
			MaxChars:     config.DefaultMaxChars,
			FetchArticle: "never", // article pages are on the real sites: no network here
			LLM:          config.LLM{Timeout: config.DefaultLLMTimeout},
		},
		Topics: []config.Topic{
			{ID: "digital-diplomacy", Query: topicDigitalDiplomacy},
			{ID: "cyber", Query: topicCyber},
		},
		Channels: []config.Channel{
			{
				ID: euDeskID, Slack: euDeskTarget,
				Topics:  []string{"digital-diplomacy", "cyber"},
				Sources: []string{"council-press", "eeas-press"},
			},
			{
				ID: roomID, Matrix: roomTarget,
				Topics: []string{"digital-diplomacy"},
			},
		},
	}
	for _, s := range samples() {
		cfg.Sources = append(cfg.Sources, config.Source{
			ID:       s.ID,
			Name:     s.Name,
			Type:     s.Type,
			URL:      baseURL + s.Path,
			Schedule: config.DefaultSchedule,
			Backfill: 0,
			HTML:     s.HTML,
		})
	}
	return cfg, nil
}

// channelNames are the names the terminal shows for the channel targets.
func channelNames() map[string]string {
	return map[string]string{euDeskTarget: euDeskName, roomTarget: roomName}
}
