package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire/bot"
)

// actionPrefix starts the action_id of every policywire button.
const actionPrefix = "pw_"

// actionsBlock renders an answer's buttons.
func actionsBlock(actions []bot.Action) slack.Block {
	elems := make([]slack.BlockElement, 0, len(actions))
	for _, a := range actions {
		b := slack.NewButtonBlockElement(actionPrefix+a.ID, a.Value, slack.NewTextBlockObject(slack.PlainTextType, a.Label, false, false))
		elems = append(elems, b)
	}
	return slack.NewActionBlock("pw_actions", elems...)
}

// InteractionHandler serves POST /slack/interactions: the buttons under
// search answers. A request is verified like a slash command before
// anything else; the work is done in the background and the answer posted
// to the interaction's response_url, which must pass the same check as a
// command's.
type InteractionHandler struct {
	cmd *CommandHandler
}

// NewInteractionHandler returns the handler of Slack's interaction
// requests; it shares the options (and the clock) of the slash commands.
func NewInteractionHandler(o CommandOptions) *InteractionHandler {
	h := NewCommandHandler(o)
	return &InteractionHandler{cmd: h}
}

// Close waits for the interactions still being answered.
func (h *InteractionHandler) Close() error { return h.cmd.Close() }

func (h *InteractionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := h.cmd.readSigned(w, r, "interaction")
	if !ok {
		return
	}
	run := h.cmd.run
	form, err := url.ParseQuery(string(body))
	var cb slack.InteractionCallback
	if err == nil {
		err = json.Unmarshal([]byte(form.Get("payload")), &cb)
	}
	if err != nil {
		http.Error(w, "malformed interaction payload", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	run.pressButtons(cb)
}

// pressButtons answers the policywire buttons of an interaction, over
// HTTP or Socket Mode; other interactions are ignored.
func (run *commandRunner) pressButtons(cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, act := range cb.ActionCallback.BlockActions {
		if act.ActionID == alertMenuActionID {
			run.chooseFromAlertMenu(cb, act.SelectedOption.Value)
			continue
		}
		id, ok := strings.CutPrefix(act.ActionID, actionPrefix)
		if !ok || (id != bot.ActionShare && id != bot.ActionMore) {
			continue
		}
		search, err := bot.ParseSearchAction(act.Value)
		if err != nil {
			run.log.Warn("slack: a button with a value policywire did not write", "action", act.ActionID)
			continue
		}
		run.press(cb, id, search)
	}
}

// press answers one button: Share posts the page to the channel for
// everyone, More replaces the asker's answer with the next page.
func (run *commandRunner) press(cb slack.InteractionCallback, action string, search bot.SearchAction) {
	u, err := url.Parse(cb.ResponseURL)
	if err != nil || !run.allow(u) {
		run.log.Warn("slack: interaction with a response_url not on Slack or slack.api_url; not answered", "channel", cb.Channel.ID, "user", cb.User.ID)
		return
	}
	run.spawn(func() {
		ctx, cancel := contextWithTimeout(run)
		defer cancel()
		a, err := run.commands.SearchPage(ctx, search.Query, search.Page)
		if err != nil {
			run.log.Error("slack: search for a button failed", "err", err)
			a = bot.Answer{Text: "Sorry, that failed: " + shortError(err)}
		}
		replace := action == bot.ActionMore
		if action == bot.ActionShare {
			a.Public, a.Actions = true, nil
			a.Text = "Shared from a search: " + a.Text
		}
		resp := NewCommandResponse(a)
		resp.ReplaceOriginal = &replace
		if err := postResponse(ctx, run.httpClient, cb.ResponseURL, resp); err != nil && !errors.Is(err, ctx.Err()) {
			run.log.Error("slack: button answer lost", "err", err)
		}
	})
}

func contextWithTimeout(run *commandRunner) (context.Context, context.CancelFunc) {
	return context.WithTimeout(run.ctx, run.timeout)
}
