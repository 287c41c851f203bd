package matrix

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

// edit sends an m.replace of original with the new text, as Element does.
func edit(t *testing.T, e *listenerEnv, original id.EventID, text string) id.EventID {
	t.Helper()
	return sendContent(t, e.reader, e.room, map[string]any{
		"msgtype": "m.text", "body": "* " + text,
		"m.new_content": map[string]any{"msgtype": "m.text", "body": text},
		"m.relates_to":  map[string]any{"rel_type": "m.replace", "event_id": original.String()},
	})
}

// TestListenerAnswersAnEditedCommandOnce: a command fixed by editing it is
// answered once more, for its new text, as a reply to the command; an
// edit to the same text again, or one that is no command, is not; a
// message edited into a command is answered.
func TestListenerAnswersAnEditedCommandOnce(t *testing.T) {
	e := newListenerEnv(t, true)
	e.startListener(t, e.sender)
	e.waitJoined(t, e.room)

	typo := send(t, e.reader, e.room, "!pw serch digital diplomacy")
	if b := body(t, e.waitReply(t, typo)); !strings.Contains(b, `Unknown command "serch"`) {
		t.Fatalf("the typo answered %q", b)
	}
	fixed := edit(t, e, typo, "!pw search digital diplomacy")
	again := edit(t, e, typo, "!pw search digital diplomacy")
	notACommand := edit(t, e, typo, "never mind")
	plain := send(t, e.reader, e.room, "what was that command again")
	edit(t, e, plain, "!pw sources")
	last := send(t, e.reader, e.room, "!pw help")
	e.waitReply(t, last)

	answers := map[string][]string{}
	for _, ev := range e.botMessages(t) {
		if r := replyTo(t, ev); r != "" {
			answers[r] = append(answers[r], body(t, ev))
		}
	}
	got := answers[typo.String()]
	if len(got) != 2 || !strings.Contains(got[1], "Council approves conclusions on EU digital diplomacy") {
		t.Errorf("answers to the fixed command: %q, want the typo's and then the search's", got)
	}
	for _, ev := range []id.EventID{fixed, again, notACommand} {
		if n := len(answers[ev.String()]); n != 0 {
			t.Errorf("an edit got %d answers of its own; answers reply to the command", n)
		}
	}
	if got := answers[plain.String()]; len(got) != 1 || !strings.Contains(got[0], "2 sources:") {
		t.Errorf("answers to a message edited into a command: %q, want one sources answer", got)
	}
}
