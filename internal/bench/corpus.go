package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/policywire/policywire"
)

// The corpus is made of EU-policy press material in English, French and
// German: an actor, a verb and a subject make a title; the lead sentence
// repeats the subject, and procedural filler sentences (which name no
// topic) pad an item's body to the size its source publishes. About 30% of
// the subjects are ones the bench topics look for, so about that share of
// new items alert somewhere.

// Languages of the corpus, in the order of the word-list columns.
var corpusLangs = [3]string{"en", "fr", "de"}

type phrase [3]string // en, fr, de

var corpusActors = []phrase{
	{"The Council", "Le Conseil", "Der Rat"},
	{"The Commission", "La Commission", "Die Kommission"},
	{"The High Representative", "Le haut représentant", "Der Hohe Vertreter"},
	{"The European Parliament", "Le Parlement européen", "Das Europäische Parlament"},
	{"The Presidency", "La présidence", "Der Vorsitz"},
	{"The Eurogroup", "L'Eurogroupe", "Die Euro-Gruppe"},
	{"The EEAS spokesperson", "Le porte-parole du SEAE", "Der EAD-Sprecher"},
	{"Ministers", "Les ministres", "Die Ministerinnen und Minister"},
	{"The European Council", "Le Conseil européen", "Der Europäische Rat"},
	{"The Court of Auditors", "La Cour des comptes", "Der Rechnungshof"},
}

var corpusVerbs = []phrase{
	{"adopts conclusions on", "adopte des conclusions sur", "nimmt Schlussfolgerungen an zu"},
	{"approves new rules on", "approuve de nouvelles règles sur", "billigt neue Vorschriften über"},
	{"welcomes the agreement on", "salue l'accord sur", "begrüßt die Einigung über"},
	{"launches a consultation on", "lance une consultation sur", "startet eine Konsultation zu"},
	{"publishes its report on", "publie son rapport sur", "veröffentlicht den Bericht über"},
	{"announces funding for", "annonce un financement pour", "kündigt Mittel an für"},
	{"holds a dialogue on", "tient un dialogue sur", "führt einen Dialog über"},
	{"reaches a provisional deal on", "parvient à un accord provisoire sur", "erzielt eine vorläufige Einigung über"},
	{"sets out priorities for", "définit les priorités pour", "legt Prioritäten fest für"},
	{"issues a statement on", "publie une déclaration sur", "gibt eine Erklärung ab zu"},
}

// corpusTopical are subjects some bench topic matches.
var corpusTopical = []phrase{
	{"digital diplomacy", "la diplomatie numérique", "die digitale Diplomatie"},
	{"the cyber security of undersea cables", "la cybersécurité des câbles sous-marins", "die Cybersicherheit von Unterseekabeln"},
	{"the cyber resilience of critical infrastructure", "la cyber-résilience des infrastructures critiques", "die Cyberresilienz kritischer Infrastrukturen"},
	{"the artificial intelligence act", "le règlement sur l'intelligence artificielle", "die Verordnung über künstliche Intelligenz"},
	{"critical raw materials", "les matières premières critiques", "kritische Rohstoffe"},
	{"semiconductor supply chains", "les chaînes d'approvisionnement en semi-conducteurs", "Lieferketten für Halbleiter"},
	{"fishing opportunities in the Baltic Sea", "les possibilités de pêche en mer Baltique", "Fangmöglichkeiten in der Ostsee"},
	{"agricultural markets", "les marchés agricoles", "die Agrarmärkte"},
	{"the 2027 budget", "le budget 2027", "den Haushalt 2027"},
	{"migration and asylum", "la migration et l'asile", "Migration und Asyl"},
	{"humanitarian aid to Sudan", "l'aide humanitaire au Soudan", "humanitäre Hilfe für den Sudan"},
	{"energy prices", "les prix de l'énergie", "die Energiepreise"},
	{"trade with Mercosur", "le commerce avec le Mercosur", "den Handel mit dem Mercosur"},
	{"sanctions against Russia", "les sanctions contre la Russie", "Sanktionen gegen Russland"},
	{"the rule of law", "l'État de droit", "die Rechtsstaatlichkeit"},
	{"enlargement to the Western Balkans", "l'élargissement aux Balkans occidentaux", "die Erweiterung um den Westbalkan"},
	{"climate neutrality by 2050", "la neutralité climatique d'ici 2050", "die Klimaneutralität bis 2050"},
	{"data protection", "la protection des données", "den Datenschutz"},
	{"space surveillance", "la surveillance de l'espace", "die Weltraumüberwachung"},
	{"public health preparedness", "la préparation en matière de santé publique", "die Vorsorge im Bereich der öffentlichen Gesundheit"},
	{"online platforms", "les plateformes en ligne", "Online-Plattformen"},
	{"tech ambassadors", "les ambassadeurs pour le numérique", "Technologiebotschafter"},
	{"hydrogen networks", "les réseaux d'hydrogène", "Wasserstoffnetze"},
}

// corpusEveryday are subjects no bench topic matches.
var corpusEveryday = []phrase{
	{"wine labelling", "l'étiquetage du vin", "die Weinetikettierung"},
	{"the European Defence Fund", "le Fonds européen de la défense", "den Europäischen Verteidigungsfonds"},
	{"the Arctic", "l'Arctique", "die Arktis"},
	{"financial stability", "la stabilité financière", "die Finanzstabilität"},
	{"consumer rights", "les droits des consommateurs", "die Verbraucherrechte"},
	{"youth employment", "l'emploi des jeunes", "die Jugendbeschäftigung"},
	{"the visit of the President to Japan", "la visite du président au Japon", "den Besuch des Präsidenten in Japan"},
	{"tourism statistics", "les statistiques du tourisme", "die Tourismusstatistik"},
	{"the annual activity report", "le rapport annuel d'activité", "den jährlichen Tätigkeitsbericht"},
	{"the appointment of a new director-general", "la nomination d'un nouveau directeur général", "die Ernennung eines neuen Generaldirektors"},
	{"pension systems", "les systèmes de retraite", "die Rentensysteme"},
	{"road safety", "la sécurité routière", "die Verkehrssicherheit"},
	{"the cohesion policy", "la politique de cohésion", "die Kohäsionspolitik"},
	{"the single currency", "la monnaie unique", "die gemeinsame Währung"},
	{"cultural heritage", "le patrimoine culturel", "das kulturelle Erbe"},
	{"rail passenger rights", "les droits des voyageurs ferroviaires", "die Fahrgastrechte im Eisenbahnverkehr"},
	{"the customs union", "l'union douanière", "die Zollunion"},
	{"forest monitoring", "la surveillance des forêts", "die Waldüberwachung"},
	{"the outermost regions", "les régions ultrapériphériques", "die Gebiete in äußerster Randlage"},
	{"veterinary medicines", "les médicaments vétérinaires", "Tierarzneimittel"},
	{"water resilience", "la résilience dans le domaine de l'eau", "die Wasserresilienz"},
	{"the statute of judges", "le statut des juges", "das Richterstatut"},
	{"school meals", "les repas scolaires", "die Schulverpflegung"},
	{"sport and volunteering", "le sport et le bénévolat", "Sport und Ehrenamt"},
	{"the European Statistical System", "le système statistique européen", "das Europäische Statistische System"},
	{"the Erasmus programme", "le programme Erasmus", "das Erasmus-Programm"},
	{"postal services", "les services postaux", "die Postdienste"},
	{"the insolvency framework", "le cadre en matière d'insolvabilité", "den Insolvenzrahmen"},
	{"maritime spatial planning", "la planification de l'espace maritime", "die maritime Raumplanung"},
	{"the accessibility of websites", "l'accessibilité des sites web", "die Barrierefreiheit von Websites"},
	{"the Court's annual report", "le rapport annuel de la Cour", "den Jahresbericht des Hofes"},
	{"animal welfare during transport", "le bien-être des animaux pendant le transport", "den Tierschutz beim Transport"},
	{"the ombudsman's inquiry", "l'enquête de la médiatrice", "die Untersuchung der Bürgerbeauftragten"},
	{"regional airports", "les aéroports régionaux", "Regionalflughäfen"},
	{"the stability programme of Portugal", "le programme de stabilité du Portugal", "das Stabilitätsprogramm Portugals"},
	{"textile labelling", "l'étiquetage des textiles", "die Textilkennzeichnung"},
	{"the census round", "le cycle de recensement", "die Zensusrunde"},
	{"industrial emissions reporting", "la déclaration des émissions industrielles", "die Berichterstattung über Industrieemissionen"},
	{"the staff regulations", "le statut des fonctionnaires", "das Beamtenstatut"},
	{"the Luxembourg summit", "le sommet de Luxembourg", "den Gipfel in Luxemburg"},
	{"late payments", "les retards de paiement", "den Zahlungsverzug"},
	{"the Olympic truce", "la trêve olympique", "den olympischen Frieden"},
	{"inland waterways", "les voies navigables intérieures", "die Binnenwasserstraßen"},
	{"the archives of the institutions", "les archives des institutions", "die Archive der Organe"},
	{"tobacco taxation", "la taxation du tabac", "die Tabakbesteuerung"},
	{"the open-door day", "la journée portes ouvertes", "den Tag der offenen Tür"},
	{"copyright licensing", "les licences de droit d'auteur", "die Urheberrechtslizenzen"},
	{"the transparency register", "le registre de transparence", "das Transparenzregister"},
	{"seed marketing", "la commercialisation des semences", "das Inverkehrbringen von Saatgut"},
	{"winter tyres", "les pneus d'hiver", "Winterreifen"},
	{"the car-free day", "la journée sans voiture", "den autofreien Tag"},
	{"the choir festival", "le festival des chorales", "das Chorfestival"},
	{"the rural development report", "le rapport sur le développement rural", "den Bericht zur ländlichen Entwicklung"},
}

var corpusPlaces = []phrase{
	{"in Brussels", "à Bruxelles", "in Brüssel"},
	{"in Luxembourg", "à Luxembourg", "in Luxemburg"},
	{"in Strasbourg", "à Strasbourg", "in Straßburg"},
	{"in Tokyo", "à Tokyo", "in Tokio"},
	{"in Geneva", "à Genève", "in Genf"},
	{"in Nairobi", "à Nairobi", "in Nairobi"},
	{"in Kyiv", "à Kyiv", "in Kyjiw"},
	{"in Ottawa", "à Ottawa", "in Ottawa"},
}

// corpusLeads open an item's body; %s is the subject.
var corpusLeads = []phrase{
	{"Today the ministers discussed %s and agreed on the next steps.", "Les ministres ont discuté aujourd'hui de %s et se sont accordés sur les prochaines étapes.", "Die Ministerinnen und Minister erörterten heute %s und einigten sich auf die nächsten Schritte."},
	{"The text on %s was approved after lengthy negotiations.", "Le texte relatif à %s a été approuvé après de longues négociations.", "Der Text über %s wurde nach langen Verhandlungen gebilligt."},
	{"This decision on %s follows the proposal presented last year.", "Cette décision concernant %s fait suite à la proposition présentée l'an dernier.", "Dieser Beschluss zu %s folgt dem im vergangenen Jahr vorgelegten Vorschlag."},
}

// corpusFiller pads bodies; it names no subject a topic looks for.
var corpusFiller = []phrase{
	{"The meeting was chaired by the minister of the member state holding the presidency.", "La réunion était présidée par le ministre de l'État membre assurant la présidence.", "Die Tagung wurde vom Minister des Mitgliedstaats geleitet, der den Vorsitz innehat."},
	{"The text will now be formally adopted by both institutions before it enters into force.", "Le texte doit maintenant être formellement adopté par les deux institutions avant d'entrer en vigueur.", "Der Text muss nun von beiden Organen förmlich angenommen werden, bevor er in Kraft tritt."},
	{"Delegations exchanged views on the state of play and on the timetable for the coming months.", "Les délégations ont procédé à un échange de vues sur l'état d'avancement et sur le calendrier des prochains mois.", "Die Delegationen tauschten sich über den Sachstand und den Zeitplan für die kommenden Monate aus."},
	{"The regulation will be published in the Official Journal and will apply twenty days later.", "Le règlement sera publié au Journal officiel et s'appliquera vingt jours plus tard.", "Die Verordnung wird im Amtsblatt veröffentlicht und gilt zwanzig Tage später."},
	{"A press conference will follow the meeting and will be streamed on the website.", "Une conférence de presse suivra la réunion et sera retransmise sur le site internet.", "Im Anschluss an die Tagung findet eine Pressekonferenz statt, die auf der Website übertragen wird."},
	{"Member states will report on the implementation of these measures by the end of next year.", "Les États membres rendront compte de la mise en œuvre de ces mesures d'ici la fin de l'année prochaine.", "Die Mitgliedstaaten berichten bis Ende nächsten Jahres über die Umsetzung dieser Maßnahmen."},
	{"The presidency thanked the rapporteur for the constructive cooperation throughout the procedure.", "La présidence a remercié le rapporteur pour la coopération constructive tout au long de la procédure.", "Der Vorsitz dankte dem Berichterstatter für die konstruktive Zusammenarbeit während des gesamten Verfahrens."},
	{"Background information and the full text of the conclusions are available in the annex.", "Des informations générales et le texte intégral des conclusions figurent en annexe.", "Hintergrundinformationen und der vollständige Wortlaut der Schlussfolgerungen sind im Anhang zu finden."},
	{"The next meeting is scheduled for the autumn, when a first assessment will be presented.", "La prochaine réunion est prévue à l'automne, lorsqu'une première évaluation sera présentée.", "Die nächste Tagung ist für den Herbst geplant, wenn eine erste Bewertung vorgelegt wird."},
	{"Several ministers stressed the importance of a coordinated approach at national level.", "Plusieurs ministres ont souligné l'importance d'une approche coordonnée au niveau national.", "Mehrere Minister betonten die Bedeutung eines koordinierten Vorgehens auf nationaler Ebene."},
	{"The agreement strikes a balance between the positions of the co-legislators.", "L'accord établit un équilibre entre les positions des colégislateurs.", "Die Einigung stellt einen Ausgleich zwischen den Standpunkten der Mitgesetzgeber her."},
	{"Stakeholders may submit their comments through the online portal within twelve weeks.", "Les parties intéressées peuvent soumettre leurs observations via le portail en ligne dans un délai de douze semaines.", "Interessenträger können ihre Stellungnahmen innerhalb von zwölf Wochen über das Online-Portal einreichen."},
}

var corpusCategories = []phrase{
	{"Press release", "Communiqué de presse", "Pressemitteilung"},
	{"Statement", "Déclaration", "Erklärung"},
	{"News", "Actualités", "Nachrichten"},
	{"Meeting", "Réunion", "Tagung"},
}

// corpusItem is the content of one synthetic publication, before it is
// written as RSS or Atom.
type corpusItem struct {
	Seq        int
	Title      string
	Lead       string   // the first paragraph (the feed's description)
	Paragraphs []string // the rest of the body
	Category   string
	Published  time.Time
	Link       string
	Ref        string // a press code such as IP/26/1234, or ""
}

// textSubject picks the subject of one item: topical with probability 0.3.
func textSubject(r *rand.Rand) phrase {
	if r.IntN(10) < 3 {
		return corpusTopical[r.IntN(len(corpusTopical))]
	}
	return corpusEveryday[r.IntN(len(corpusEveryday))]
}

// makeTitle builds a headline in language li.
func makeTitle(r *rand.Rand, li int, subj phrase) string {
	actor := corpusActors[r.IntN(len(corpusActors))][li]
	verb := corpusVerbs[r.IntN(len(corpusVerbs))][li]
	t := actor + " " + verb + " " + subj[li]
	if r.IntN(3) == 0 {
		t += " " + corpusPlaces[r.IntN(len(corpusPlaces))][li]
	}
	return t
}

// fillParagraphs appends filler paragraphs of about 3 sentences until the
// text reaches size bytes.
func fillParagraphs(r *rand.Rand, li int, size int) []string {
	var out []string
	n := 0
	for n < size {
		var b strings.Builder
		for k := 0; k < 3; k++ {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(corpusFiller[r.IntN(len(corpusFiller))][li])
		}
		out = append(out, b.String())
		n += b.Len() + 8
	}
	return out
}

// archiveItem is the i-th item of a synthetic archive for the search
// benchmark: a short multilingual press item of about 1 KB of text.
func archiveItem(seed uint64, i int, epoch time.Time) policywire.Item {
	r := rand.New(rand.NewPCG(seed, uint64(i)+1))
	li := pickLang(r)
	subj := textSubject(r)
	lead := fmt.Sprintf(corpusLeads[r.IntN(len(corpusLeads))][li], subj[li])
	filler := fillParagraphs(r, li, 400+r.IntN(800))
	src := fmt.Sprintf("archive-%03d", r.IntN(300))
	it := policywire.Item{
		Source:     src,
		URL:        fmt.Sprintf("https://press.policy.example/%s/%s/%d", src, corpusLangs[li], i),
		Title:      makeTitle(r, li, subj),
		Summary:    lead,
		Content:    strings.Join(filler, "\n\n"),
		Published:  epoch.Add(-time.Duration(i) * 7 * time.Minute),
		Language:   corpusLangs[li],
		Categories: []string{corpusCategories[r.IntN(len(corpusCategories))][li]},
	}
	if r.IntN(4) == 0 {
		it.References = []string{fmt.Sprintf("IP/%02d/%d", 20+r.IntN(7), 1000+r.IntN(9000))}
	}
	it.CanonicalURL = it.URL
	it.ID = policywire.Identity(it)
	return it
}

// pickLang draws a language: 60% English, 20% French, 20% German.
func pickLang(r *rand.Rand) int {
	switch n := r.IntN(10); {
	case n < 6:
		return 0
	case n < 8:
		return 1
	default:
		return 2
	}
}
