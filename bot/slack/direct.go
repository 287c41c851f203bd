package slack

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire/bot"
)

// goneCodes are conversations.open answers that mean the person cannot be
// written to: gone from the workspace, deactivated, or not letting the bot
// write. Their direct messages are parked, not retried.
var goneCodes = map[string]bool{
	"user_not_found":          true,
	"user_disabled":           true,
	"user_not_visible":        true,
	"cannot_dm_bot":           true,
	"not_allowed":             true,
	"users_list_not_supplied": true,
}

// isUserID reports whether a target is a person (U… or W…) rather than a
// conversation (C…, G…, D…).
func isUserID(target string) bool {
	return len(target) > 1 && (target[0] == 'U' || target[0] == 'W')
}

// directChannel turns a person's user id into their direct message
// conversation with the bot (conversations.open, remembered for the
// process); any other target is returned as it is.
func (s *Sender) directChannel(ctx context.Context, target string) (string, error) {
	if !isUserID(target) {
		return target, nil
	}
	if id, ok := s.ims.Load(target); ok {
		return id.(string), nil
	}
	if err := s.reserve(ctx, target); err != nil {
		return "", err
	}
	ch, _, _, err := s.client.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{target}})
	if err != nil {
		var apiErr slack.SlackErrorResponse
		if errors.As(err, &apiErr) && goneCodes[apiErr.Err] {
			return "", &bot.PermanentError{Reason: "the person left the workspace or cannot be written to (" + apiErr.Err + ")", Err: fmt.Errorf("slack: conversations.open with %s: %w", target, err)}
		}
		return "", s.classify(target, "conversations.open", err)
	}
	if ch == nil || ch.ID == "" {
		return "", fmt.Errorf("slack: conversations.open with %s: no channel in the answer", target)
	}
	s.ims.Store(target, ch.ID)
	return ch.ID, nil
}
