package sources

// The source types, as Source.Type names them.
const (
	TypeFeed = "feed"
	TypeHTML = "html"
	TypeJSON = "json"
)

// Source is what reading one source needs to know of it; the wiring fills
// it in from the configuration, so the parsers do not depend on its layout.
type Source struct {
	ID   string
	Type string // TypeFeed (also when empty), TypeHTML or TypeJSON
	URL  string
	// Language is used for items and pages that do not declare one.
	Language string
	HTML     *HTMLOptions // the selectors of an html source
	JSON     *JSONOptions // the paths of a json source
}

// HTMLOptions are the CSS selectors of an HTML listing page. A selector may
// end in @attr to take an attribute instead of the text.
type HTMLOptions struct {
	Item       string
	Title      string
	Link       string
	Date       string
	DateFormat string
	Summary    string
}

// JSONOptions are dotted paths into a JSON document (see parseJSON).
type JSONOptions struct {
	Items      string
	Title      string
	Link       string
	BaseURL    string
	Date       string
	DateFormat string
	Summary    string
	GUID       string
}
