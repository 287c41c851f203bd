// Package testenv starts the real outside parts that tests talk to: a
// dendrite Matrix homeserver on loopback, with its own temporary directory,
// SQLite databases and shared-secret registration. It is imported by test
// code only; it knows nothing of policywire's own packages.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/synapseadmin"
)

// DendriteBinEnv names the environment variable holding the directory of the
// dendrite binaries; the project's test script sets it after installing them.
const DendriteBinEnv = "POLICYWIRE_DENDRITE_BIN"

// dendriteBinaries are the programs StartDendrite needs.
var dendriteBinaries = []string{"dendrite", "generate-keys", "generate-config"}

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
	// ServerName is the server name of every homeserver testenv starts, so
	// user IDs look like "@alice:localhost".
	ServerName = "localhost"
)

// Dendrite is one running homeserver.
type Dendrite struct {
	// URL is the client-server API base, e.g. "http://127.0.0.1:40123".
	URL string
	// ServerName is the part after the colon in user and room IDs.
	ServerName string
	// Dir holds the config, keys, databases and logs.
	Dir string

	sharedSecret string
	cmd          *exec.Cmd
	exited       chan struct{} // closed when the process has exited
	exitErr      error         // set before exited is closed
	stopOnce     sync.Once
	stopErr      error
	removeDir    bool
}

// Option changes how StartDendrite configures the homeserver.
type Option func(*options)

type options struct {
	rateLimit      bool
	rateThreshold  int
	rateCooloffMS  int
	rateExemptUser []string
}

// WithRateLimit turns on dendrite's rate limiter: each non-admin user and
// device may have threshold requests in flight per cooloffMS milliseconds on
// the limited endpoints (in dendrite v0.13.8: join, leave, invite,
// createRoom, whoami, typing, profile updates, ... but not /send); the
// others get M_LIMIT_EXCEEDED with retry_after_ms. By default the limiter is
// off so tests run fast.
func WithRateLimit(threshold, cooloffMS int) Option {
	return func(o *options) {
		o.rateLimit = true
		o.rateThreshold = threshold
		o.rateCooloffMS = cooloffMS
	}
}

// WithRateLimitExempt lists user IDs the rate limiter lets through.
func WithRateLimitExempt(userIDs ...string) Option {
	return func(o *options) { o.rateExemptUser = append(o.rateExemptUser, userIDs...) }
}

// StartDendrite starts a fresh homeserver for this test: a new temporary
// directory, SQLite databases, federation off, registration only through the
// shared secret. It returns once the client API answers and stops the server
// when the test ends; the server's log is shown when the test failed.
func StartDendrite(t testing.TB, opts ...Option) *Dendrite {
	t.Helper()
	d, err := startDendrite(t.TempDir(), false, opts...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dendrite log (%s):\n%s", d.Dir, d.LogTail(80))
		}
		if err := d.Stop(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return d
}

// SharedDendrite is one homeserver for a whole test binary, started on first
// use. Declare one in the test package and run the tests through it:
//
//	var homeserver testenv.SharedDendrite
//
//	func TestMain(m *testing.M) { os.Exit(homeserver.Run(m)) }
//
//	func TestX(t *testing.T) { hs := homeserver.Get(t); ... }
//
// Tests sharing it must not depend on a blank server: each registers its own
// users and creates its own rooms.
type SharedDendrite struct {
	Options []Option

	once sync.Once
	d    *Dendrite
	err  error
}

// Get returns the shared homeserver, starting it on the first call. If it
// could not start, the test fails.
func (s *SharedDendrite) Get(t testing.TB) *Dendrite {
	t.Helper()
	s.once.Do(func() {
		dir, err := os.MkdirTemp("", "policywire-dendrite-")
		if err != nil {
			s.err = fmt.Errorf("testenv: dendrite temp dir: %w", err)
			return
		}
		s.d, s.err = startDendrite(dir, true, s.Options...)
		if s.err != nil {
			_ = os.RemoveAll(dir)
		}
	})
	if s.err != nil {
		t.Fatalf("%v", s.err)
	}
	d := s.d
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shared dendrite log (%s):\n%s", d.Dir, d.LogTail(80))
		}
	})
	return d
}

// Run runs the tests and then stops the shared homeserver if one was
// started. It returns the exit code for os.Exit.
func (s *SharedDendrite) Run(m *testing.M) int {
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Stop stops the shared homeserver if it was started.
func (s *SharedDendrite) Stop() error {
	// Make a later Get fail instead of starting a server nobody stops.
	s.once.Do(func() { s.err = errors.New("testenv: shared dendrite used after Stop") })
	if s.d == nil {
		return nil
	}
	return s.d.Stop()
}

// Register creates an account through shared-secret registration and logs
// it in, returning its user ID and access token. Admins are never rate
// limited by dendrite.
func (d *Dendrite) Register(t testing.TB, localpart string, admin bool) (userID, accessToken string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	userID, accessToken, err := d.register(ctx, localpart, admin)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return userID, accessToken
}

func (d *Dendrite) register(ctx context.Context, localpart string, admin bool) (string, string, error) {
	cli, err := mautrix.NewClient(d.URL, "", "")
	if err != nil {
		return "", "", fmt.Errorf("testenv: client for %s: %w", d.URL, err)
	}
	cli.DefaultHTTPRetries = 0
	admCli := synapseadmin.Client{Client: cli}
	resp, err := admCli.SharedSecretRegister(ctx, d.sharedSecret, synapseadmin.ReqSharedSecretRegister{
		Username: localpart,
		Password: d.password(localpart),
		Admin:    admin,
	})
	if err != nil {
		return "", "", fmt.Errorf("testenv: register %q on dendrite: %w", localpart, err)
	}
	if resp.AccessToken == "" {
		return "", "", fmt.Errorf("testenv: register %q on dendrite: no access token in the answer", localpart)
	}
	return resp.UserID.String(), resp.AccessToken, nil
}

// Login logs an account made by Register in again: a new device with a new
// access token, as a second process of the same bot would have.
func (d *Dendrite) Login(t testing.TB, localpart string) (accessToken string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := mautrix.NewClient(d.URL, "", "")
	if err != nil {
		t.Fatalf("testenv: client for %s: %v", d.URL, err)
	}
	cli.DefaultHTTPRetries = 0
	resp, err := cli.Login(ctx, &mautrix.ReqLogin{
		Type:       mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: localpart},
		Password:   d.password(localpart),
	})
	if err != nil {
		t.Fatalf("testenv: log %q in on dendrite: %v", localpart, err)
	}
	return resp.AccessToken
}

// Password is the password of an account made by Register, for tests of
// a password login.
func (d *Dendrite) Password(localpart string) string { return d.password(localpart) }

// password derives an account's password from the server's secret, so
// Login needs no record of the accounts.
func (d *Dendrite) password(localpart string) string {
	mac := hmac.New(sha256.New, []byte(d.sharedSecret))
	mac.Write([]byte("password\x00" + localpart))
	return hex.EncodeToString(mac.Sum(nil))
}

// Client returns a mautrix client for the user that never retries or sleeps
// on its own, so a test sees each answer of the homeserver.
func (d *Dendrite) Client(t testing.TB, userID, token string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(d.URL, id.UserID(userID), token)
	if err != nil {
		t.Fatalf("testenv: client for %s: %v", userID, err)
	}
	cli.DefaultHTTPRetries = 0
	cli.IgnoreRateLimit = true
	cli.Client = &http.Client{Timeout: 30 * time.Second}
	return cli
}

// Stop terminates the homeserver (SIGTERM, then SIGKILL after a grace
// period) and waits for it. It is safe to call more than once.
func (d *Dendrite) Stop() error {
	d.stopOnce.Do(func() {
		select {
		case <-d.exited:
		default:
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.exited:
			case <-time.After(stopTimeout):
				_ = d.cmd.Process.Kill()
				<-d.exited
				d.stopErr = fmt.Errorf("testenv: dendrite did not stop within %s after SIGTERM; killed", stopTimeout)
			}
		}
		if d.removeDir {
			if err := os.RemoveAll(d.Dir); err != nil && d.stopErr == nil {
				d.stopErr = fmt.Errorf("testenv: remove dendrite dir: %w", err)
			}
		}
	})
	return d.stopErr
}

// LogTail returns the last n lines of the homeserver's log, followed by
// what it wrote to its output outside the log (a panic, a fatal error).
func (d *Dendrite) LogTail(n int) string {
	var b strings.Builder
	lines := tailLines(filepath.Join(d.Dir, "dendrite.log"), n, nil)
	fmt.Fprintf(&b, "--- dendrite.log (last %d lines) ---\n%s\n", len(lines), strings.Join(lines, "\n"))
	other := tailLines(filepath.Join(d.Dir, "dendrite.out"), n, func(line string) bool {
		return !strings.HasPrefix(line, `time="`)
	})
	if len(other) > 0 {
		fmt.Fprintf(&b, "--- dendrite output besides the log ---\n%s\n", strings.Join(other, "\n"))
	}
	return b.String()
}

// tailLines returns the last n lines of a file that keep passes (all when
// keep is nil).
func tailLines(path string, n int, keep func(string) bool) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{"(" + err.Error() + ")"}
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if keep != nil && !keep(sc.Text()) {
			continue
		}
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// startDendrite configures and starts a homeserver in dir. A port taken by
// someone else between choosing and binding is retried with another port.
func startDendrite(dir string, removeDir bool, opts ...Option) (*Dendrite, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bins, err := findDendriteBinaries()
	if err != nil {
		return nil, err
	}
	secret := randomHex(24)
	if err := writeDendriteConfig(bins, dir, secret, o); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		d, err := launchDendrite(bins["dendrite"], dir, secret)
		if err == nil {
			d.removeDir = removeDir
			return d, nil
		}
		lastErr = err
		if !errors.Is(err, errExitedEarly) {
			break
		}
	}
	return nil, lastErr
}

var errExitedEarly = errors.New("dendrite exited before it was ready")

func launchDendrite(bin, dir, secret string) (*Dendrite, error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	out, err := os.OpenFile(filepath.Join(dir, "dendrite.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testenv: dendrite output file: %w", err)
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(bin, "--config", filepath.Join(dir, "dendrite.yaml"), "--http-bind-address", addr)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = childProcAttr()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: start %s: %w", bin, err)
	}
	d := &Dendrite{
		URL:          "http://" + addr,
		ServerName:   ServerName,
		Dir:          dir,
		sharedSecret: secret,
		cmd:          cmd,
		exited:       make(chan struct{}),
	}
	go func() {
		d.exitErr = cmd.Wait()
		close(d.exited)
	}()
	if err := d.waitReady(start); err != nil {
		_ = d.Stop()
		return nil, err
	}
	return d, nil
}

func (d *Dendrite) waitReady(start time.Time) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(d.URL + "/_matrix/client/versions")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-d.exited:
			return fmt.Errorf("testenv: %w (%v) after %s; log:\n%s", errExitedEarly, d.exitErr, time.Since(start).Round(time.Millisecond), d.LogTail(40))
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testenv: dendrite at %s not ready after %s; log:\n%s", d.URL, startTimeout, d.LogTail(40))
		}
	}
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findDendriteBinaries looks in $POLICYWIRE_DENDRITE_BIN, then PATH, then
// GOPATH/bin.
func findDendriteBinaries() (map[string]string, error) {
	return lookupBinaries(dendriteBinaries, os.Getenv(DendriteBinEnv), exec.LookPath, goBinDir())
}

func lookupBinaries(names []string, envDir string, lookPath func(string) (string, error), goBin string) (map[string]string, error) {
	found := make(map[string]string, len(names))
	var missing []string
	for _, name := range names {
		var candidates []string
		if envDir != "" {
			candidates = append(candidates, filepath.Join(envDir, name))
		}
		if p, err := lookPath(name); err == nil {
			candidates = append(candidates, p)
		}
		if goBin != "" {
			candidates = append(candidates, filepath.Join(goBin, name))
		}
		for _, c := range candidates {
			if isExecutable(c) {
				found[name] = c
				break
			}
		}
		if found[name] == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("testenv: dendrite binaries not found: %s (looked in $%s=%q, PATH and %q); run `make test`, which installs them, or `go install github.com/matrix-org/dendrite/cmd/...@v0.13.8`",
			strings.Join(missing, ", "), DendriteBinEnv, envDir, goBin)
	}
	return found, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func goBinDir() string {
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		return gobin
	}
	gopath := build.Default.GOPATH
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		if p := strings.TrimSpace(string(out)); p != "" {
			gopath = p
		}
	}
	if gopath == "" {
		return ""
	}
	return filepath.Join(filepath.SplitList(gopath)[0], "bin")
}

// writeDendriteConfig generates a signing key and a config file in dir and
// rewrites the config for a private, fast, throw-away homeserver.
func writeDendriteConfig(bins map[string]string, dir, secret string, o options) error {
	keyPath := filepath.Join(dir, "matrix_key.pem")
	if out, err := exec.Command(bins["generate-keys"], "--private-key", keyPath).CombinedOutput(); err != nil {
		return fmt.Errorf("testenv: generate-keys: %w: %s", err, bytes.TrimSpace(out))
	}
	var stderr bytes.Buffer
	gen := exec.Command(bins["generate-config"], "-dir", dir, "-server", ServerName)
	gen.Stderr = &stderr
	raw, err := gen.Output()
	if err != nil {
		return fmt.Errorf("testenv: generate-config: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("testenv: parse generated dendrite config: %w", err)
	}

	set := func(path string, value any) error {
		keys := strings.Split(path, ".")
		m := cfg
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				return fmt.Errorf("testenv: dendrite config has no section %q (in %s)", k, path)
			}
			m = next
		}
		m[keys[len(keys)-1]] = value
		return nil
	}
	dbFile := func(name string) map[string]any {
		return map[string]any{"connection_string": "file:" + filepath.Join(dir, "dendrite_"+name+".db")}
	}
	exempt := o.rateExemptUser
	if exempt == nil {
		exempt = []string{}
	}
	threshold, cooloff := o.rateThreshold, o.rateCooloffMS
	if !o.rateLimit {
		threshold, cooloff = 5, 500
	}
	edits := []struct {
		path  string
		value any
	}{
		{"global.server_name", ServerName},
		{"global.private_key", keyPath},
		{"global.disable_federation", true},
		{"global.presence.enable_inbound", false},
		{"global.presence.enable_outbound", false},
		{"global.report_stats.enabled", false},
		{"global.trusted_third_party_id_servers", []string{}},
		{"global.jetstream.storage_path", filepath.Join(dir, "jetstream")},
		{"global.jetstream.in_memory", false},
		{"global.cache.max_size_estimated", 64 << 20},
		{"federation_api.key_perspectives", []any{}},
		{"federation_api.database", dbFile("federationapi")},
		{"key_server.database", dbFile("keyserver")},
		{"media_api.database", dbFile("mediaapi")},
		{"media_api.base_path", filepath.Join(dir, "media")},
		{"room_server.database", dbFile("roomserver")},
		{"sync_api.database", dbFile("syncapi")},
		{"sync_api.search.enabled", false},
		{"sync_api.search.index_path", filepath.Join(dir, "searchindex")},
		{"user_api.account_database", dbFile("userapi")},
		{"user_api.bcrypt_cost", 4},
		{"relay_api.database", dbFile("relayapi")},
		{"mscs.database", dbFile("mscs")},
		{"client_api.registration_disabled", true},
		{"client_api.guests_disabled", true},
		{"client_api.registration_shared_secret", secret},
		{"client_api.rate_limiting", map[string]any{
			"enabled":         o.rateLimit,
			"threshold":       threshold,
			"cooloff_ms":      cooloff,
			"exempt_user_ids": exempt,
		}},
		{"logging", []any{map[string]any{
			"type":   "file",
			"level":  "info",
			"params": map[string]any{"path": dir},
		}}},
	}
	for _, e := range edits {
		if err := set(e.path, e.value); err != nil {
			return err
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("testenv: write dendrite config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dendrite.yaml"), out, 0o600); err != nil {
		return fmt.Errorf("testenv: write dendrite config: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
