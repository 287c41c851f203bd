package query

import (
	"slices"
	"testing"
)

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"already folded 123", "already folded 123"},
		{"MiXeD Case", "mixed case"},
		{"Sécurité", "securite"},
		{"SÉCURITÉ", "securite"},
		{"se\u0301curite\u0301", "securite"}, // already decomposed
		{"Außenpolitik", "aussenpolitik"},
		{"STRAẞE", "strasse"},
		{"Œuvre cœur", "oeuvre coeur"},
		{"Ærø", "aero"},
		{"Łódź", "lodz"},
		{"İstanbul ıstanbul", "istanbul istanbul"},
		{"Ελληνικά ΟΔΟΣ", "ελληνικα οδοσ"},
		{"Zürich, Kraków; naïve", "zurich, krakow; naive"},
		{"COM(2023) 123", "com(2023) 123"},
		{"a\xffb", "a\uFFFDb"},
	}
	for _, tc := range tests {
		got := Fold(tc.in)
		if got != tc.want {
			t.Errorf("Fold(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if again := Fold(got); again != got {
			t.Errorf("Fold is not idempotent on %q: %q then %q", tc.in, got, again)
		}
	}
}

func TestFoldDoesNotAllocateWhenFolded(t *testing.T) {
	s := "digital diplomacy 2026"
	if n := testing.AllocsPerRun(100, func() { _ = Fold(s) }); n != 0 {
		t.Fatalf("Fold of a folded ASCII string allocates %v times", n)
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" ,;- ", nil},
		{"Cyber-Security, 5G", []string{"cyber", "security", "5g"}},
		{"Digital, diplomacy!", []string{"digital", "diplomacy"}},
		{"l'Union européenne", []string{"l", "union", "europeenne"}},
		{"2023/0212(COD)", []string{"2023", "0212", "cod"}},
		{"COVID-19 G7 e-mail", []string{"covid", "19", "g7", "e", "mail"}},
		{"Außenpolitik—Sicherheit", []string{"aussenpolitik", "sicherheit"}},
		{"snake_case tab\tnew\nline", []string{"snake", "case", "tab", "new", "line"}},
		{"नमस्ते दुनिया", []string{"नमसत", "दनिया"}}, // virama and vowel signs are marks that fold away
	}
	for _, tc := range tests {
		if got := Tokens(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalizeRef(t *testing.T) {
	tests := []struct{ in, want string }{
		{"COM(2023) 123 final", "com(2023) 123 final"},
		{"  COM (2023)   123\tFinal ", "com(2023) 123 final"},
		{"2023/0212 (COD)", "2023/0212(cod)"},
		{"2023 / 0212(COD)", "2023/0212(cod)"},
		{"( COD )", "(cod)"},
		{"IP/26/301", "ip/26/301"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := NormalizeRef(tc.in); got != tc.want {
			t.Errorf("NormalizeRef(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if again := NormalizeRef(tc.want); again != tc.want {
			t.Errorf("NormalizeRef is not idempotent on %q: %q", tc.want, again)
		}
	}
}
