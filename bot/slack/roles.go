package slack

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// roleCacheTTL is how long a member's role, as users.info told it, is
// trusted: short, so that a demoted admin soon loses the right, long
// enough that a burst of commands asks Slack once.
const roleCacheTTL = 5 * time.Minute

// roles decides who may change a channel's subscriptions: the workspace's
// admins and owners (Slack's own roles, from users.info) and the user ids
// configured as policywire admins. A lookup that fails refuses, and is
// not cached.
type roles struct {
	client *slack.Client // nil: only the configured admins
	admins []string
	log    *slog.Logger
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]roleEntry
}

type roleEntry struct {
	manager bool
	until   time.Time
}

func newRoles(client *slack.Client, admins []string, log *slog.Logger) *roles {
	return &roles{client: client, admins: admins, log: log, now: time.Now, cache: map[string]roleEntry{}}
}

func (r *roles) mayManage(ctx context.Context, userID string) bool {
	if slices.Contains(r.admins, userID) {
		return true
	}
	if r.client == nil || userID == "" {
		return false
	}
	now := r.now()
	r.mu.Lock()
	e, ok := r.cache[userID]
	r.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.manager
	}
	u, err := r.client.GetUserInfoContext(ctx, userID)
	if err != nil {
		r.log.Warn("slack: could not look up a member's role; subscription change refused", "user", userID, "err", err)
		return false
	}
	manager := u.IsAdmin || u.IsOwner || u.IsPrimaryOwner
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) > 10000 {
		clear(r.cache) // bound the memory; it refills on demand
	}
	r.cache[userID] = roleEntry{manager: manager, until: now.Add(roleCacheTTL)}
	return manager
}
