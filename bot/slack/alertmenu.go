package slack

import (
	"errors"
	"net/url"
	"strings"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
)

// The alert overflow menu: "Watch similar" for whoever clicks it, "Mute
// this source here" for the channel's admins (checked on the click, since
// everyone sees the same message). An option's value is the command it
// runs, so a click does exactly what typing that command would.
const (
	alertMenuActionID = actionPrefix + "alert"
	menuWatchPrefix   = "watch:"
	menuMutePrefix    = "mute:"
	// maxOptionValue is Slack's limit on an overflow option's value.
	maxOptionValue = 150
)

// alertMenu is the overflow menu of an alert, or nil when it would not
// have both options (Slack takes 2 to 5 in an overflow menu).
func alertMenu(it policywire.Item) *slack.Accessory {
	var opts []*slack.OptionBlockObject
	if q := fitTerms(bot.SimilarQuery(displayTitle(it)), maxOptionValue-len(menuWatchPrefix)); q != "" {
		opts = append(opts, slack.NewOptionBlockObject(menuWatchPrefix+q, slack.NewTextBlockObject(slack.PlainTextType, "Watch similar", false, false), nil))
	}
	if src := it.Source; src != "" && len(menuMutePrefix+src) <= maxOptionValue {
		opts = append(opts, slack.NewOptionBlockObject(menuMutePrefix+src, slack.NewTextBlockObject(slack.PlainTextType, "Mute this source here", false, false), nil))
	}
	if len(opts) < 2 {
		return nil
	}
	return slack.NewAccessory(slack.NewOverflowBlockElement(alertMenuActionID, opts...))
}

// fitTerms drops trailing words of q until it is at most max bytes.
func fitTerms(q string, max int) string {
	for len(q) > max {
		i := strings.LastIndexByte(q, ' ')
		if i < 0 {
			return ""
		}
		q = q[:i]
	}
	return q
}

// menuCommand turns a chosen option back into the command it stands for.
func menuCommand(value string) (string, bool) {
	if q, ok := strings.CutPrefix(value, menuWatchPrefix); ok && q != "" {
		return "watch " + q, true
	}
	if src, ok := strings.CutPrefix(value, menuMutePrefix); ok && src != "" {
		return "mute " + src, true
	}
	return "", false
}

// chooseFromAlertMenu runs the command of a chosen option for the person
// who chose it, in the alert's channel, and answers through the
// interaction's response_url without touching the alert: ephemeral for
// the watch and for a refusal, for the channel when a source is muted.
func (run *commandRunner) chooseFromAlertMenu(cb slack.InteractionCallback, value string) {
	text, ok := menuCommand(value)
	if !ok {
		run.log.Warn("slack: an alert menu option policywire did not write", "channel", cb.Channel.ID)
		return
	}
	u, err := url.Parse(cb.ResponseURL)
	if err != nil || !run.allow(u) {
		run.log.Warn("slack: interaction with a response_url not on Slack or slack.api_url; not answered", "channel", cb.Channel.ID, "user", cb.User.ID)
		return
	}
	req := bot.CommandRequest{Platform: "slack", Target: cb.Channel.ID, User: cb.User.ID, Text: text}
	run.spawn(func() {
		if bot.ManagesSubscriptions(req.Text) {
			ctx, cancel := contextWithTimeout(run)
			req.MayManage = run.roles.mayManage(ctx, req.User)
			cancel()
		}
		resp := run.handle(req)
		keep := false
		resp.ReplaceOriginal = &keep
		ctx, cancel := contextWithTimeout(run)
		defer cancel()
		if err := postResponse(ctx, run.httpClient, cb.ResponseURL, resp); err != nil && !errors.Is(err, ctx.Err()) {
			run.log.Error("slack: alert menu answer lost", "err", err)
		}
	})
}
