package sources

import (
	"net/url"
	"strings"
)

// secretParamNames are query parameters that carry a credential; their
// values are never shown. Names containing one of secretParamParts are
// too.
var secretParamNames = map[string]bool{
	"key": true, "apikey": true, "api_key": true, "api-key": true, "auth": true, "authorization": true,
	"sig": true, "signature": true, "code": true, "pass": true, "pwd": true, "session": true, "sid": true,
	"client_id": true, "appid": true, "app_id": true,
}

var secretParamParts = []string{"token", "secret", "password", "passwd", "signature", "credential", "apikey", "api_key", "private"}

// ShownURL is a URL as logs, errors and `sources` may show it: without a
// password, and with the values of query parameters that carry
// credentials (api_key, token, signature, ...) replaced by REDACTED.
func ShownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "…" + raw[i:] // may hide a password
		}
		if i := strings.IndexByte(raw, '?'); i >= 0 {
			return raw[:i] + "?…" // may hide a token
		}
		return raw
	}
	return shownURL(u)
}

func shownURL(u *url.URL) string {
	if u.RawQuery == "" {
		return u.Redacted()
	}
	c := *u
	c.RawQuery = redactQuery(u.RawQuery)
	return c.Redacted()
}

// redactQuery replaces the values of credential parameters in a raw
// query, keeping the rest as written.
func redactQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		if !hasValue {
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if isSecretParam(name) {
			parts[i] = p[:strings.IndexByte(p, '=')] + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}

func isSecretParam(name string) bool {
	name = strings.ToLower(name)
	if secretParamNames[name] {
		return true
	}
	for _, part := range secretParamParts {
		if strings.Contains(name, part) {
			return true
		}
	}
	// X-Amz-Signature, X-Goog-Credential and the like.
	return strings.HasPrefix(name, "x-amz-") || strings.HasPrefix(name, "x-goog-")
}
