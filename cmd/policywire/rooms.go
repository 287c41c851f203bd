package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/bot/matrix"
	"github.com/policywire/policywire/store"
)

// parkedRoomsInterval is how often alerts parked for a Matrix room are
// looked at.
const parkedRoomsInterval = 10 * time.Second

// retryParkedRooms gives the alerts parked for a Matrix room another
// chance once the bot is in that room. A room the bot is not in refuses
// sends with M_FORBIDDEN, which parks them; that happens when the
// homeserver was down as the daemon started (so the rooms were not joined
// then) or when the invite comes later and the listener accepts it.
// Parked rows are otherwise retried only on a restart or a reload. While
// rows are parked it also tries to join their rooms. Each room is
// unparked when it is found joined for the first time, so alerts that
// fail for another reason are not retried in a loop.
func retryParkedRooms(ctx context.Context, b *bot.Bot, st *store.Store, mx *matrix.Sender, logger *slog.Logger) {
	tick := time.NewTicker(parkedRoomsInterval)
	defer tick.Stop()
	seenJoined := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		parked := map[string]string{} // room → channel id
		for _, ch := range b.Config().Channels {
			if ch.Matrix == "" {
				continue
			}
			rows, err := st.Outbox(ch.ID, true, 0)
			if err != nil {
				logger.Error("outbox", "channel", ch.ID, "err", err)
				continue
			}
			for _, r := range rows {
				if r.Parked {
					parked[ch.Matrix] = ch.ID
					break
				}
			}
		}
		if len(parked) == 0 {
			continue
		}
		rooms := make([]string, 0, len(parked))
		for room := range parked {
			rooms = append(rooms, room)
		}
		if err := mx.JoinRooms(ctx, rooms); err != nil {
			logger.Debug("matrix: rooms with parked alerts not joined yet", "err", err)
		}
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		joined, err := mx.Client().JoinedRooms(jctx)
		cancel()
		if err != nil {
			logger.Debug("matrix: joined rooms unknown", "err", err)
			continue
		}
		in := map[string]bool{}
		for _, r := range joined.JoinedRooms {
			in[r.String()] = true
		}
		woke := false
		for room, chID := range parked {
			if !in[room] {
				seenJoined[room] = false
				continue
			}
			if seenJoined[room] {
				continue
			}
			seenJoined[room] = true
			n, err := st.Unpark(chID)
			if err != nil {
				logger.Error("unpark", "channel", chID, "err", err)
				continue
			}
			if n > 0 {
				logger.Info("matrix: in the room now; parked alerts retried", "channel", chID, "room", room, "rows", n)
				woke = true
			}
		}
		if woke {
			b.Dispatcher.Wake()
		}
	}
}
