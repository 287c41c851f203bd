package testenv

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

func TestStartDendriteRegisterAndMessage(t *testing.T) {
	start := time.Now()
	hs := StartDendrite(t)
	t.Logf("dendrite ready in %s at %s", time.Since(start).Round(time.Millisecond), hs.URL)

	if !strings.HasPrefix(hs.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q, want a loopback address", hs.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	aliceID, aliceToken := hs.Register(t, "alice", false)
	if aliceID != "@alice:"+hs.ServerName {
		t.Errorf("user ID = %q, want @alice:%s", aliceID, hs.ServerName)
	}
	alice := hs.Client(t, aliceID, aliceToken)
	who, err := alice.Whoami(ctx)
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	if who.UserID.String() != aliceID {
		t.Errorf("whoami = %s, want %s", who.UserID, aliceID)
	}

	bobID, bobToken := hs.Register(t, "bob", true)
	bob := hs.Client(t, bobID, bobToken)

	room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{id.UserID(bobID)}})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	if _, err := bob.JoinRoomByID(ctx, room.RoomID); err != nil {
		t.Fatalf("bob joins: %v", err)
	}
	sent, err := alice.SendText(ctx, room.RoomID, "hello bob")
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	// dendrite files a sent event asynchronously: /messages shows it a
	// moment later.
	var got string
	for deadline := time.Now().Add(10 * time.Second); got == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		msgs, err := bob.Messages(ctx, room.RoomID, "", "", mautrix.DirectionBackward, nil, 20)
		if err != nil {
			t.Fatalf("messages: %v", err)
		}
		for _, ev := range msgs.Chunk {
			if ev.ID == sent.EventID {
				_ = ev.Content.ParseRaw(event.EventMessage)
				got = ev.Content.AsMessage().Body
			}
		}
	}
	if got != "hello bob" {
		t.Errorf("bob read %q for the sent event, want %q", got, "hello bob")
	}

	// Registration is closed except through the shared secret.
	anon, err := mautrix.NewClient(hs.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	anon.DefaultHTTPRetries = 0
	_, _, err = anon.Register(ctx, &mautrix.ReqRegister[any]{
		Username: "mallory", Password: "pw-123456789",
		Auth: map[string]string{"type": "m.login.dummy"},
	})
	if !errors.Is(err, mautrix.MForbidden) {
		t.Errorf("open registration: err = %v, want M_FORBIDDEN", err)
	}
}

func TestStartDendriteRateLimit(t *testing.T) {
	hs := StartDendrite(t, WithRateLimit(1, 60_000))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	userID, token := hs.Register(t, "carol", false)
	carol := hs.Client(t, userID, token)
	if _, err := carol.Whoami(ctx); err != nil {
		t.Fatalf("first whoami: %v", err)
	}
	_, err := carol.Whoami(ctx)
	if !errors.Is(err, mautrix.MLimitExceeded) {
		t.Fatalf("second whoami within the cool-off: err = %v, want M_LIMIT_EXCEEDED", err)
	}
}

func TestStopIsIdempotent(t *testing.T) {
	hs := StartDendrite(t)
	if err := hs.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := hs.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(hs.Dir, "dendrite.log")); err != nil {
		t.Errorf("log file after stop: %v", err)
	}
	if resp, err := http.Get(hs.URL + "/_matrix/client/versions"); err == nil {
		resp.Body.Close()
		t.Errorf("homeserver still answers after Stop: HTTP %d", resp.StatusCode)
	}
}

func TestLookupBinariesMissingTellsToRunMakeTest(t *testing.T) {
	empty := t.TempDir()
	notFound := func(string) (string, error) { return "", errors.New("not in PATH") }
	_, err := lookupBinaries([]string{"dendrite", "generate-keys"}, empty, notFound, filepath.Join(empty, "gobin"))
	if err == nil {
		t.Fatal("lookup in empty dirs succeeded")
	}
	for _, want := range []string{"make test", "dendrite, generate-keys", DendriteBinEnv} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestLookupBinariesOrder(t *testing.T) {
	envDir, pathDir, goBin := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(dir, name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inEnv := write(envDir, "dendrite")
	inPath := write(pathDir, "generate-keys")
	write(goBin, "generate-keys")
	inGoBin := write(goBin, "generate-config")
	// Not executable: must be passed over.
	if err := os.WriteFile(filepath.Join(envDir, "generate-config"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	lookPath := func(name string) (string, error) {
		p := filepath.Join(pathDir, name)
		if _, err := os.Stat(p); err != nil {
			return "", err
		}
		return p, nil
	}
	got, err := lookupBinaries([]string{"dendrite", "generate-keys", "generate-config"}, envDir, lookPath, goBin)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"dendrite": inEnv, "generate-keys": inPath, "generate-config": inGoBin}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestLoginGivesANewDevice(t *testing.T) {
	hs := StartDendrite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	userID, first := hs.Register(t, "dave", false)
	second := hs.Login(t, "dave")
	if second == "" || second == first {
		t.Fatalf("Login token %q, want a new token", second)
	}
	a, err := hs.Client(t, userID, first).Whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hs.Client(t, userID, second).Whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.UserID != b.UserID || a.DeviceID == b.DeviceID {
		t.Errorf("whoami %s/%s and %s/%s, want one user on two devices", a.UserID, a.DeviceID, b.UserID, b.DeviceID)
	}
}

func TestSharedDendriteStartsOnceAndStops(t *testing.T) {
	var shared SharedDendrite
	first := shared.Get(t)
	if second := shared.Get(t); second != first {
		t.Fatal("Get started a second homeserver")
	}
	if err := shared.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(first.Dir); !os.IsNotExist(err) {
		t.Errorf("shared homeserver dir %s still there after Stop: %v", first.Dir, err)
	}
	if resp, err := http.Get(first.URL + "/_matrix/client/versions"); err == nil {
		resp.Body.Close()
		t.Errorf("shared homeserver still answers after Stop")
	}
	var unused SharedDendrite
	if err := unused.Stop(); err != nil {
		t.Errorf("Stop of an unstarted shared homeserver: %v", err)
	}
}
