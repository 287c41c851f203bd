package sources

import "testing"

func TestShownURLHidesCredentials(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://api.example.org/v1/items?api_key=s3cr3t&page=2", "https://api.example.org/v1/items?api_key=REDACTED&page=2"},
		{"https://x.org/feed?Token=abc&access_token=def&author=smith", "https://x.org/feed?Token=REDACTED&access_token=REDACTED&author=smith"},
		{"https://x.org/f?X-Amz-Signature=abc&X-Amz-Date=1&key=k&sig=s", "https://x.org/f?X-Amz-Signature=REDACTED&X-Amz-Date=REDACTED&key=REDACTED&sig=REDACTED"},
		{"https://user:pass@x.org/f?client_secret=zz", "https://user:xxxxx@x.org/f?client_secret=REDACTED"},
		{"https://x.org/f?q=cyber+security&lang=en", "https://x.org/f?q=cyber+security&lang=en"},
		{"https://x.org/f", "https://x.org/f"},
		{"https://x.org/%zz?token=abc", "https://x.org/%zz?…"},
	} {
		if got := ShownURL(tc.in); got != tc.want {
			t.Errorf("ShownURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
