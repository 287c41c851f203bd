package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// SmallFS mounts a tmpfs of size bytes on a fresh directory and returns the
// directory; it is unmounted when the test ends. A disk that fills up is
// only faithfully reproduced by a real filesystem running out of blocks, so
// the test is skipped, saying why, only where mounting is refused (not
// root, or no CAP_SYS_ADMIN in a container).
func SmallFS(t testing.TB, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "smallfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mountTmpfs(dir, size); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, errors.ErrUnsupported) {
			t.Skipf("testenv: cannot mount a %d-byte tmpfs on %s to fill it up (%v): this test needs root or CAP_SYS_ADMIN", size, dir, err)
		}
		t.Fatalf("testenv: mount a %d-byte tmpfs on %s: %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := unmount(dir); err != nil {
			t.Errorf("testenv: unmount %s: %v", dir, err)
		}
	})
	return dir
}

// Filler takes up the free space of a filesystem, so that the next writes
// on it fail with ENOSPC, and gives it back on Release.
type Filler struct {
	path string
	size int64
}

// FillUp writes a file in dir until the filesystem holding it is full.
func FillUp(t testing.TB, dir string) *Filler {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("testenv: fill %s: %v", dir, err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	var n int64
	for {
		k, err := f.Write(chunk)
		n += int64(k)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatalf("testenv: fill %s: %v", dir, err)
		}
	}
	t.Logf("testenv: filled %s with %d bytes", dir, n)
	return &Filler{path: path, size: n}
}

// Release deletes the filler file, giving its space back.
func (f *Filler) Release(t testing.TB) {
	t.Helper()
	if err := os.Remove(f.path); err != nil {
		t.Fatalf("testenv: release %s: %v", f.path, err)
	}
}

// FreeBytes is the space left for unprivileged writes on the filesystem
// holding dir.
func FreeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("testenv: statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
