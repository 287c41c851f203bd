// Package console is a Sender that prints alerts to a terminal, the way a
// chat client would show them. It serves `run --dry-run` and the demo; it
// knows nothing of the store or the chat platforms.
package console

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/policywire/policywire"
)

// Sender writes alerts to W. It never fails, except when W does.
type Sender struct {
	W        io.Writer
	Location *time.Location
	Colour   bool
	// Width wraps the summary; 0 means 78.
	Width int
	// ChannelNames maps a target to the name shown after the alert.
	ChannelNames map[string]string

	mu sync.Mutex
	n  int
}

const (
	bold  = "\x1b[1m"
	dim   = "\x1b[2m"
	cyan  = "\x1b[36m"
	green = "\x1b[32m"
	reset = "\x1b[0m"
)

// Platform is "console".
func (s *Sender) Platform() string { return "console" }

func (s *Sender) style(code, text string) string {
	if !s.Colour {
		return text
	}
	return code + text + reset
}

// Render returns an alert as the terminal shows it.
func (s *Sender) Render(target string, a policywire.Alert) string {
	var b strings.Builder
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	b.WriteString(s.style(bold, "▌ "+Clean(a.Item.Title)) + "\n")
	b.WriteString("  " + s.style(cyan, a.Item.URL) + "\n")
	meta := []string{Clean(a.SourceName)}
	if d := a.Item.Date(); !d.IsZero() {
		meta = append(meta, d.In(loc).Format("2 Jan 2006 15:04 MST"))
	}
	if len(a.Topics) > 0 {
		meta = append(meta, strings.Join(a.Topics, ", "))
	}
	b.WriteString("  " + s.style(dim, strings.Join(meta, " · ")) + "\n")
	if sum := Clean(a.Item.Summary); sum != "" {
		for _, line := range wrap(sum, s.width()-2) {
			b.WriteString("  " + line + "\n")
		}
	}
	if len(a.Item.References) > 0 {
		b.WriteString("  " + s.style(dim, "References: "+Clean(strings.Join(a.Item.References, ", "))) + "\n")
	}
	if len(a.Also) > 0 {
		var parts []string
		for _, o := range a.Also {
			name := o.SourceName
			if name == "" {
				name = o.Source
			}
			parts = append(parts, Clean(name)+" <"+o.URL+">")
		}
		b.WriteString("  " + s.style(green, "Also reported by: "+strings.Join(parts, ", ")) + "\n")
	}
	if name := s.channelName(target, a.Channel); name != "" {
		b.WriteString("  " + s.style(dim, "→ "+name) + "\n")
	}
	return b.String()
}

func (s *Sender) channelName(target, channel string) string {
	if n, ok := s.ChannelNames[target]; ok {
		return n
	}
	return channel
}

func (s *Sender) width() int {
	if s.Width > 0 {
		return s.Width
	}
	return 78
}

// Send prints one alert.
func (s *Sender) Send(_ context.Context, target string, a policywire.Alert) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if _, err := io.WriteString(s.W, s.Render(target, a)+"\n"); err != nil {
		return "", fmt.Errorf("console: %w", err)
	}
	return fmt.Sprintf("console-%d", s.n), nil
}

// SendDigest prints a digest as one list.
func (s *Sender) SendDigest(_ context.Context, target string, d policywire.Digest) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	b.WriteString(s.style(bold, "▌ "+Clean(d.Title)) + "\n")
	for _, a := range d.Alerts {
		fmt.Fprintf(&b, "  • %s — %s, %s\n    %s\n", Clean(a.Item.Title), Clean(a.SourceName), a.Item.Date().In(loc).Format("2 Jan 2006"), a.Item.URL)
	}
	if name := s.channelName(target, d.Channel); name != "" {
		b.WriteString("  " + s.style(dim, "→ "+name) + "\n")
	}
	s.n++
	if _, err := io.WriteString(s.W, b.String()+"\n"); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return []string{fmt.Sprintf("console-%d", s.n)}, nil
}

// SendNotice prints a notice.
func (s *Sender) SendNotice(_ context.Context, target, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := fmt.Fprintf(s.W, "%s %s\n", s.style(bold, "notice → "+s.channelName(target, target)+":"), Clean(text)); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// Clean drops control, zero-width and bidi-override characters so feed text
// cannot move the cursor, recolour the terminal or reverse what follows.
func Clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case unicode.IsControl(r):
			return -1
		case r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0xFEFF:
			return -1
		}
		return r
	}, s)
}

func wrap(text string, width int) []string {
	var lines []string
	var line strings.Builder
	for _, w := range strings.Fields(text) {
		if line.Len() > 0 && len([]rune(line.String()))+1+len([]rune(w)) > width {
			lines = append(lines, line.String())
			line.Reset()
		}
		if line.Len() > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(w)
	}
	if line.Len() > 0 {
		lines = append(lines, line.String())
	}
	return lines
}
