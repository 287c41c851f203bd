package sources

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// dateLayouts are tried, in order, on every date a source gives. Layouts
// without a zone are read in the configured time zone.
var dateLayouts = []string{
	time.RFC3339Nano,
	time.RFC3339,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 Z07:00",
	time.RFC1123Z,
	time.RFC1123,
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 2006 15:04 MST",
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05 MST",
	time.RFC822Z,
	time.RFC822,
	time.RFC850,
	time.ANSIC,
	time.UnixDate,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006/01/02",
	"02.01.2006 15:04:05",
	"02.01.2006 15:04",
	"02.01.2006, 15:04",
	"02.01.2006",
	"2.1.2006",
	"1/2/2006 3:04:05 PM",
	"1/2/2006 3:04 PM",
	"1/2/2006 15:04:05",
	"1/2/2006 15:04",
	"1/2/2006",
	"2 January 2006 15:04",
	"2 January 2006",
	"2 Jan 2006",
	"2. January 2006",
	"2 January, 2006",
	"January 2, 2006 3:04 PM",
	"January 2, 2006",
	"January 2 2006",
	"Jan 2, 2006",
	"Jan. 2, 2006",
	"Monday, January 2, 2006",
	"Monday, 2 January 2006",
	"Monday 2 January 2006",
	"January 2006",
}

// Date shapes looked for inside longer text such as "Published 25.09.2026"
// or "Thursday, 25 September 2026 – Press release".
var dateCandidateREs = func() []*regexp.Regexp {
	month := `(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec)`
	return []*regexp.Regexp{
		regexp.MustCompile(`\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?`),
		regexp.MustCompile(`(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} ` + month + ` \d{4} \d{2}:\d{2}(?::\d{2})? (?:[+-]\d{4}|[A-Z]{2,5})`),
		regexp.MustCompile(`\d{1,2}/\d{1,2}/\d{4}(?: \d{1,2}:\d{2}(?::\d{2})?(?: [AP]M)?)?`),
		regexp.MustCompile(`\d{1,2}\.\d{1,2}\.\d{4}(?:,? \d{1,2}:\d{2}(?::\d{2})?)?`),
		regexp.MustCompile(`\d{1,2}\.? ` + month + `,? \d{4}`),
		regexp.MustCompile(month + `\.? \d{1,2},? \d{4}`),
	}
}()

// monthNames maps French and German month names and other spellings to
// the English names Go's layouts know.
var monthNames = map[string]string{
	"janvier": "January", "février": "February", "fevrier": "February", "mars": "March",
	"avril": "April", "mai": "May", "juin": "June", "juillet": "July", "août": "August",
	"aout": "August", "septembre": "September", "octobre": "October", "novembre": "November",
	"décembre": "December", "decembre": "December",
	"januar": "January", "jänner": "January", "februar": "February", "märz": "March",
	"maerz": "March", "juni": "June", "juli": "July", "oktober": "October", "dezember": "December",
	"sept": "Sep", "janv": "Jan", "févr": "Feb", "avr": "Apr", "juil": "Jul", "déc": "Dec",
	"okt": "Oct", "dez": "Dec", "mär": "Mar",
	"1er": "1",
}

// zoneOffsets replaces zone abbreviations Go cannot place with their offsets.
var zoneOffsets = map[string]string{
	"EST": "-0500", "EDT": "-0400", "CST": "-0600", "CDT": "-0500", "MST": "-0700", "MDT": "-0600",
	"PST": "-0800", "PDT": "-0700", "CET": "+0100", "CEST": "+0200", "MET": "+0100", "MEST": "+0200",
	"BST": "+0100", "EET": "+0200", "EEST": "+0300", "WET": "+0000", "WEST": "+0100",
	"GMT": "+0000", "UTC": "+0000", "UT": "+0000", "Z": "+0000",
}

var (
	wordRE     = regexp.MustCompile(`\p{L}+\.?|\d+(?:er|st|nd|rd|th)\b`)
	ordinalRE  = regexp.MustCompile(`^(\d+)(?:er|st|nd|rd|th)$`)
	trailZone  = regexp.MustCompile(` ([A-Z]{1,4})$`)
	digitsOnly = regexp.MustCompile(`^\d{9,13}$`)
	isoNoZone  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$`)
)

// errNoDate is returned when no date can be read from a string.
var errNoDate = errors.New("no date found")

// ParseDate reads a date as sources write it. layout (a Go layout, may be
// "") is tried first, then RFC 3339, RFC 1123/822, ISO dates, DD.MM.YYYY,
// US M/D/YYYY with AM/PM, "2 January 2006", "January 2, 2006" and a few more;
// French and German month names are understood, and a date is found inside
// surrounding text ("Published 25.09.2026"). Dates without a zone are in loc
// (UTC when nil). A string of 9 to 13 digits is a Unix time in seconds (or
// milliseconds from 12 digits on).
func ParseDate(s, layout string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	s = cleanText(s, ' ')
	if s == "" {
		return time.Time{}, errNoDate
	}
	if len(s) > 256 {
		// A date is short; text around it is cut so that a hostile page
		// cannot make every layout scan a long string.
		s = s[:256]
	}
	if digitsOnly.MatchString(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			return unixDate(float64(n))
		}
	}
	if layout != "" {
		if t, ok := parseIn(layout, s, loc); ok {
			return t, nil
		}
	}
	en := englishDate(s)
	for _, l := range dateLayouts {
		if t, ok := parseIn(l, en, loc); ok {
			return t, nil
		}
	}
	for _, re := range dateCandidateREs {
		for _, c := range re.FindAllString(en, 4) {
			if layout != "" {
				if t, ok := parseIn(layout, c, loc); ok {
					return t, nil
				}
			}
			for _, l := range dateLayouts {
				if t, ok := parseIn(l, c, loc); ok {
					return t, nil
				}
			}
		}
	}
	return time.Time{}, fmt.Errorf("%w in %q", errNoDate, s)
}

// unixDate reads a Unix time: seconds, or milliseconds when too large to
// be seconds of this era.
func unixDate(n float64) (time.Time, error) {
	if math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 {
		return time.Time{}, errNoDate
	}
	if n >= 1e11 {
		n /= 1000
	}
	sec, frac := math.Modf(n)
	t := time.Unix(int64(sec), int64(frac*1e9)).UTC()
	if !plausible(t) {
		return time.Time{}, fmt.Errorf("%w: %v is out of range", errNoDate, n)
	}
	return t, nil
}

func parseIn(layout, s string, loc *time.Location) (time.Time, bool) {
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		return time.Time{}, false
	}
	return t, plausible(t)
}

// plausible rejects years no news item has, which are typos or misreads.
func plausible(t time.Time) bool {
	y := t.Year()
	return y >= 1900 && y <= 2200
}

// englishDate rewrites French and German month names, ordinals ("1er",
// "2nd") and zone abbreviations so that Go's English layouts can read them.
func englishDate(s string) string {
	s = wordRE.ReplaceAllStringFunc(s, func(w string) string {
		if m := ordinalRE.FindStringSubmatch(w); m != nil {
			return m[1]
		}
		dot := strings.HasSuffix(w, ".")
		key := strings.ToLower(strings.TrimSuffix(w, "."))
		if en, ok := monthNames[key]; ok {
			return en
		}
		if len(key) >= 3 && !dot {
			// "SEPTEMBER", "september" → "September"
			for _, m := range englishMonths {
				if strings.EqualFold(key, m) {
					return m
				}
			}
		}
		return w
	})
	if m := trailZone.FindStringSubmatch(s); m != nil {
		if off, ok := zoneOffsets[m[1]]; ok {
			s = s[:len(s)-len(m[1])] + off
		}
	}
	return s
}

var englishMonths = []string{
	"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December",
}

// feedDate chooses between the date gofeed parsed and its raw text: a
// zoneless ISO date gofeed reads as UTC is read in loc instead, and a raw
// date gofeed could not read at all is tried with ParseDate.
func feedDate(raw string, parsed *time.Time, loc *time.Location) time.Time {
	raw = strings.TrimSpace(raw)
	if raw != "" && (parsed == nil || isoNoZone.MatchString(raw)) {
		if t, err := ParseDate(raw, "", loc); err == nil {
			return t
		}
	}
	if parsed != nil && plausible(*parsed) {
		return *parsed
	}
	return time.Time{}
}
