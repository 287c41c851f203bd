package bot

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/store"
)

// SourceReport is one row of `policywire sources`.
type SourceReport struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Status      string    `json:"status"` // ok, failing, waiting (never polled), backoff
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	ErrorKind   string    `json:"error_kind,omitempty"`
	Warning     string    `json:"warning,omitempty"` // of the last successful read

	Failures int       `json:"consecutive_failures"`
	Items    int       `json:"items"`
	NextPoll time.Time `json:"next_poll,omitzero"`
}

// ChannelReport is the outbox state of one channel.
type ChannelReport struct {
	ID      string `json:"id"`
	Pending int    `json:"pending"`
	Parked  int    `json:"parked"`
	Reason  string `json:"reason,omitempty"`
}

// HealthReport is what `policywire sources` shows.
type HealthReport struct {
	Sources  []SourceReport  `json:"sources"`
	Channels []ChannelReport `json:"channels"`
}

// Health reads the health of every configured source and the outbox of
// every channel; a nil store is a bot that never ran.
func Health(cfg *config.Config, st *store.Store, now time.Time) (HealthReport, error) {
	var rep HealthReport
	states := map[string]store.SourceState{}
	if st != nil {
		var err error
		if states, err = st.SourceStates(); err != nil {
			return rep, fmt.Errorf("bot: health: %w", err)
		}
	}
	for _, src := range cfg.Sources {
		s := states[src.ID]
		r := SourceReport{ID: src.ID, Name: sourceName(src), LastSuccess: s.LastSuccess, LastError: s.LastError,
			ErrorKind: s.LastErrorKind, Failures: s.ConsecutiveFailures, Items: s.Items, Warning: s.LastWarning}
		switch {
		case s.Polls == 0 && s.LastPoll.IsZero():
			r.Status = "waiting"
		case s.ConsecutiveFailures > 0:
			r.Status = "failing"
		default:
			r.Status = "ok"
		}
		r.NextPoll = nextPoll(src, s, now, cfg.Location)
		rep.Sources = append(rep.Sources, r)
	}
	for _, ch := range cfg.Channels {
		var rows []store.OutboxRow
		if st != nil {
			var err error
			if rows, err = st.Outbox(ch.ID, true, 0); err != nil {
				return rep, fmt.Errorf("bot: health: %w", err)
			}
		}
		c := ChannelReport{ID: ch.ID}
		reasons := map[string]bool{}
		for _, r := range rows {
			if r.Parked {
				c.Parked++
				reasons[r.ParkReason] = true
			} else {
				c.Pending++
				if r.LastError != "" {
					reasons[r.LastError] = true
				}
			}
		}
		for r := range reasons {
			c.Reason += r + "; "
		}
		c.Reason = strings.TrimSuffix(c.Reason, "; ")
		rep.Channels = append(rep.Channels, c)
	}
	return rep, nil
}

func nextPoll(src config.Source, s store.SourceState, now time.Time, loc *time.Location) time.Time {
	sched, err := parseSchedule(src.Schedule, loc)
	if err != nil {
		return time.Time{}
	}
	from := now
	if s.NextAllowed.After(from) {
		from = s.NextAllowed
	}
	return sched.Next(from)
}

// WriteHealth prints the report as two tables.
func WriteHealth(w io.Writer, rep HealthReport, loc *time.Location) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATUS\tLAST SUCCESS\tITEMS\tNEXT POLL\tLAST ERROR")
	sort.SliceStable(rep.Sources, func(i, j int) bool { return rep.Sources[i].ID < rep.Sources[j].ID })
	for _, s := range rep.Sources {
		status := s.Status
		if s.Failures > 0 {
			status = fmt.Sprintf("failing ×%d", s.Failures)
		}
		errText := s.LastError
		if errText == "" && s.Warning != "" {
			errText = "warning: " + s.Warning
		}
		if r := []rune(errText); len(r) > 100 {
			errText = string(r[:99]) + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", s.ID, status, fmtTime(s.LastSuccess, loc), s.Items, fmtTime(s.NextPoll, loc), errText)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bot: %w", err)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tPENDING\tPARKED\tREASON")
	for _, c := range rep.Channels {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", c.ID, c.Pending, c.Parked, c.Reason)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bot: %w", err)
	}
	return nil
}

// DateLayout is the one way every message and answer writes a date.
const DateLayout = "2 Jan 2006 15:04 MST"

func fmtTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(loc).Format(DateLayout)
}
