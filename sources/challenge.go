package sources

import "github.com/PuerkitoBio/goquery"

// ChallengePage reports whether an HTML body is a WAF, bot-protection or
// error page rather than the page asked for, with its title. It is the
// recognition the html adapter applies to a listing without items, for
// callers that look at a page before any source is configured for it.
func ChallengePage(body []byte, contentType string) (string, bool) {
	root, err := parseHTMLDocument(body, contentType)
	if err != nil {
		return "", false
	}
	return challengePage(goquery.NewDocumentFromNode(root), body)
}
