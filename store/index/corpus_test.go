package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

// The relevance corpus, testdata/corpus.json, is written by this generator
// (go test ./store/index/ -run TestCorpus -update): hand-written items the
// relevance tests look for, among generated everyday items of the same
// sources in English, French and German.

// TestCorpus checks that testdata/corpus.json is what the generator makes.
func TestCorpus(t *testing.T) {
	items := generateCorpus()
	got, err := json.MarshalIndent(items, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "corpus.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./store/index/ -run TestCorpus -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the generator's output (go test ./store/index/ -run TestCorpus -update rewrites it)", path)
	}
	if len(items) < 200 {
		t.Fatalf("corpus has %d items, want at least 200", len(items))
	}
	langs := map[string]int{}
	ids := map[string]bool{}
	for _, it := range items {
		langs[it.Language]++
		if ids[it.ID] {
			t.Errorf("duplicate id %s", it.ID)
		}
		ids[it.ID] = true
	}
	for _, l := range []string{"en", "fr", "de"} {
		if langs[l] < 40 {
			t.Errorf("%d items in %s, want at least 40", langs[l], l)
		}
	}
}

// corpusSource is a source of the corpus: its id, language and the base of
// its item URLs.
type corpusSource struct{ id, lang, base string }

var (
	srcCouncil    = corpusSource{"council-press", "en", "https://www.consilium.europa.eu/en/press/press-releases/"}
	srcEEAS       = corpusSource{"eeas-press", "en", "https://www.eeas.europa.eu/eeas/"}
	srcCommission = corpusSource{"commission-presscorner", "en", "https://ec.europa.eu/commission/presscorner/detail/en/"}
	srcEP         = corpusSource{"europarl-press", "en", "https://www.europarl.europa.eu/news/en/press-room/"}
	srcEPde       = corpusSource{"europarl-press-de", "de", "https://www.europarl.europa.eu/news/de/press-room/"}
	srcFCDO       = corpusSource{"govuk-fcdo", "en", "https://www.gov.uk/government/news/"}
	srcDiplo      = corpusSource{"diplomatie", "fr", "https://www.diplomatie.gouv.fr/fr/actualites/"}
	srcAgriFR     = corpusSource{"agriculture-gouv", "fr", "https://agriculture.gouv.fr/"}
	srcAA         = corpusSource{"auswaertiges-amt", "de", "https://www.auswaertiges-amt.de/de/newsroom/"}
	srcBMEL       = corpusSource{"bmel", "de", "https://www.bmel.de/DE/presse/"}
)

// keyItem is a hand-written item; slug ends its URL, which names it in tests.
type keyItem struct {
	src        corpusSource
	slug, date string
	title      string
	summary    string
	content    string
	categories []string
	refs       []string
}

var keyItems = []keyItem{
	{src: srcCouncil, slug: "digital-diplomacy-conclusions", date: "2025-06-26T10:30:00Z",
		title:      "Council approves conclusions on EU digital diplomacy",
		summary:    "The Council today approved conclusions on EU digital diplomacy, calling for a stronger and more coordinated European voice on technology, connectivity and cyberspace in relations with partner countries. The conclusions ask the High Representative and the Commission to make digital diplomacy a core part of the work of EU delegations.",
		categories: []string{"Digital", "Foreign affairs"}},
	{src: srcEEAS, slug: "digital-diplomacy-network-meets", date: "2025-10-14T09:00:00Z",
		title:      "EU tech envoys meet in Brussels to take stock of the digital agenda",
		summary:    "Tech envoys of the member states met in Brussels to review how the Council conclusions on digital diplomacy are being put into practice, including the Global Gateway connectivity projects and the EU position ahead of the WSIS+20 review.",
		categories: []string{"Digital"}},
	{src: srcFCDO, slug: "uk-appoints-tech-ambassador", date: "2025-11-03T11:00:00Z",
		title:   "UK appoints first tech ambassador to the Indo-Pacific",
		summary: "The Foreign Secretary has appointed the UK's first tech ambassador to the Indo-Pacific, based in Singapore, to deepen partnerships on artificial intelligence, semiconductors and undersea cables.",
		content: "The new tech ambassador will work with governments and industry across the region. The appointment follows the publication of the UK's international technology strategy."},
	{src: srcCouncil, slug: "cyber-sanctions-extended", date: "2026-02-10T16:00:00Z",
		title:      "Cyber-attacks: Council extends sanctions framework until May 2027",
		summary:    "The Council extended the framework for restrictive measures against cyber-attacks threatening the EU or its member states for another year. The framework is part of the EU cyber diplomacy toolbox.",
		categories: []string{"Cyber", "Sanctions"}},
	{src: srcCouncil, slug: "cyber-resilience-act-final-approval", date: "2025-03-12T13:00:00Z",
		title:      "Cyber Resilience Act: Council gives final green light to security rules for connected products",
		summary:    "The Council formally adopted the Cyber Resilience Act, which sets cybersecurity requirements for hardware and software products with digital elements placed on the EU market, from baby monitors to smart watches.",
		categories: []string{"Cyber", "Single market"}, refs: []string{"2022/0272(COD)"}},
	{src: srcEP, slug: "ai-act-general-purpose-models", date: "2025-08-01T08:00:00Z",
		title:   "Artificial Intelligence Act: obligations for general-purpose AI models now apply",
		summary: "From today, providers of general-purpose artificial intelligence models placed on the EU market must meet transparency and copyright obligations under the AI Act.",
		refs:    []string{"2021/0106(COD)"}},
	{src: srcDiplo, slug: "cybersecurite-cooperation-franco-allemande", date: "2025-12-04T15:00:00Z",
		title:      "Cybersécurité : la France et l'Allemagne renforcent leur coopération",
		summary:    "Les ministres ont signé à Berlin une déclaration conjointe sur la cybersécurité des infrastructures critiques, qui prévoit des exercices communs et un échange d'informations renforcé entre les agences nationales.",
		categories: []string{"Numérique", "Europe"}},
	{src: srcDiplo, slug: "strategie-cyberdiplomatie", date: "2026-01-20T10:00:00Z",
		title:      "Cyberdiplomatie : la France présente sa stratégie internationale pour le numérique",
		summary:    "La nouvelle stratégie fait de la cyberdiplomatie un axe prioritaire de l'action extérieure de la France, avec un réseau d'ambassadeurs pour le numérique et un soutien accru aux pays partenaires.",
		categories: []string{"Numérique"}},
	{src: srcAA, slug: "konferenz-cyberdiplomatie", date: "2025-09-18T09:30:00Z",
		title:      "Cyberdiplomatie: Auswärtiges Amt lädt zur Konferenz über Cybersicherheit und Völkerrecht",
		summary:    "Vertreterinnen und Vertreter aus mehr als vierzig Staaten beraten in Berlin, wie das Völkerrecht im Cyberraum angewendet wird und welche Rolle die Cyberdiplomatie bei der Abschreckung spielt.",
		categories: []string{"Cyberaußenpolitik"}},
	{src: srcEPde, slug: "cybersicherheit-vernetzte-geraete", date: "2026-03-05T12:00:00Z",
		title:   "Cybersicherheit: Parlament fordert zügige Umsetzung der Regeln für vernetzte Geräte",
		summary: "Die Abgeordneten fordern die Kommission auf, die Durchführungsrechtsakte zum Cyberresilienzgesetz rasch vorzulegen, damit Hersteller vernetzter Geräte Rechtssicherheit erhalten.",
		refs:    []string{"2022/0272(COD)"}},
	{src: srcEPde, slug: "kuenstliche-intelligenz-arbeitsplatz", date: "2025-05-22T10:00:00Z",
		title:   "Künstliche Intelligenz: Abgeordnete fordern klare Regeln für KI am Arbeitsplatz",
		summary: "Der Beschäftigungsausschuss verlangt, dass Arbeitnehmerinnen und Arbeitnehmer informiert werden, wenn Systeme künstlicher Intelligenz über Einstellung, Bewertung oder Kündigung mitentscheiden.",
		refs:    []string{"2021/0106(COD)"}},
	{src: srcBMEL, slug: "fangquoten-ostsee-2026", date: "2025-10-21T17:00:00Z",
		title:      "Fischerei: Rat einigt sich auf Fangquoten für 2026 in der Ostsee",
		summary:    "Die Fischereiminister der EU haben sich in Luxemburg auf die Fangmöglichkeiten für 2026 in der Ostsee geeinigt. Die Quoten für Hering in der westlichen Ostsee bleiben auf dem Niveau der Beifänge.",
		categories: []string{"Fischerei"}},
	{src: srcCommission, slug: "ip_25_1400", date: "2025-06-04T12:00:00Z",
		title:      "Commission proposes draft EU budget 2026 of €193 billion",
		summary:    "The Commission proposed a draft annual EU budget 2026 of €193.3 billion in commitments, focused on competitiveness, defence readiness, support to Ukraine and the green and digital transitions.",
		categories: []string{"Budget"}, refs: []string{"COM(2025) 300 final", "IP/25/1400"}},
	{src: srcCouncil, slug: "budget-2026-agreement", date: "2025-11-15T22:00:00Z",
		title:      "EU annual budget 2026: Council and Parliament strike a deal",
		summary:    "Negotiators of the Council and the European Parliament reached an agreement on the EU's annual budget for next year, setting commitments at €192.8 billion.",
		categories: []string{"Budget"}},
	{src: srcCouncil, slug: "agrifish-2026-01-26", date: "2026-01-26T19:00:00Z",
		title:      "Agriculture and Fisheries Council, 26 January 2026: main results",
		summary:    "Ministers discussed the market situation, animal health and the simplification of the common agricultural policy.",
		categories: []string{"Agriculture", "Fisheries"}},
	{src: srcCouncil, slug: "agrifish-2025-12-15", date: "2025-12-15T19:00:00Z",
		title:      "Agriculture and Fisheries Council, 15 December 2025: main results",
		summary:    "Ministers discussed the market situation, animal health and the simplification of the common agricultural policy.",
		categories: []string{"Agriculture", "Fisheries"}},
	{src: srcEEAS, slug: "high-representative-japan", date: "2025-07-09T06:00:00Z",
		title:   "High Representative travels to Japan to deepen the security and defence partnership",
		summary: "The High Representative is in Tokyo for talks with the Japanese foreign minister on maritime security, cyber defence and the situation in the Indo-Pacific.",
	},
	{src: srcDiplo, slug: "visite-etat-maroc", date: "2025-10-28T08:00:00Z",
		title:   "Visite d'État du Président de la République au Maroc",
		summary: "Le Président de la République effectue une visite d'État au Maroc, consacrée au partenariat économique, à l'énergie et à la coopération en matière de migrations.",
	},
	{src: srcAA, slug: "reise-kiew", date: "2026-02-24T07:00:00Z",
		title:   "Außenminister reist nach Kiew",
		summary: "Am Jahrestag des russischen Angriffskriegs reist der Außenminister nach Kiew, um über Wiederaufbau, Energieversorgung und weitere Unterstützung zu sprechen.",
	},
	{src: srcCommission, slug: "ip_26_301", date: "2026-04-08T11:00:00Z",
		title:      "Commission opens formal proceedings against an online marketplace under the Digital Services Act",
		summary:    "The Commission has opened formal proceedings to assess whether the marketplace breached the Digital Services Act in areas linked to the sale of illegal products and the design of its recommender systems.",
		categories: []string{"Digital"}, refs: []string{"IP/26/301"}},
	{src: srcCommission, slug: "ip_26_455", date: "2026-05-12T10:00:00Z",
		title:      "Digital Markets Act: Commission fines a gatekeeper for non-compliance",
		summary:    "The Commission fined a gatekeeper for breaching its obligations under the Digital Markets Act on the choice of default services and interoperability.",
		categories: []string{"Digital", "Competition"}, refs: []string{"IP/26/455"}},
	{src: srcCouncil, slug: "nis2-transposition", date: "2025-09-30T12:00:00Z",
		title:      "NIS2: ministers review transposition of the cybersecurity directive",
		summary:    "Telecommunications ministers took stock of the transposition of the NIS2 directive on a high common level of cybersecurity, which applies to energy, transport, health and digital infrastructure operators.",
		categories: []string{"Cyber", "Telecommunications"}, refs: []string{"2020/0359(COD)"}},
	{src: srcEEAS, slug: "igf-2025-statement", date: "2025-06-23T14:00:00Z",
		title:   "EU statement at the Internet Governance Forum 2025",
		summary: "The EU reaffirmed its support for the multistakeholder model of internet governance and for an open, free, global, interoperable, reliable and secure internet.",
	},
	{src: srcCommission, slug: "global-gateway-kenya", date: "2026-03-17T09:00:00Z",
		title:      "Global Gateway: EU and Kenya sign digital connectivity partnership",
		summary:    "The EU and Kenya signed a partnership on digital connectivity that will extend fibre networks to rural areas and support data centres powered by renewable energy.",
		categories: []string{"International partnerships", "Digital"}},
	{src: srcAA, slug: "digitalbotschafterin", date: "2025-11-26T10:00:00Z",
		title:   "Digitale Diplomatie: Bundesregierung ernennt erste Digitalbotschafterin",
		summary: "Die neue Digitalbotschafterin soll die deutsche Position bei internationalen Verhandlungen über Künstliche Intelligenz, Datenflüsse und Internet-Governance vertreten.",
	},
	{src: srcDiplo, slug: "diplomatie-numerique-reseau", date: "2025-09-02T09:00:00Z",
		title:   "Diplomatie numérique : lancement du réseau des ambassadeurs pour le numérique",
		summary: "Le ministère lance un réseau d'une trentaine de diplomates chargés des questions numériques dans les ambassades, pour porter les positions françaises sur la régulation de l'intelligence artificielle.",
	},
	{src: srcFCDO, slug: "cyber-security-e-commerce", date: "2025-04-14T09:00:00Z",
		title:   "UK and Singapore agree cyber-security standards for e-commerce platforms",
		summary: "A memorandum signed in London commits both countries to common cyber-security standards for e-commerce platforms and to sharing information about online fraud.",
	},
	{src: srcEEAS, slug: "eu-singapore-digital-partnership-council", date: "2026-06-09T05:00:00Z",
		title:      "EU–Singapore Digital Partnership Council meets for the second time",
		summary:    "Both sides reviewed cooperation on trusted data flows, semiconductors and online platforms, and agreed to work together on digital identity wallets.",
		categories: []string{"Digital diplomacy", "Asia"}},
	{src: srcCommission, slug: "fishing-opportunities-baltic-2026", date: "2025-08-28T11:00:00Z",
		title:      "Fisheries: Commission proposes fishing opportunities for 2026 in the Baltic Sea",
		summary:    "The Commission proposed catch limits for 2026 in the Baltic Sea, keeping closures for cod and western herring to help stocks recover.",
		categories: []string{"Fisheries"}},
	{src: srcAgriFR, slug: "quotas-mediterranee-2026", date: "2025-12-12T18:00:00Z",
		title:      "Pêche : accord sur les possibilités de pêche en Méditerranée pour 2026",
		summary:    "Les ministres européens de la pêche sont parvenus à un accord sur les jours de pêche et les quotas en Méditerranée occidentale pour 2026.",
		categories: []string{"Pêche"}},
	{src: srcEP, slug: "digital-diplomacy-report-vote", date: "2025-01-15T12:00:00Z",
		title:   "Foreign affairs committee adopts report on the external dimension of EU digital policy",
		summary: "Members call for digital diplomacy to be better resourced and for the EU to coordinate its positions in standard-setting bodies.",
	},
}

// Vocabulary for the generated items.
var (
	enCountries = []string{"Japan", "Canada", "India", "Brazil", "Kenya", "Morocco", "Norway", "Chile", "Vietnam", "Australia", "Ukraine", "Moldova"}
	enMembers   = []string{"Ireland", "Portugal", "Poland", "Finland", "Greece", "Croatia", "Denmark", "Spain", "Austria", "Slovenia"}
	enSectors   = []string{"dairy", "wine", "pig", "poultry", "fruit and vegetable", "olive oil", "sheep", "beef"}
	enSeas      = []string{"Atlantic", "North Sea", "Mediterranean", "Black Sea", "Baltic Sea"}
	enOfficials = []string{"Commissioner for Agriculture", "High Representative", "President of the European Council", "Commissioner for Trade", "Foreign Secretary", "Minister for Europe"}
	enPolicies  = []string{"energy security", "critical raw materials", "migration and asylum", "public health preparedness", "rail freight", "clean hydrogen", "defence industry", "housing"}

	frPays      = []string{"au Sénégal", "au Japon", "en Inde", "au Brésil", "au Canada", "en Égypte", "au Viêt Nam", "en Côte d'Ivoire", "au Mexique", "en Indonésie"}
	frFilieres  = []string{"laitière", "viticole", "porcine", "ovine", "bovine", "des fruits et légumes", "avicole"}
	frRegions   = []string{"Bretagne", "Normandie", "Occitanie", "Nouvelle-Aquitaine", "Grand Est", "Hauts-de-France", "Auvergne-Rhône-Alpes"}
	frMers      = []string{"Manche", "golfe de Gascogne", "Méditerranée", "mer du Nord"}
	frPolitique = []string{"la sécurité énergétique", "les matières premières critiques", "la transition écologique", "la santé mondiale", "l'égalité entre les femmes et les hommes", "la francophonie"}

	deLaender   = []string{"Japan", "Kanada", "Indien", "Brasilien", "Kenia", "Marokko", "Norwegen", "Chile", "Vietnam", "Australien", "die Ukraine", "Moldau"}
	deSektoren  = []string{"Milchbauern", "Winzer", "Schweinehalter", "Geflügelhalter", "Obstbauern", "Schafhalter", "Rinderhalter"}
	deMeere     = []string{"Nordsee", "Ostsee", "im Nordostatlantik"}
	dePolitik   = []string{"Energiesicherheit", "kritische Rohstoffe", "Migration und Asyl", "Gesundheitsschutz", "Schienengüterverkehr", "Wasserstoff", "Verteidigungsindustrie", "Wohnungsbau"}
	deMinister  = []string{"Bundesministerin", "Bundesminister", "Staatsministerin für Europa", "Staatssekretär"}
	monthsFR    = []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
	monthsDE    = []string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
	enTemplates = []func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string){
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			m, s := pick(r, enMembers), pick(r, enSectors)
			n := 10 + r.IntN(290)
			return srcCommission, fmt.Sprintf("Commission approves €%d million %s scheme to support %s farmers", n, adjective(m), s),
				fmt.Sprintf("The European Commission has approved, under EU State aid rules, a €%d million scheme for %s to support %s farmers affected by high input costs and extreme weather. The aid will take the form of direct grants.", n, m, s),
				[]string{"Agriculture", "State aid"}, []string{fmt.Sprintf("IP/%02d/%d", d.Year()%100, 1000+r.IntN(3000))}
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			sea := pick(r, enSeas)
			return srcCouncil, fmt.Sprintf("Fishing opportunities for %d in the %s: Council reaches agreement", d.Year()+1, sea),
				fmt.Sprintf("Fisheries ministers agreed on the total allowable catches and fishing effort for %d in the %s, balancing the recovery of stocks with the livelihoods of fishing communities.", d.Year()+1, sea),
				[]string{"Fisheries"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			o, c := pick(r, enOfficials), pick(r, enCountries)
			return pickSource(r, srcEEAS, srcFCDO, srcCouncil), fmt.Sprintf("%s visits %s", o, c),
				fmt.Sprintf("The %s travelled to %s for talks on trade, %s and regional security, and met representatives of civil society.", o, c, pick(r, enPolicies)),
				[]string{"Visits"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			p := pick(r, enPolicies)
			return srcCouncil, fmt.Sprintf("Council agrees its position on %s", p),
				fmt.Sprintf("Member states agreed their negotiating mandate on new rules for %s. Talks with the European Parliament can now start, with the aim of reaching a deal before the end of the year.", p),
				[]string{"Policy"}, []string{fmt.Sprintf("%d/%04d(COD)", d.Year()-1, 100+r.IntN(300))}
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			c := pick(r, enCountries)
			return srcCommission, fmt.Sprintf("EU and %s conclude negotiations on a sustainable investment facilitation agreement", c),
				fmt.Sprintf("The agreement with %s will make it easier to attract and retain investment, with commitments on transparency, labour rights and the environment.", c),
				[]string{"Trade"}, []string{fmt.Sprintf("COM(%d) %d final", d.Year(), 100+r.IntN(600))}
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			return srcEP, fmt.Sprintf("Budget: MEPs want more funding for %s in %d", pick(r, enPolicies), d.Year()+1),
				"Parliament's budgets committee set out its priorities for next year's annual budget, asking for more money for research, young people and humanitarian aid, and rejecting cuts proposed by the Council.",
				[]string{"Budget"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			c := pick(r, enCountries)
			return srcEEAS, fmt.Sprintf("Statement by the Spokesperson on the elections in %s", c),
				fmt.Sprintf("The EU takes note of the results announced by the electoral commission of %s and calls on all parties to respect the will of the people and to settle disputes through legal means.", c),
				[]string{"Statements"}, nil
		},
	}
	frTemplates = []func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string){
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			f, reg := pick(r, frFilieres), pick(r, frRegions)
			n := 5 + r.IntN(95)
			return srcAgriFR, fmt.Sprintf("Agriculture : %d millions d'euros pour soutenir la filière %s en %s", n, f, reg),
				fmt.Sprintf("Le ministre de l'Agriculture annonce une enveloppe de %d millions d'euros pour accompagner les éleveurs et producteurs de la filière %s en %s, touchés par la hausse des coûts et les aléas climatiques.", n, f, reg),
				[]string{"Agriculture"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			mer := pick(r, frMers)
			return srcAgriFR, fmt.Sprintf("Pêche : les possibilités de pêche %d dans la %s fixées", d.Year()+1, mer),
				fmt.Sprintf("Le Conseil a fixé les totaux admissibles de captures pour %d dans la %s. Le Gouvernement salue un accord qui préserve l'activité des pêcheurs tout en protégeant les stocks.", d.Year()+1, mer),
				[]string{"Pêche"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			p := pick(r, frPays)
			return srcDiplo, fmt.Sprintf("Déplacement du ministre de l'Europe et des Affaires étrangères %s (%d %s %d)", p, d.Day(), monthsFR[d.Month()-1], d.Year()),
				fmt.Sprintf("Le ministre se rend %s pour des entretiens consacrés aux relations bilatérales, à %s et à la situation régionale.", p, pick(r, frPolitique)),
				[]string{"Déplacements"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			return srcDiplo, fmt.Sprintf("Conseil des affaires étrangères du %d %s %d", d.Day(), monthsFR[d.Month()-1], d.Year()),
				fmt.Sprintf("Les ministres ont évoqué l'agression russe contre l'Ukraine, la situation au Proche-Orient et %s.", pick(r, frPolitique)),
				[]string{"Union européenne"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			return srcAgriFR, fmt.Sprintf("Budget %d : les crédits de l'agriculture en hausse", d.Year()+1),
				fmt.Sprintf("Le projet de loi de finances pour %d prévoit une hausse des crédits consacrés à l'installation des jeunes agriculteurs et à la planification écologique.", d.Year()+1),
				[]string{"Budget"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			p := pick(r, frPolitique)
			return srcDiplo, fmt.Sprintf("La France accueille une conférence internationale sur %s", p),
				fmt.Sprintf("Plus de soixante délégations sont réunies à Paris pour une conférence internationale sur %s, ouverte par la ministre déléguée.", p),
				[]string{"Conférences"}, nil
		},
	}
	deTemplates = []func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string){
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			s := pick(r, deSektoren)
			n := 5 + r.IntN(95)
			return srcBMEL, fmt.Sprintf("Landwirtschaft: %d Millionen Euro Krisenhilfe für %s", n, s),
				fmt.Sprintf("Das Bundesministerium stellt %d Millionen Euro bereit, um %s zu unterstützen, die unter gestiegenen Kosten und Ernteausfällen durch Dürre und Hochwasser leiden.", n, s),
				[]string{"Landwirtschaft"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			m := pick(r, deMeere)
			return srcBMEL, fmt.Sprintf("Fangmengen für %d in der %s festgelegt", d.Year()+1, strings.TrimPrefix(m, "im ")),
				fmt.Sprintf("Der Agrar- und Fischereirat hat die zulässigen Gesamtfangmengen für %d festgelegt. Für die deutsche Flotte %s ergeben sich leichte Änderungen.", d.Year()+1, m),
				[]string{"Fischerei"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			mi, l := pick(r, deMinister), pick(r, deLaender)
			return srcAA, fmt.Sprintf("%s reist nach %s", mi, l),
				fmt.Sprintf("Bei Gesprächen in %s stehen die bilateralen Beziehungen, %s und die regionale Lage im Mittelpunkt.", l, pick(r, dePolitik)),
				[]string{"Reisen"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			p := pick(r, dePolitik)
			return srcEPde, fmt.Sprintf("Parlament legt Verhandlungsposition zu %s fest", p),
				fmt.Sprintf("Das Europäische Parlament hat mit großer Mehrheit seine Position zu neuen Vorschriften über %s angenommen. Die Verhandlungen mit dem Rat können beginnen.", p),
				[]string{"Plenartagung"}, []string{fmt.Sprintf("%d/%04d(COD)", d.Year()-1, 100+r.IntN(300))}
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			return srcEPde, fmt.Sprintf("EU-Haushalt %d: Parlament billigt Einigung mit dem Rat", d.Year()+1),
				"Die Abgeordneten haben dem mit dem Rat ausgehandelten Jahreshaushalt zugestimmt, der mehr Mittel für Forschung, Grenzschutz und humanitäre Hilfe vorsieht.",
				[]string{"Haushalt"}, nil
		},
		func(r *rand.Rand, d time.Time) (corpusSource, string, string, []string, []string) {
			return srcAA, fmt.Sprintf("Rat für Auswärtige Angelegenheiten am %d. %s %d", d.Day(), monthsDE[d.Month()-1], d.Year()),
				fmt.Sprintf("Die Außenministerinnen und Außenminister der EU beraten über den russischen Angriffskrieg gegen die Ukraine, die Lage im Nahen Osten und %s.", pick(r, dePolitik)),
				[]string{"Europa"}, nil
		},
	}
)

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

func pickSource(r *rand.Rand, xs ...corpusSource) corpusSource { return xs[r.IntN(len(xs))] }

// adjective turns a member state into the adjective the Commission writes.
func adjective(country string) string {
	switch country {
	case "Ireland":
		return "Irish"
	case "Portugal":
		return "Portuguese"
	case "Poland":
		return "Polish"
	case "Finland":
		return "Finnish"
	case "Greece":
		return "Greek"
	case "Croatia":
		return "Croatian"
	case "Denmark":
		return "Danish"
	case "Spain":
		return "Spanish"
	case "Austria":
		return "Austrian"
	}
	return "Slovenian"
}

// slugify makes a URL path segment of a title.
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, w := range strings.Fields(strings.ToLower(s)) {
		for _, r := range w {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				b.WriteRune(r)
				dash = false
			} else if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

func corpusItem(src corpusSource, path string, date time.Time, title, summary, content string, cats, refs []string) policywire.Item {
	u := src.base + path
	it := policywire.Item{
		Source: src.id, GUID: u, URL: u, CanonicalURL: u,
		Title: title, Summary: summary, Content: content,
		Published: date, Language: src.lang, Categories: cats, References: refs,
	}
	it.ID = policywire.Identity(it)
	return it
}

// generateCorpus returns the hand-written items, then the generated ones,
// always the same.
func generateCorpus() []policywire.Item {
	var items []policywire.Item
	for _, k := range keyItems {
		d, err := time.Parse(time.RFC3339, k.date)
		if err != nil {
			panic(err)
		}
		items = append(items, corpusItem(k.src, d.Format("2006/01/02/")+k.slug+"/", d, k.title, k.summary, k.content, k.categories, k.refs))
	}
	r := rand.New(rand.NewPCG(2026, 11))
	start := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)
	span := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC).Sub(start)
	for i := range 186 {
		var templates []func(*rand.Rand, time.Time) (corpusSource, string, string, []string, []string)
		switch i % 3 {
		case 0:
			templates = enTemplates
		case 1:
			templates = frTemplates
		default:
			templates = deTemplates
		}
		// Office hours on a working day.
		d := start.Add(time.Duration(r.Int64N(int64(span)))).Truncate(24 * time.Hour)
		for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			d = d.Add(24 * time.Hour)
		}
		d = d.Add(time.Duration(7+r.IntN(11))*time.Hour + time.Duration(r.IntN(4))*15*time.Minute)
		src, title, summary, cats, refs := templates[r.IntN(len(templates))](r, d)
		path := fmt.Sprintf("%s/%s-%d/", d.Format("2006/01/02"), slugify(title), i)
		items = append(items, corpusItem(src, path, d, title, summary, "", cats, refs))
	}
	return items
}
