package slack

import (
	"context"
	"errors"
	"strings"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
)

var _ bot.Editor = (*Sender)(nil)

// messageGoneCodes are chat.update's answers for a message that cannot be edited
// any more: deleted, or not the bot's own.
var messageGoneCodes = map[string]bool{"message_not_found": true, "cant_update_message": true}

// Edit rewrites the message of an alert in place with chat.update: the
// new blocks and fallback text, and the alert's metadata again so that the
// message is still recognised as the alert's. Slack notifies nobody of an
// update, and an update is idempotent (the message shows the last content
// sent), so version is not needed here.
func (s *Sender) Edit(ctx context.Context, channelID, ts string, a policywire.Alert, _ int) error {
	if err := validTarget(channelID); err != nil {
		return err
	}
	if strings.TrimSpace(ts) == "" {
		return &bot.PermanentError{Reason: "no message ts to edit", Err: errors.New("slack: edit without ts")}
	}
	blocks, fallback := RenderAlert(a, s.loc)
	m := marker{eventType: AlertEventType, payload: map[string]string{"alert_id": a.ID}}
	if err := s.reserve(ctx, channelID); err != nil {
		return err
	}
	_, _, _, err := s.client.UpdateMessageContext(ctx, channelID, ts, messageOptions(blocks, fallback, &m)...)
	if err == nil {
		return nil
	}
	var limited *slack.RateLimitedError
	if errors.As(err, &limited) {
		s.block(channelID, limited.RetryAfter)
	}
	var apiErr slack.SlackErrorResponse
	if errors.As(err, &apiErr) && messageGoneCodes[apiErr.Err] {
		return &bot.GoneError{Reason: "slack: " + apiErr.Err, Err: err}
	}
	return s.classify(channelID, "chat.update", err)
}

// threadOptions post an alert that follows up another as a reply in its
// thread, also shown in the channel when the channel asks for it.
func threadOptions(a policywire.Alert) []slack.MsgOption {
	if a.ThreadRoot == "" {
		return nil
	}
	opts := []slack.MsgOption{slack.MsgOptionTS(a.ThreadRoot)}
	if a.Broadcast {
		opts = append(opts, slack.MsgOptionBroadcast())
	}
	return opts
}

// findReply looks for a message carrying m among the replies of a thread
// (conversations.history does not list replies).
func (s *Sender) findReply(ctx context.Context, channel string, m marker) (string, bool, error) {
	params := &slack.GetConversationRepliesParameters{
		ChannelID: channel, Timestamp: m.thread, Limit: historyPageSize, IncludeAllMetadata: true,
	}
	for page := 0; page < historyMaxPages; page++ {
		msgs, more, next, err := s.client.GetConversationRepliesContext(ctx, params)
		if err != nil {
			return "", false, s.classify(channel, "conversations.replies", err)
		}
		for _, msg := range msgs {
			if msg.Timestamp != m.thread && m.matches(msg.Metadata) {
				return msg.Timestamp, true, nil
			}
		}
		if !more || next == "" {
			return "", false, nil
		}
		params.Cursor = next
	}
	return "", false, nil
}
