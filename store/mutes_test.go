package store

import (
	"path/filepath"
	"testing"
)

// TestMutesSurviveReopen: a mute is kept once per channel and source,
// read back after the file is reopened (read-only too), and removed by
// unmute in its channel only.
func TestMutesSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policywire.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.Mutes(""); err != nil || len(m) != 0 {
		t.Fatalf("a new database has mutes %+v (%v)", m, err)
	}
	for _, m := range []Mute{{Channel: "eu-desk", Source: "council-press", By: "U1"}, {Channel: "eu-desk", Source: "council-press", By: "U2"}, {Channel: "all", Source: "council-press", By: "U1"}} {
		if _, err := s.MuteSource(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.MuteSource(Mute{Channel: "eu-desk"}); err == nil {
		t.Error("a mute without a source was stored")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ro.Mutes("eu-desk")
	if err != nil || len(got) != 1 || got[0].Source != "council-press" || got[0].By != "U1" {
		t.Fatalf("eu-desk's mutes after reopening: %+v (%v), want the first mute only", got, err)
	}
	ro.Close()

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if removed, err := s.UnmuteSource("eu-desk", "council-press"); err != nil || !removed {
		t.Fatalf("unmute: %v %v", removed, err)
	}
	if removed, _ := s.UnmuteSource("eu-desk", "council-press"); removed {
		t.Error("a second unmute removed something")
	}
	if all, _ := s.Mutes(""); len(all) != 1 || all[0].Channel != "all" {
		t.Errorf("after unmuting eu-desk: %+v, want the other channel's mute", all)
	}
}
