package matrix

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
)

// Matrix refuses an event over 65,536 bytes of JSON, envelope included
// (room_id and sender of up to 255 bytes each, event_id, hashes and
// signatures): the content must leave room for it.
const maxEventContent = 65536 - 4096

func TestEveryRendererStaysWithinTheEventSizeLimit(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 65536))
	pieces := []string{"&", "<", ">", "\"", "\\", "😀", "\u0001", "\u202e", "é", " ", "\n", "a", "@room", "<script>"}
	text := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	}
	link := func() string {
		return "https://www.consilium.europa.eu/en/press/?q=" + strings.Repeat("a&b=\"<>", r.IntN(400))
	}
	sizes := []int{10, 300, 3000, 20000}
	size := func() int { return sizes[r.IntN(len(sizes))] }
	alert := func(i int) policywire.Alert {
		a := policywire.Alert{ID: fmt.Sprintf("a%d", i), SourceName: text(size()), Topics: []string{text(size()), text(size())},
			Item: policywire.Item{Source: "src", Title: text(size()), URL: link(), Summary: text(size()),
				References: []string{text(size()), text(size())}, Published: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}}
		for range r.IntN(30) {
			a.Also = append(a.Also, policywire.AlsoReported{SourceName: text(size()), Title: text(size()), URL: link()})
		}
		return a
	}
	rd := newRenderer(time.UTC)
	check := func(what string, c content) {
		t.Helper()
		if n := jsonSize(c); n > maxEventContent {
			t.Errorf("%s: content of %d bytes, at most %d leave room for the event envelope", what, n, maxEventContent)
		}
	}
	for i := range 40 {
		check(fmt.Sprintf("alert %d", i), rd.alert(alert(i)))
	}
	for _, n := range []int{1, 30, 150} {
		d := policywire.Digest{ID: "d", Channel: "c", Title: text(5000)}
		for i := range n {
			d.Alerts = append(d.Alerts, alert(i))
		}
		for p, c := range rd.digest(d) {
			check(fmt.Sprintf("digest of %d, part %d", n, p+1), c)
		}
	}
	for _, n := range []int{0, 5000, 200000} {
		check(fmt.Sprintf("notice of %d", n), rd.notice(text(n)))
	}
	for n := range 30 {
		a := bot.Answer{Text: text(n * 500)}
		for range r.IntN(80) {
			a.Entries = append(a.Entries, bot.Entry{Title: text(size()), URL: link(), Meta: text(size()), Snippet: "«" + text(size()) + "»"})
		}
		for range r.IntN(80) {
			a.Lines = append(a.Lines, text(size()))
		}
		check(fmt.Sprintf("answer %d", n), rd.answer(a))
	}
}
