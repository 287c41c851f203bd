package summary

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/policywire/policywire/query"
)

// fold lower-cases s and removes its diacritics, so "Réunion" and "reunion"
// compare equal. It is the query language's folding, which reads most text
// without decomposing it.
func fold(s string) string { return query.Fold(s) }

// words splits folded text into words of letters and digits.
func words(folded string) []string {
	return strings.FieldsFunc(folded, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// contentWords returns the words of s that carry meaning: folded, not stop
// words, not single letters and not pure numbers.
func contentWords(s string) []string { return contentWordsOf(words(fold(s))) }

// contentWordsOf keeps the content words of folded words ws.
func contentWordsOf(ws []string) []string {
	var out []string
	for _, w := range ws {
		if utf8.RuneCountInString(w) < 2 || stopWords[w] || isDigits(w) {
			continue
		}
		out = append(out, w)
	}
	return out
}

// stopWords are English, French and German function words, folded.
var stopWords = foldedSetOf(strings.Fields(`
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each either few for from further had has have
having he her here hers herself him himself his how however i if in into is it its itself just may me
might more most must my myself neither no nor not now of off on once only or other our ours ourselves out
over own same shall she should so some such than that the their theirs them themselves then there these
they this those through to too under until up upon very via was we were what when where whether which while
who whom whose why will with within without would yet you your yours yourself yourselves s t re ve ll d
one two three four five six seven eight nine ten new today said says say also well across among
alors au aucun aussi autre aux avec avoir avait bon car ce cela celle celles celui ces cet cette ceux chaque
ci comme comment dans de des donc dont du elle elles en encore entre est et etaient etait ete etre eu fait
faire fois font hors ici il ils je juste la le les leur leurs lui ma mais me meme mes moi mon ne ni nos
notre nous on ont ou par parce pas peu peut plus pour pourquoi qu quand que quel quelle quelles quels qui
sa sans se sera ses si sien son sont sous soyez sur ta tandis te tes toi ton tous tout toute toutes tres
tu un une vos votre vous vu ça sept huit neuf dix deux trois quatre cinq six ainsi apres avant
aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes anders auch
auf aus bei bin bis bist da damit dann das dass dein deine dem den denn der des dessen dich die dies diese
diesem diesen dieser dieses dir doch dort du durch ein eine einem einen einer eines einig einige er es
etwas euch euer eure fur gegen gewesen hab habe haben hat hatte hatten hier hin hinter ich ihm ihn ihnen
ihr ihre im in indem ins ist jede jedem jeden jeder jedes jene jenem jenen jener jenes jetzt kann kein
keine keinem keinen keiner konnen man manche mein meine mich mir mit muss musste nach nicht nichts noch
nun nur ob oder ohne sehr sein seine seinem seinen seiner sich sie sind so solche soll sollte sondern
sonst uber um und uns unser unsere unter vom von vor wahrend war waren warst was weg weil weiter welche
wenn werde werden wie wieder will wir wird wirst wo wollen wollte wurde wurden zu zum zur zwar zwischen
zwei drei vier funf sechs sieben acht neun zehn heute sowie
`)...)

func foldedSetOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[fold(w)] = true
	}
	return m
}

// boilerplatePattern is one kind of page furniture: a regexp matched
// against folded text, behind a cheap test of something every match
// contains. Nearly every sentence of an article passes none of the tests,
// and skipping the regexps there makes most of the cost of a summary go
// away.
type boilerplatePattern struct {
	mayMatch func(folded string) bool
	re       *regexp.Regexp
}

func prefixedBy(prefixes ...string) func(string) bool {
	return anyString(strings.HasPrefix, prefixes)
}

// atMost is the test for patterns that match a whole short text.
func atMost(n int) func(string) bool {
	return func(s string) bool { return len(s) <= n }
}

func endsWithDigit(s string) bool {
	return s != "" && s[len(s)-1] >= '0' && s[len(s)-1] <= '9'
}

// mentionsCookies guards the cookie notices.
var mentionsCookies = containsAny("cookie", "accepted", "rejected")

// boilerplatePatterns match the furniture of web pages and feeds: cookie
// notices, sharing and printing widgets, navigation, feedback forms,
// newsletter sign-ups and contact blocks. They are matched against folded
// text and only against short blocks and sentences, so that an article about
// cookie rules is not mistaken for a cookie banner.
var boilerplatePatterns = []boilerplatePattern{
	// Cookie notices, phrased as a site speaks of itself, so that news about
	// cookie rules is kept.
	{mentionsCookies, regexp.MustCompile(`\b(we|this (site|website|service)|gov\.uk|europa\.eu) (use|uses|set|sets|would like to (use|set)|store|stores)\b.*\bcookies\b`)},
	{mentionsCookies, regexp.MustCompile(`\bcookies\b.*\b(to (improve|give|make|remember|understand|collect|measure|help|ensure|offer|provide|analyse|analyze)|on your (device|computer|browser))\b`)},
	{mentionsCookies, regexp.MustCompile(`\b(accept|reject|refuse|allow|manage|change|customi[sz]e)( all| additional| analytics| optional| essential| non-essential| necessary)? cookies\b`)},
	{mentionsCookies, regexp.MustCompile(`\bcookie (settings|preferences|notice)\b|\b(analytics|strictly necessary) cookies\b|\byou( have|.ve) (accepted|rejected)\b`)},
	// Sharing, printing and navigation. The longest fixed label is 23
	// characters; "share on" takes any word.
	{func(s string) bool { return len(s) <= 25 || strings.HasPrefix(s, "share on ") },
		regexp.MustCompile(`^(share|share this( page| article)?|share on \w+|print|print this page|print friendly|email|tweet|download|download pdf|related links|related content|related articles|related documents|related topics|see also|read more|more information|tags?|topics?|follow us|back to top|top|next|previous|home|menu|search|skip to (main )?content|you are here|breadcrumb|privacy (policy|notice|statement)|terms of use|legal notice|accessibility( statement)?|cookies?|contact( us)?|sitemap|faq)\s*:?$`)},
	{containsAny("share "), regexp.MustCompile(`\bshare (this|on) (page|article|facebook|twitter|x|linkedin|email|whatsapp)\b`)},
	{containsAny("skip to ", "you are here"), regexp.MustCompile(`\bskip to (main )?content\b|\byou are here\s*:`)},
	// Feedback forms.
	{containsAny("this page"), regexp.MustCompile(`\b(is|was) this page (useful|helpful)\b`)},
	{containsAny("report a problem", "help us improve", "your feedback", "include personal", "this page is"),
		regexp.MustCompile(`\b(report a problem with this page|help us improve|thank you for your feedback|don.?t include personal or financial information|yes this page is useful|no this page is not useful)\b`)},
	// Newsletters.
	{containsAny("sign up", "subscribe"), regexp.MustCompile(`\b(sign up|subscribe)\b.*\b(newsletter|updates|alerts|emails?|mailing list)\b`)},
	{containsAny("newsletter"), regexp.MustCompile(`\bnewsletter\b.*\b(sign up|subscribe|register|receive)\b`)},
	// Legal lines and browser warnings.
	{containsAny("©", "copyright", "all rights reserved"), regexp.MustCompile(`©|\bcopyright (\d{4}|information|notice)\b|\ball rights reserved\b`)},
	{containsAny("javascript", "your browser"), regexp.MustCompile(`\b(enable|turn on) javascript\b|\byour browser\b.*\b(not supported|outdated|javascript)\b`)},
	// Page metadata.
	{prefixedBy("published", "last updated", "updated", "first published"), regexp.MustCompile(`^(published|last updated|updated|first published)\b.{0,40}$`)},
	{containsAny(":"), regexp.MustCompile(`^(from|part of|related|explore the topic|contents|page \d+ of \d+)\s*:`)},
	{prefixedBy("the following"), regexp.MustCompile(`^the following (statement )?is attributed to\b`)},
	{atMost(20), regexp.MustCompile(`^(updates to this page|news story|press release|press statement|statement|speech|fact sheet|media note|readout|news article|news)$`)},
	// A date alone: "April 4, 2022", "18 July 2022 15:20", "01.09.2022".
	{endsWithDigit, regexp.MustCompile(`^(\d{1,2}\.? [a-z]+ \d{4}|[a-z]+\.? \d{1,2}, \d{4}|\d{1,2}[./]\d{1,2}[./]\d{4}|\d{4}-\d{2}-\d{2})( \d{1,2}[:.]\d{2})?$`)},
	// Contact blocks.
	{containsAny("press "), regexp.MustCompile(`\bpress (contact|contacts|officer|office)\b.*(\+\d|@|\bphone\b|\btel\b)`)},
	{containsAny("+"), regexp.MustCompile(`\+\d{2,3}[\s().\d]{7,}`)},
	{containsAny("@"), regexp.MustCompile(`[\w.+-]+@[\w-]+\.[\w.-]+`)},
	{containsAny("visit the meeting page", "watch the "), regexp.MustCompile(`\b(visit the meeting page|watch the (video|press conference))\b`)},
}

// boilerplateMaxRunes bounds the text the patterns are tried on: furniture is
// short, substance is not.
const boilerplateMaxRunes = 300

// isBoilerplate reports whether a short block or sentence is page furniture.
func isBoilerplate(s string) bool { return isFoldedBoilerplate(s, "") }

// isFoldedBoilerplate is isBoilerplate with fold(s) already made, or ""
// when it is not.
func isFoldedBoilerplate(s, folded string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return true
	}
	if utf8.RuneCountInString(s) > boilerplateMaxRunes {
		return false
	}
	if folded == "" {
		folded = fold(s)
	}
	f := strings.Join(strings.Fields(folded), " ")
	for _, p := range boilerplatePatterns {
		if p.mayMatch(f) && p.re.MatchString(f) {
			return true
		}
	}
	return false
}

// ContentWords returns the words of s that carry meaning, folded: no stop
// words, single letters or pure numbers. "Watch similar" builds its query
// from a title's.
func ContentWords(s string) []string { return contentWords(s) }
