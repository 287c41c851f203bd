package index

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// segmentFiles lists the segment files of an index directory.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "store", "*.zap"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no segment file in %s", dir)
	}
	return files
}

// damageFile rewrites a file of the index through damage.
func damageFile(t *testing.T, path string, damage func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, damage(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOpenOrRebuildDamaged: an index whose files were damaged on disk
// (flipped bytes inside a segment, a truncated segment, a truncated root
// file) does not make the start panic: OpenOrRebuild rebuilds it from the
// database, saying why in the log, and every item is found again.
func TestOpenOrRebuildDamaged(t *testing.T) {
	items := corpusItems(t)
	st := archive(t, items)
	for _, tc := range []struct {
		name string
		// logged is what the log may say of the damage (any of them): a
		// broken index, or one that holds fewer items than the database
		// (bleve falls back to an older snapshot when a segment does not
		// open; which segment was cut depends on bleve's merges).
		logged []string
		damage func(t *testing.T, dir string)
	}{
		{"flipped bytes in a segment", []string{"checksum"}, func(t *testing.T, dir string) {
			damageFile(t, segmentFiles(t, dir)[0], func(b []byte) []byte {
				for i := len(b) / 3; i < len(b)/3+64; i++ {
					b[i] ^= 0xff
				}
				return b
			})
		}},
		{"truncated segment", []string{"reason=stale", "reason=broken"}, func(t *testing.T, dir string) {
			damageFile(t, segmentFiles(t, dir)[0], func(b []byte) []byte { return b[:len(b)/2] })
		}},
		{"truncated root file", []string{"invalid freelist page"}, func(t *testing.T, dir string) {
			damageFile(t, filepath.Join(dir, "store", "root.bolt"), func(b []byte) []byte { return b[:8192] })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := partialIndex(t, items, nil)
			tc.damage(t, dir)
			out := rebuildAndCheck(t, dir, st, items)
			if !strings.Contains(out, `msg="search index rebuilt"`) || !slices.ContainsFunc(tc.logged, func(s string) bool { return strings.Contains(out, s) }) {
				t.Errorf("log does not tell of the damaged index (%q) and its rebuild:\n%s", tc.logged, out)
			}
		})
	}
}

// TestOpenDamagedSegment: Open refuses an index whose segment's bytes do
// not match the checksum at its end, naming the file.
func TestOpenDamagedSegment(t *testing.T) {
	dir := partialIndex(t, corpusItems(t), nil)
	segment := segmentFiles(t, dir)[0]
	damageFile(t, segment, func(b []byte) []byte {
		b[len(b)/2] ^= 0x01
		return b
	})
	x, err := Open(dir, nil)
	if err == nil {
		x.Close()
		t.Fatal("an index with a damaged segment was opened")
	}
	if !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), segment) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("err = %v, want ErrBroken naming %s and its checksum", err, segment)
	}
}
