package summary

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitSentences(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"only spaces", " \n\t ", nil},
		{"two plain sentences", "The Council met. Ministers agreed.", []string{"The Council met.", "Ministers agreed."}},
		{"no final punctuation", "Travelling to Berlin", []string{"Travelling to Berlin"}},
		{"question and exclamation", "Is it ready? Yes! It is.", []string{"Is it ready?", "Yes!", "It is."}},
		{"terminator run", "Really?! We did.", []string{"Really?!", "We did."}},
		{"U.S. before a noun", "The U.S. Department of State launched a bureau. It reports to the Deputy Secretary.",
			[]string{"The U.S. Department of State launched a bureau.", "It reports to the Deputy Secretary."}},
		{"U.K. and E.U.", "The U.K. and the E.U. Council signed. Talks go on.", []string{"The U.K. and the E.U. Council signed.", "Talks go on."}},
		{"hyphenated acronym", "They met in the EU-U.S. Trade and Technology Council. It was the fourth meeting.",
			[]string{"They met in the EU-U.S. Trade and Technology Council.", "It was the fourth meeting."}},
		{"Art. and No.", "Under Art. 5 of Regulation No. 2023/0212 the rule applies. Then it ends.",
			[]string{"Under Art. 5 of Regulation No. 2023/0212 the rule applies.", "Then it ends."}},
		{"Nos.", "See Nos. 3 and 4. They differ.", []string{"See Nos. 3 and 4.", "They differ."}},
		{"e.g. and i.e. before capitals", "Partners, e.g. Japan or Canada, i.e. G7 members, agreed. Next item.",
			[]string{"Partners, e.g. Japan or Canada, i.e. G7 members, agreed.", "Next item."}},
		{"etc. mid-sentence", "Data, cloud, AI etc. are covered by the plan. It starts now.",
			[]string{"Data, cloud, AI etc. are covered by the plan.", "It starts now."}},
		{"etc. ending a sentence", "It covers data, cloud, AI etc. The Council agreed.",
			[]string{"It covers data, cloud, AI etc.", "The Council agreed."}},
		{"titles", "Mr. Smith met Mrs. Jones and Dr. Brown with Prof. Weber. They spoke.",
			[]string{"Mr. Smith met Mrs. Jones and Dr. Brown with Prof. Weber.", "They spoke."}},
		{"St. and vs.", "The St. Petersburg forum vs. Davos was discussed. Nothing was decided.",
			[]string{"The St. Petersburg forum vs. Davos was discussed.", "Nothing was decided."}},
		{"cf. and approx.", "The cost is approx. 300 million (cf. Annex II). It is high.",
			[]string{"The cost is approx. 300 million (cf. Annex II).", "It is high."}},
		{"month abbreviations", "Talks began on Jan. 5 and end on Sept. 30 in Brussels. They were long.",
			[]string{"Talks began on Jan. 5 and end on Sept. 30 in Brussels.", "They were long."}},
		{"month at the end", "The summit was held in Dec. The next one is in June.",
			[]string{"The summit was held in Dec.", "The next one is in June."}},
		{"initials", "J. Smith and A. B. Jones signed. It is done.", []string{"J. Smith and A. B. Jones signed.", "It is done."}},
		{"dotted date inside", "On 18.07.2022 the Council approved the text. It is public.",
			[]string{"On 18.07.2022 the Council approved the text.", "It is public."}},
		{"dotted date at the end", "The text was approved on 18.07.2022. It is public.",
			[]string{"The text was approved on 18.07.2022.", "It is public."}},
		{"decimal", "Budget rose to 1.5 billion euros. It doubled.", []string{"Budget rose to 1.5 billion euros.", "It doubled."}},
		{"domain inside", "Read it on www.consilium.europa.eu today. It is long.", []string{"Read it on www.consilium.europa.eu today.", "It is long."}},
		{"domain at the end", "Read it on gov.uk. It is long.", []string{"Read it on gov.uk.", "It is long."}},
		{"closing quote", `He said: "We agree." Then he left.`, []string{`He said: "We agree."`, "Then he left."}},
		{"curly quotes", "She said “it works.” Then she left.", []string{"She said “it works.”", "Then she left."}},
		{"bracket after period", "The plan is new. (See Annex.) It starts in May.", []string{"The plan is new.", "(See Annex.)", "It starts in May."}},
		{"opening quote on next sentence", `It ended. "We agree," she said.`, []string{"It ended.", `"We agree," she said.`}},
		{"French M.", "M. Dupont a rencontré Mme Martin. Ils ont parlé.", []string{"M. Dupont a rencontré Mme Martin.", "Ils ont parlé."}},
		{"French guillemets", "Il a dit « Nous sommes prêts. » Puis il est parti.", []string{"Il a dit « Nous sommes prêts. »", "Puis il est parti."}},
		{"French question with space", "Pourquoi ? Parce que.", []string{"Pourquoi ?", "Parce que."}},
		{"German z. B.", "Technologien, z. B. KI, sind wichtig. Der Rat stimmt zu.", []string{"Technologien, z. B. KI, sind wichtig.", "Der Rat stimmt zu."}},
		{"German Nr. and bzw.", "Die Verordnung Nr. 2065 bzw. Anhänge gelten. Sie sind neu.", []string{"Die Verordnung Nr. 2065 bzw. Anhänge gelten.", "Sie sind neu."}},
		{"German ordinal date", "Am 18. Juli 2022 billigte der Rat die Schlussfolgerungen. Sie sind wichtig.",
			[]string{"Am 18. Juli 2022 billigte der Rat die Schlussfolgerungen.", "Sie sind wichtig."}},
		{"French ordinal date is not split either", "Le 3. mars nous partons. Fin.", []string{"Le 3. mars nous partons.", "Fin."}},
		{"ellipsis mid-sentence", "We waited... and waited. Then it came.", []string{"We waited... and waited.", "Then it came."}},
		{"ellipsis ending", "We waited… Then it came.", []string{"We waited…", "Then it came."}},
		{"lower case after period", "The fee is 5 EUR. per page. It is paid.", []string{"The fee is 5 EUR. per page.", "It is paid."}},
		{"a.m. ends a sentence", "It starts at 10 a.m. The press is invited.", []string{"It starts at 10 a.m.", "The press is invited."}},
		{"p.m. mid-sentence", "It starts at 5 p.m. on Monday. Be there.", []string{"It starts at 5 p.m. on Monday.", "Be there."}},
		{"year then digit", "It was adopted in 2022. 27 member states signed.", []string{"It was adopted in 2022.", "27 member states signed."}},
		{"blank line ends a heading", "Next steps\n\nThe Commission will report.", []string{"Next steps", "The Commission will report."}},
		{"line breaks inside a paragraph", "The Council\napproved the\nconclusions. They\nare public.", []string{"The Council approved the conclusions.", "They are public."}},
		{"procedure reference before period", "It is procedure 2023/0212(COD). The vote is next.", []string{"It is procedure 2023/0212(COD).", "The vote is next."}},
		{"Vol. and p.", "See Vol. 2, p. 14 of the report. It is clear.", []string{"See Vol. 2, p. 14 of the report.", "It is clear."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitSentences(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("SplitSentences(%q)\n got  %q\n want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSplitSentencesKeepsAllText(t *testing.T) {
	in := "The Council today approved conclusions. Ministers agree, e.g. on Art. 5!  Is it done? Yes."
	got := strings.Join(SplitSentences(in), " ")
	if want := strings.Join(strings.Fields(in), " "); got != want {
		t.Errorf("joined sentences = %q, want %q", got, want)
	}
}
