package store

import (
	"fmt"
	bolt "go.etcd.io/bbolt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

// deliverAll delivers every pending alert row of a channel as message
// "ts-N" and returns the refs by alert id.
func deliverAll(t *testing.T, s *Store, channel string) map[string]string {
	t.Helper()
	refs := map[string]string{}
	for _, row := range outbox(t, s, channel) {
		if row.Edit != nil {
			continue
		}
		ref := "ts-" + row.Alert.ID[:8]
		if err := s.DeliveredMessage(channel, row.Key, Message{Target: "C1", Ref: ref, Thread: row.Alert.ThreadRoot}); err != nil {
			t.Fatal(err)
		}
		refs[row.Alert.ID] = ref
	}
	return refs
}

func editRows(t *testing.T, s *Store, channel string) []OutboxRow {
	t.Helper()
	var out []OutboxRow
	for _, row := range outbox(t, s, channel) {
		if row.Edit != nil {
			out = append(out, row)
		}
	}
	return out
}

func TestDeliveredStoryGainsSourceQueuesOneEdit(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	pub := clk.Now().Add(-time.Hour)
	ingest(t, s, "council-press", routeAllTo("eu-desk"),
		item("council-press", "c1", "https://consilium.example/cyber-sanctions", "Cyber-attacks: Council extends sanctions framework until 2027", pub))
	refs := deliverAll(t, s, "eu-desk")
	if len(refs) != 1 {
		t.Fatalf("delivered %d alerts, want 1", len(refs))
	}

	clk.Advance(time.Hour)
	res := ingest(t, s, "eeas-press", routeAllTo("eu-desk"),
		item("eeas-press", "e1", "https://eeas.example/cyber-sanctions", "Cyber-attacks: Council extends sanctions framework until 2027", pub.Add(time.Hour)))
	if len(res.Alerts) != 0 || res.Edits != 1 {
		t.Fatalf("joining source queued %d new alerts and %d edits, want none and 1", len(res.Alerts), res.Edits)
	}
	edits := editRows(t, s, "eu-desk")
	if len(edits) != 1 {
		t.Fatalf("%d edit rows, want 1", len(edits))
	}
	e := edits[0]
	if got := alsoSources(e.Alert.Also); !slices.Equal(got, []string{"eeas-press"}) {
		t.Errorf("edit names %v, want eeas-press", got)
	}
	for id, ref := range refs {
		if e.Alert.ID != id || e.Edit.Ref != ref || e.Edit.Target != "C1" {
			t.Errorf("edit of %s on %s/%s, want %s on C1/%s", e.Alert.ID, e.Edit.Target, e.Edit.Ref, id, ref)
		}
	}
	if e.Alert.Edited == nil || !slices.Equal(e.Alert.Edited.Changes, []string{policywire.ChangeSource}) || !e.Alert.Edited.At.Equal(clk.Now()) {
		t.Errorf("edit says %+v", e.Alert.Edited)
	}

	// A third source while the edit is pending rewrites the same row.
	ingest(t, s, "govuk-fcdo", routeAllTo("eu-desk"),
		item("govuk-fcdo", "g1", "https://gov.example/cyber-sanctions", "Cyber-attacks: Council extends sanctions framework until 2027", pub.Add(2*time.Hour)))
	edits = editRows(t, s, "eu-desk")
	if len(edits) != 1 {
		t.Fatalf("%d edit rows after a second change, want 1 (coalesced)", len(edits))
	}
	if got := alsoSources(edits[0].Alert.Also); !slices.Equal(got, []string{"eeas-press", "govuk-fcdo"}) {
		t.Errorf("coalesced edit names %v", got)
	}
	if edits[0].Edit.Version <= e.Edit.Version {
		t.Errorf("coalesced edit kept version %d", edits[0].Edit.Version)
	}

	// Recording an older version leaves the row for its newer content.
	if err := s.EditDelivered("eu-desk", edits[0].Key, e.Edit.Version); err != nil {
		t.Fatal(err)
	}
	if n := len(editRows(t, s, "eu-desk")); n != 1 {
		t.Fatalf("edit row of a newer content gone after an older one was recorded (%d rows)", n)
	}
	if err := s.EditDelivered("eu-desk", edits[0].Key, edits[0].Edit.Version); err != nil {
		t.Fatal(err)
	}
	if n := len(outbox(t, s, "eu-desk")); n != 0 {
		t.Fatalf("%d rows left after the edit was recorded", n)
	}
	latest, err := s.LatestDelivered("eu-desk", 5)
	if err != nil || len(latest) != 1 {
		t.Fatalf("latest: %v %v", latest, err)
	}
	if got := alsoSources(latest[0].Also); !slices.Equal(got, []string{"eeas-press", "govuk-fcdo"}) {
		t.Errorf("latest shows sources %v after the edit", got)
	}
}

func TestMaterialRevisionsOnlyAreEdited(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	pub := clk.Now().Add(-time.Hour)
	it := item("council-press", "c1", "https://consilium.example/a", "Council adopts conclusions on Ukrain", pub)
	it.Summary = "The Council adopted conclusions."
	ingest(t, s, "council-press", routeAllTo("eu-desk"), it)
	deliverAll(t, s, "eu-desk")

	ws := it
	ws.Title = "Council  adopts conclusions on Ukrain "
	ws.Summary = " The Council adopted\nconclusions."
	ws.URL = "https://consilium.example/a?utm_source=rss&utm_medium=feed" // same canonical URL
	ingest(t, s, "council-press", routeAllTo("eu-desk"), ws)
	if n := len(editRows(t, s, "eu-desk")); n != 0 {
		t.Fatalf("white space and tracking parameters queued %d edits", n)
	}

	fixed := ws
	fixed.Title = "Council adopts conclusions on Ukraine"
	ingest(t, s, "council-press", routeAllTo("eu-desk"), fixed)
	edits := editRows(t, s, "eu-desk")
	if len(edits) != 1 {
		t.Fatalf("title correction queued %d edits, want 1", len(edits))
	}
	if edits[0].Alert.Item.Title != fixed.Title || !slices.Equal(edits[0].Alert.Edited.Changes, []string{policywire.ChangeTitle}) {
		t.Errorf("edit: title %q, changes %v", edits[0].Alert.Item.Title, edits[0].Alert.Edited.Changes)
	}
	// The same correction seen again changes nothing.
	ingest(t, s, "council-press", routeAllTo("eu-desk"), fixed)
	if again := editRows(t, s, "eu-desk"); len(again) != 1 || again[0].Edit.Version != edits[0].Edit.Version {
		t.Fatalf("the same item again rewrote the edit: %+v", again)
	}
}

func TestEditOfGoneMessageIsDroppedAndEndsItsThread(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	pub := clk.Now().Add(-time.Hour)
	it := item("council-press", "c1", "https://consilium.example/a", "Digital euro: Council agrees its position", pub)
	it.References = []string{"2023/0212(COD)"}
	ingest(t, s, "council-press", routeAllTo("eu-desk"), it)
	deliverAll(t, s, "eu-desk")
	th, ok, err := s.FollowUpThread("eu-desk", []string{"2023/0212 (cod)"}, clk.Now().Add(-24*time.Hour))
	if err != nil || !ok || th.Ref == "" {
		t.Fatalf("thread of the delivered alert: %+v %v %v", th, ok, err)
	}

	it.Title = "Digital euro: Council agrees its negotiating position"
	ingest(t, s, "council-press", routeAllTo("eu-desk"), it)
	edits := editRows(t, s, "eu-desk")
	if len(edits) != 1 {
		t.Fatalf("%d edits", len(edits))
	}
	if err := s.EditDropped("eu-desk", edits[0].Key); err != nil {
		t.Fatal(err)
	}
	if n := len(outbox(t, s, "eu-desk")); n != 0 {
		t.Fatalf("%d rows after the drop", n)
	}
	if _, ok, _ := s.FollowUpThread("eu-desk", it.References, clk.Now().Add(-24*time.Hour)); ok {
		t.Fatal("a follow-up would still reply to the gone message")
	}
	it.Summary = "New summary"
	ingest(t, s, "council-press", routeAllTo("eu-desk"), it)
	if n := len(outbox(t, s, "eu-desk")); n != 0 {
		t.Fatalf("a gone message got another edit (%d rows)", n)
	}
}

func TestFollowUpsShareAThreadWithinTheWindow(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	post := func(guid, title string) OutboxRow {
		it := item("eurlex", guid, "https://eurlex.example/"+guid, title, clk.Now())
		it.References = []string{"2023/0212(COD)"}
		ingest(t, s, "eurlex", routeAllTo("eu-desk"), it)
		rows := outbox(t, s, "eu-desk")
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		return rows[0]
	}
	root := post("1", "Proposal for a regulation on the digital euro")
	if err := s.DeliveredMessage("eu-desk", root.Key, Message{Target: "C1", Ref: "100.1"}); err != nil {
		t.Fatal(err)
	}
	for i, guid := range []string{"2", "3"} {
		clk.Advance(24 * time.Hour)
		row := post(guid, []string{"Parliament adopts its digital euro report", "Trilogue agreement reached on the euro in digital form"}[i])
		th, ok, err := s.FollowUpThread("eu-desk", row.Alert.Item.References, clk.Now().Add(-90*24*time.Hour))
		if err != nil || !ok || th.Ref != "100.1" || th.AlertID != root.Alert.ID {
			t.Fatalf("follow-up %d: thread %+v %v %v", i+1, th, ok, err)
		}
		if err := s.DeliveredMessage("eu-desk", row.Key, Message{Target: "C1", Ref: "10" + guid + ".1", Thread: th.Ref}); err != nil {
			t.Fatal(err)
		}
	}
	latest, err := s.LatestDelivered("eu-desk", 5)
	if err != nil {
		t.Fatal(err)
	}
	if last := latest[len(latest)-1]; last.ID != root.Alert.ID || last.ThreadReplies != 2 {
		t.Errorf("root shows %d replies, want 2", last.ThreadReplies)
	}
	clk.Advance(91 * 24 * time.Hour)
	if _, ok, _ := s.FollowUpThread("eu-desk", []string{"2023/0212(COD)"}, clk.Now().Add(-90*24*time.Hour)); ok {
		t.Error("a thread quiet for longer than the window still takes follow-ups")
	}
}

func TestMigrateDeliveriesFromVersion3(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "policywire.db")
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	instant := item("eurlex", "1", "https://eurlex.example/1", "Proposal for a regulation on the digital euro", clk.Now().Add(-time.Hour))
	instant.References = []string{"2023/0212(COD)"}
	ingest(t, s, "eurlex", routeAllTo("eu-desk"), instant)
	deliverAll(t, s, "eu-desk")
	var digestKeys [][]byte
	for i, title := range []string{"Council sanctions listings renewed", "EU and Japan hold summit in Tokyo"} {
		ingest(t, s, "council-press", routeAllTo("weekly"), item("council-press", fmt.Sprint(i), fmt.Sprintf("https://consilium.example/%d", i), title, clk.Now()))
	}
	for _, row := range outbox(t, s, "weekly") {
		digestKeys = append(digestKeys, row.Key)
	}
	if err := s.DeliveredDigest("weekly", digestKeys, []string{"200.1"}); err != nil {
		t.Fatal(err)
	}
	// Back to what version 3 wrote: delivery records of ref and time, no threads.
	err = s.DB().Update(func(tx *bolt.Tx) error {
		for _, ch := range []string{"eu-desk", "weekly"} {
			chb := tx.Bucket(bucketDeliveries).Bucket([]byte(ch))
			ids := chb.Bucket(subDeliveredIDs)
			err := ids.ForEach(func(k, v []byte) error {
				var dr deliveryRecord
				if err := decode(v, &dr); err != nil {
					return err
				}
				old, _ := encode(deliveryRecord{Ref: dr.Ref, At: dr.At})
				return ids.Put(k, old)
			})
			if err != nil {
				return err
			}
			if chb.Bucket(subDeliveredThreads) != nil {
				if err := chb.DeleteBucket(subDeliveredThreads); err != nil {
					return err
				}
			}
		}
		return putVersion(tx, 3)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	th, ok, err := s.FollowUpThread("eu-desk", []string{"2023/0212(COD)"}, clk.Now().Add(-24*time.Hour))
	if err != nil || !ok || th.AlertID == "" || th.Ref == "" {
		t.Fatalf("thread after the migration: %+v %v %v", th, ok, err)
	}
	// An edit of the instant alert is queued from its migrated record; the
	// digest's items get none.
	instant.Title = "Proposal for a regulation on the euro in digital form"
	ingest(t, s, "eurlex", routeAllTo("eu-desk"), instant)
	if edits := editRows(t, s, "eu-desk"); len(edits) != 1 || edits[0].Edit.Ref != th.Ref || edits[0].Alert.Item.Title != instant.Title {
		t.Fatalf("edits after the migration: %+v", edits)
	}
	ingest(t, s, "council-press", routeAllTo("weekly"), item("council-press", "0", "https://consilium.example/0", "Council sanctions listings renewed until 2027", clk.Now()))
	if rows := outbox(t, s, "weekly"); len(rows) != 0 {
		t.Fatalf("an item delivered in a digest got %d rows", len(rows))
	}
}

func TestRowRewrittenWhileInFlightGetsAnEdit(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	pub := clk.Now().Add(-time.Hour)
	ingest(t, s, "council-press", routeAllTo("eu-desk"),
		item("council-press", "c1", "https://consilium.example/cyber-sanctions", "Cyber-attacks: Council extends sanctions framework until 2027", pub))
	inFlight := outbox(t, s, "eu-desk")[0] // what the sender has
	// The EEAS joins the story while the alert is being sent.
	ingest(t, s, "eeas-press", routeAllTo("eu-desk"),
		item("eeas-press", "e1", "https://eeas.example/cyber-sanctions", "Cyber-attacks: Council extends sanctions framework until 2027", pub))
	if err := s.DeliveredMessage("eu-desk", inFlight.Key, Message{Target: "C1", Ref: "100.1", Sent: &inFlight.Alert}); err != nil {
		t.Fatal(err)
	}
	edits := editRows(t, s, "eu-desk")
	if len(edits) != 1 || edits[0].Edit.Ref != "100.1" || !slices.Equal(alsoSources(edits[0].Alert.Also), []string{"eeas-press"}) {
		t.Fatalf("edits %+v, want one naming the EEAS on the delivered message", edits)
	}
	if !slices.Equal(edits[0].Alert.Edited.Changes, []string{policywire.ChangeSource}) {
		t.Errorf("edit says %v", edits[0].Alert.Edited.Changes)
	}
	// Sent as it is now: no edit.
	ingest(t, s, "council-press", routeAllTo("other"),
		item("council-press", "c2", "https://consilium.example/other", "EU and Japan hold their annual summit in Tokyo", pub))
	row := outbox(t, s, "other")[0]
	if err := s.DeliveredMessage("other", row.Key, Message{Target: "C2", Ref: "200.1", Sent: &row.Alert}); err != nil {
		t.Fatal(err)
	}
	if n := len(outbox(t, s, "other")); n != 0 {
		t.Fatalf("an alert sent as it was queued %d rows", n)
	}
}
