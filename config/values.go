package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// parseDuration reads a Go duration ("30s", "72h", "1h30m") or a bare 0.
func parseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("expected a duration such as 30s, 15m or 72h")
	}
	if d < 0 {
		return 0, errors.New("a duration must not be negative")
	}
	return d, nil
}

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	// Longest suffixes first so "KiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"kB", 1000}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// parseSize reads a byte count: plain bytes ("1048576") or a number with
// one of B, kB/KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
func parseSize(s string) (int64, error) {
	bad := errors.New("expected a size such as 512KB, 10MiB, 1GiB or a number of bytes")
	num, factor := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, factor = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.factor
			break
		}
	}
	if num == "" {
		return 0, bad
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n < 0 {
			return 0, errors.New("a size must not be negative")
		}
		if n > math.MaxInt64/factor {
			return 0, errors.New("size is too large")
		}
		return n * factor, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(num, "eExXpP_") {
		return 0, bad
	}
	if f < 0 {
		return 0, errors.New("a size must not be negative")
	}
	if f*float64(factor) > float64(math.MaxInt64/2) {
		return 0, errors.New("size is too large")
	}
	return int64(f * float64(factor)), nil
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// maxIDBytes bounds ids: the database keys source states and outboxes by
// them.
const maxIDBytes = 128

func checkID(id string) error {
	if len(id) > maxIDBytes {
		return fmt.Errorf("id of %d characters is too long (at most %d)", len(id), maxIDBytes)
	}
	if !idPattern.MatchString(id) {
		return fmt.Errorf("invalid id %q: use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit", id)
	}
	return nil
}

// checkHTTPURL accepts an absolute http or https URL with a host.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return errors.New("expected an absolute http:// or https:// URL")
	}
	if u.User != nil {
		return errors.New("a URL must not carry a user name or password")
	}
	return nil
}

// checkListen accepts host:port (host may be empty) with a numeric port.
func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New(`expected host:port such as 127.0.0.1:8080 or :8080, or "" to turn HTTP off`)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

var (
	slackUserPattern   = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	matrixUserPattern  = regexp.MustCompile(`^@[^:\s]+:[^\s:]+(:[0-9]+)?$`)
	matrixRoomPattern  = regexp.MustCompile(`^[!#][^:\s]+:[^\s:]+(:[0-9]+)?$`)
	slackChanPattern   = regexp.MustCompile(`^[A-Z0-9]{2,}$`)
	languagePattern    = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	slackCommandPatern = regexp.MustCompile(`^/[a-z0-9_-]+$`)
)

// expandEnv replaces ${VAR} and ${VAR:-default} in s. A default is used
// when the variable is unset or empty, as in the shell. A lone "$" that does
// not start "${" is kept as it is.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return "", errors.New(`"${" without a closing "}"`)
		}
		expr := rest[:end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !envNamePattern.MatchString(name) {
			return "", fmt.Errorf("invalid variable reference ${%s}: expected ${NAME} or ${NAME:-default}", expr)
		}
		val, ok := lookup(name)
		switch {
		case hasDef && val == "":
			val = def
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set (use ${%s:-default} to give a default)", name, name)
		}
		b.WriteString(val)
		s = rest[end+1:]
	}
}

var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// suggest returns the candidate closest to word when it is close enough to
// be a likely typo, or "".
func suggest(word string, candidates []string) string {
	limit := 1
	if len([]rune(word)) >= 5 {
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(word), c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
