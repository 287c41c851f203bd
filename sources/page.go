package sources

import (
	"context"
)

// GetPage fetches a web page (an article) through the same limits as every
// other request. It lets the fetcher serve summary.PageGetter.
func (f *Fetcher) GetPage(ctx context.Context, url string) ([]byte, string, error) {
	resp, err := f.Fetch(ctx, url, Validators{}, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
	if err != nil {
		return nil, "", err
	}
	return resp.Body, resp.URL, nil
}
