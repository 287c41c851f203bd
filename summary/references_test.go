package summary

import (
	"slices"
	"testing"
)

func TestReferences(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		// Procedures.
		{"COD procedure", "The proposal 2023/0212(COD) on the digital euro.", []string{"2023/0212(COD)"}},
		{"procedure with spaces", "procedure 2023/0212 ( COD ) is pending", []string{"2023/0212(COD)"}},
		{"NLE procedure", "Decision 2022/0155(NLE) adopted", []string{"2022/0155(NLE)"}},
		{"CNS procedure", "See 2021/0433(CNS).", []string{"2021/0433(CNS)"}},
		{"APP, INI and BUD", "2020/0101(APP), 2022/2048(INI) and 2023/2019(BUD)", []string{"2020/0101(APP)", "2022/2048(INI)", "2023/2019(BUD)"}},
		{"unknown procedure type", "2023/0212(XYZ) is not a procedure", nil},
		// Commission documents.
		{"COM final", "Proposal COM(2023) 123 final was adopted.", []string{"COM(2023) 123 final"}},
		{"COM without final", "as set out in COM(2022) 454", []string{"COM(2022) 454"}},
		{"COM odd spacing", "COM (2023)  369   final", []string{"COM(2023) 369 final"}},
		{"COM leading zeros", "COM(2023) 0123 final", []string{"COM(2023) 123 final"}},
		{"COM ELI form", "CELEX-like COM/2023/123 final in a title", []string{"COM(2023) 123 final"}},
		{"SWD", "the impact assessment SWD(2023) 233 final", []string{"SWD(2023) 233 final"}},
		{"SEC", "SEC(2021) 101", []string{"SEC(2021) 101"}},
		{"C decision", "Commission Decision C(2023) 4475 of 10 July", []string{"C(2023) 4475"}},
		{"JOIN", "the joint communication JOIN(2021) 30 final", []string{"JOIN(2021) 30 final"}},
		{"letters glued before C are not a C document", "ABC(2023) 12", nil},
		// Council documents.
		{"ST document", "Council document ST 11406/22 was approved.", []string{"ST 11406/22"}},
		{"ST REV", "ST 9321/23 REV 1 is the latest", []string{"ST 9321/23 REV 1"}},
		{"ST with extra spaces", "ST  15283/21  REV  2", []string{"ST 15283/21 REV 2"}},
		{"ST needs the slash", "ST 11406 2022 INIT", nil},
		// CELEX.
		{"CELEX regulation", "CELEX:32022R2065 is the DSA", []string{"32022R2065"}},
		{"CELEX proposal", "see 52023PC0123.", []string{"52023PC0123"}},
		{"CELEX case law", "Judgment 62019CJ0311", []string{"62019CJ0311"}},
		{"CELEX consolidated", "text 02016R0679-20160504 applies", []string{"02016R0679-20160504"}},
		{"CELEX in a link", "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32022R2065", []string{"32022R2065"}},
		// Press codes.
		{"IP", "Press release IP/26/301 today", []string{"IP/26/301"}},
		{"STATEMENT", "STATEMENT/26/2001", []string{"STATEMENT/26/2001"}},
		{"MEMO SPEECH QANDA MEX", "MEMO/23/12, SPEECH/24/5, QANDA/22/7 and MEX/25/900", []string{"MEMO/23/12", "SPEECH/24/5", "QANDA/22/7", "MEX/25/900"}},
		{"presscorner link", "https://ec.europa.eu/commission/presscorner/detail/en/statement_26_2001", []string{"STATEMENT/26/2001"}},
		// Several, order and duplicates.
		{"order of appearance and no duplicates",
			"ST 11406/22 builds on COM(2023) 123 final and 2023/0212(COD); see again ST 11406/22 and COM (2023) 123 final.",
			[]string{"ST 11406/22", "COM(2023) 123 final", "2023/0212(COD)"}},
		// Negatives.
		{"plain date", "Adopted on 18/07/2022 and 2022-07-18.", nil},
		{"years and ranges", "Between 2021 and 2027, the 2023/2024 budget grows.", nil},
		{"phone numbers", "Call +32 2 281 61 11 or 0032 470 12 34 56.", nil},
		{"amounts", "EUR 1,500,000 and 3.5 billion", nil},
		{"lower-case press code", "ip/26/301 is not the form used", nil},
		{"COM without year", "COM 2023 123", nil},
		{"CELEX-like without sector digit", "2022R2065", nil},
		{"word ST without number", "ST Engineering won the contract", nil},
		{"no text", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := References(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("References(%q)\n got  %q\n want %q", tt.in, got, tt.want)
			}
		})
	}
}

// referencesByRegexps is References without the cheap tests in front of
// the regexps: what the tests must never change.
func referencesByRegexps(text string) []string { return findReferences(text, false) }

// referenceLines hold each kind of reference, with the odd spacing the
// regexps allow, so that the comparison below covers every cheap test.
var referenceLines = []string{
	"procedure 2023/0212 ( COD ) is pending; see 2022/2048(INI)",
	"Proposal COM (2023)  369   final and C( 2023) 4475",
	"CELEX-like COM/2023/123 final and JOIN/2021/30",
	"Council document ST\t11406/22 REV 1 and ST 9321/23",
	"CELEX:32022R2065 and 02016R0679-20160504",
	"IP/26/301, STATEMENT/26/2001, AC/24/12",
	"https://ec.europa.eu/commission/presscorner/detail/en/statement_26_2001",
}

func TestReferencesCheapTestsChangeNothing(t *testing.T) {
	texts := append(slices.Clone(referenceLines), fixtureTexts(t)...)
	found := 0
	for _, s := range texts {
		got, want := References(s), referencesByRegexps(s)
		if !slices.Equal(got, want) {
			t.Errorf("References(%q) = %q, the regexps alone find %q", s, got, want)
		}
		found += len(want)
	}
	if found < 20 {
		t.Errorf("only %d references in all the texts; the comparison has no teeth", found)
	}
}

func FuzzReferencesCheapTests(f *testing.F) {
	for _, s := range referenceLines {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := References(s), referencesByRegexps(s); !slices.Equal(got, want) {
			t.Errorf("References(%q) = %q, the regexps alone find %q", s, got, want)
		}
	})
}
