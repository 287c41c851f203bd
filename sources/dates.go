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
	"2 January 2006 15:04:05 -0700",
	"2 January 2006 15:04:05",
	"2 January 2006 15:04",
	"2 January 2006",
	"2. January 2006 15:04:05",
	"2. January 2006 15:04",
	"2 Jan 2006 15:04",
	"2 Jan 2006",
	"2. January 2006",
	"2. Jan 2006",
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

// monthNames maps the month names (and their abbreviations and genitive
// forms) of French, German, Spanish, Italian, Dutch, Portuguese and Polish,
// and other spellings, to the English names Go's layouts know.
var monthNames = map[string]string{
	// French
	"janvier": "January", "février": "February", "fevrier": "February", "mars": "March",
	"avril": "April", "mai": "May", "juin": "June", "juillet": "July", "août": "August",
	"aout": "August", "septembre": "September", "octobre": "October", "novembre": "November",
	"décembre": "December", "decembre": "December",
	"janv": "Jan", "févr": "Feb", "fevr": "Feb", "avr": "Apr", "juil": "Jul", "déc": "Dec",
	// German
	"januar": "January", "jänner": "January", "februar": "February", "märz": "March",
	"maerz": "March", "juni": "June", "juli": "July", "oktober": "October", "dezember": "December",
	"okt": "Oct", "dez": "Dec", "mär": "Mar", "mrz": "Mar",
	// Spanish
	"enero": "January", "febrero": "February", "marzo": "March", "abril": "April", "mayo": "May",
	"junio": "June", "julio": "July", "agosto": "August", "septiembre": "September",
	"setiembre": "September", "octubre": "October", "noviembre": "November", "diciembre": "December",
	"ene": "Jan", "abr": "Apr", "ago": "Aug", "dic": "Dec",
	// Italian
	"gennaio": "January", "febbraio": "February", "aprile": "April", "maggio": "May",
	"giugno": "June", "luglio": "July", "settembre": "September", "ottobre": "October",
	"dicembre": "December", "gen": "Jan", "mag": "May", "giu": "Jun", "lug": "Jul", "ott": "Oct",
	// Dutch
	"januari": "January", "februari": "February", "maart": "March", "mei": "May",
	"augustus": "August", "mrt": "Mar",
	// Portuguese
	"janeiro": "January", "fevereiro": "February", "março": "March", "marco": "March",
	"maio": "May", "junho": "June", "julho": "July", "setembro": "September",
	"outubro": "October", "novembro": "November", "dezembro": "December", "fev": "Feb",
	"out": "Oct", "set": "Sep",
	// Polish, in the nominative and the genitive dates use
	"styczeń": "January", "stycznia": "January", "luty": "February", "lutego": "February",
	"marzec": "March", "marca": "March", "kwiecień": "April", "kwietnia": "April",
	"maj": "May", "maja": "May", "czerwiec": "June", "czerwca": "June", "lipiec": "July",
	"lipca": "July", "sierpień": "August", "sierpnia": "August", "wrzesień": "September",
	"września": "September", "październik": "October", "października": "October",
	"listopad": "November", "listopada": "November", "grudzień": "December", "grudnia": "December",
	"sty": "Jan", "lut": "Feb", "kwi": "Apr", "cze": "Jun", "lip": "Jul", "sie": "Aug",
	"wrz": "Sep", "paź": "Oct", "lis": "Nov", "gru": "Dec",
	"sept": "Sep",
	"1er":  "1",
}

// dayNames are the names of the days of the week, whole and abbreviated,
// in the languages of monthNames; a date that starts with one drops it,
// since the date says the day already.
var dayNames = func() map[string]bool {
	m := map[string]bool{}
	for _, d := range strings.Fields(`
		lundi mardi mercredi jeudi vendredi samedi dimanche lun mar mer jeu ven sam dim
		montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag mo di mi do fr sa so
		lunes martes miércoles miercoles jueves viernes sábado sabado domingo mié mie jue vie sáb sab dom
		lunedì lunedi martedì martedi mercoledì mercoledi giovedì giovedi venerdì venerdi sabato domenica
		maandag dinsdag woensdag donderdag vrijdag zaterdag zondag ma wo vr za zo
		segunda-feira terça-feira terca-feira quarta-feira quinta-feira sexta-feira segunda terça terca
		quarta quinta sexta seg ter qua qui sex
		poniedziałek wtorek środa czwartek piątek sobota niedziela pon wt śr czw pt sob niedz nd`) {
		m[d] = true
	}
	return m
}()

// zoneOffsets replaces zone abbreviations Go cannot place with their
// offsets. (Go reads an abbreviation it does not know as a zone of offset
// zero, which would move the time by hours.) IST and other abbreviations
// that name zones of different offsets are left out.
var zoneOffsets = map[string]string{
	"EST": "-0500", "EDT": "-0400", "CST": "-0600", "CDT": "-0500", "MST": "-0700", "MDT": "-0600",
	"PST": "-0800", "PDT": "-0700", "AKST": "-0900", "AKDT": "-0800", "HST": "-1000",
	"AST": "-0400", "ADT": "-0300", "NST": "-0330", "NDT": "-0230",
	"CET": "+0100", "CEST": "+0200", "MET": "+0100", "MEST": "+0200", "MEZ": "+0100", "MESZ": "+0200",
	"BST": "+0100", "EET": "+0200", "EEST": "+0300", "WET": "+0000", "WEST": "+0100",
	"MSK": "+0300", "CAT": "+0200", "EAT": "+0300", "WAT": "+0100", "SAST": "+0200",
	"JST": "+0900", "KST": "+0900", "HKT": "+0800", "SGT": "+0800", "AWST": "+0800",
	"ACST": "+0930", "ACDT": "+1030", "AEST": "+1000", "AEDT": "+1100", "NZST": "+1200", "NZDT": "+1300",
	"GMT": "+0000", "UTC": "+0000", "UT": "+0000", "Z": "+0000",
}

var (
	wordRE    = regexp.MustCompile(`\p{L}+\.?|\d+(?:er|st|nd|rd|th)\b`)
	ordinalRE = regexp.MustCompile(`^(\d+)(?:er|st|nd|rd|th)$`)
	trailZone = regexp.MustCompile(` ([A-Z]{1,5})$`)
	// "GMT+2", "UTC-01:01", "GMT+0200", and "Etc/GMT-2", the tz database's
	// name for UTC+2 (its sign is inverted, as in POSIX TZ strings).
	gmtOffset    = regexp.MustCompile(` (Etc/GMT|Etc/UTC|GMT|UTC|UT)([+-])(\d{1,2})(?::?(\d{2}))?$`)
	leadingDay   = regexp.MustCompile(`^([\p{L}-]+)\.?,?\s+(\d)`)
	dateFillers  = regexp.MustCompile(`(?i)(\d) (?:de|del) (\p{L}+\.?) (?:de |del )?(\d{4})`)
	timeFillers  = regexp.MustCompile(`(?i)(\d{4})(?:,? (?:à|a las|a la|um|alle|ore|om|às|as|o godz\.|godz\.|at|-)|,) (\d{1,2})[:h.](\d{2})`)
	frenchClock  = regexp.MustCompile(`(\d{1,2})h(\d{2})\b`)
	germanOClock = regexp.MustCompile(`(\d{1,2}:\d{2}) Uhr\b`)
	clockRE      = regexp.MustCompile(`\d{1,2}[:h]\d{2}`)
	digitsOnly   = regexp.MustCompile(`^\d{9,13}$`)
	isoNoZone    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$`)
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

// englishDate rewrites month and day names of other languages, the words
// around their dates ("20 de octubre de 2026", "à 11h45", "11:45 Uhr"),
// ordinals ("1er", "2nd") and zone names and offsets so that Go's English
// layouts can read them.
func englishDate(s string) string {
	if m := leadingDay.FindStringSubmatchIndex(s); m != nil && dayNames[strings.ToLower(s[m[2]:m[3]])] {
		s = s[m[4]:]
	}
	s = frenchClock.ReplaceAllString(s, "$1:$2")
	s = germanOClock.ReplaceAllString(s, "$1")
	s = dateFillers.ReplaceAllString(s, "$1 $2 $3")
	s = timeFillers.ReplaceAllString(s, "$1 $2:$3")
	s = wordRE.ReplaceAllStringFunc(s, func(w string) string {
		if m := ordinalRE.FindStringSubmatch(w); m != nil {
			return m[1]
		}
		dot := strings.HasSuffix(w, ".")
		key := strings.ToLower(strings.TrimSuffix(w, "."))
		if en, ok := monthNames[key]; ok {
			return en
		}
		if len(key) == 3 {
			// "oct", "OCT.", "Oct." → "Oct"
			for _, m := range englishMonths {
				if strings.EqualFold(key, m[:3]) {
					return m[:3]
				}
			}
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
	if m := gmtOffset.FindStringSubmatchIndex(s); m != nil {
		sign := s[m[4]:m[5]]
		if strings.HasPrefix(s[m[2]:m[3]], "Etc/") {
			sign = map[string]string{"+": "-", "-": "+"}[sign]
		}
		h, mins := s[m[6]:m[7]], "00"
		if m[8] >= 0 {
			mins = s[m[8]:m[9]]
		}
		if len(h) == 1 {
			h = "0" + h
		}
		s = s[:m[2]] + sign + h + mins
	} else if m := trailZone.FindStringSubmatch(s); m != nil {
		if off, ok := zoneOffsets[m[1]]; ok {
			s = s[:len(s)-len(m[1])] + off
		}
	}
	return s
}

// hasZoneName reports a date that ends with a zone written as a name
// ("MEST", "Etc/GMT-2", "GMT-01:01"), which the feed parser may place at
// the wrong offset.
func hasZoneName(s string) bool {
	if gmtOffset.MatchString(s) {
		return true
	}
	// A name of offset zero is read right however it is read.
	m := trailZone.FindStringSubmatch(s)
	return m != nil && zoneOffsets[m[1]] != "+0000"
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
	// gofeed reads some zone names at offset zero and drops the time of
	// day of dates in other languages; those are read here instead.
	lostClock := parsed != nil && parsed.Hour() == 0 && parsed.Minute() == 0 && clockRE.MatchString(raw)
	if raw != "" && (parsed == nil || isoNoZone.MatchString(raw) || hasZoneName(raw) || lostClock) {
		if t, err := ParseDate(raw, "", loc); err == nil {
			return t
		}
	}
	if parsed != nil && plausible(*parsed) {
		return *parsed
	}
	return time.Time{}
}
