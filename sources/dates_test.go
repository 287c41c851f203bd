package sources

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	loc := fixtureBrussels(t)
	for _, tc := range []struct {
		in, layout, want string // want in UTC, RFC 3339
	}{
		{"2026-10-20T11:45:00+02:00", "", "2026-10-20T09:45:00Z"},
		{"2015-03-14T00:00:00.000+01:00", "", "2015-03-13T23:00:00Z"},
		{"2026-10-20T09:45:00Z", "", "2026-10-20T09:45:00Z"},
		{"2026-10-20T09:45:00.123456Z", "", "2026-10-20T09:45:00.123456Z"},
		{"Tue, 03 Nov 2026 11:00:00 +0100", "", "2026-11-03T10:00:00Z"},
		{"Tue, 03 Nov 2026 11:00:00 GMT", "", "2026-11-03T11:00:00Z"},
		{"Tue, 3 Nov 2026 06:00:00 EST", "", "2026-11-03T11:00:00Z"},
		{"Thu, 22 Oct 2026 12:31:00 CEST", "", "2026-10-22T10:31:00Z"},
		{"03 Nov 26 11:00 +0100", "", "2026-11-03T10:00:00Z"},
		{"2026-11-03", "", "2026-11-02T23:00:00Z"},
		{"2026-11-03T10:00:00", "", "2026-11-03T09:00:00Z"},
		{"2026-07-03 10:00:00", "", "2026-07-03T08:00:00Z"},
		{"16.10.2026", "", "2026-10-15T22:00:00Z"},
		{"16.10.2026", "02.01.2006", "2026-10-15T22:00:00Z"},
		{"Published 25.09.2026", "02.01.2006", "2026-09-24T22:00:00Z"},
		{"  Last update:\n 25.09.2026 14:05 ", "", "2026-09-25T12:05:00Z"},
		{"9/25/2026 1:10:00 PM", "", "2026-09-25T11:10:00Z"},
		{"11/5/2026 4:20:00 PM", "", "2026-11-05T15:20:00Z"},
		{"10/20/2026", "", "2026-10-19T22:00:00Z"},
		{"2 November 2026", "", "2026-11-01T23:00:00Z"},
		{"Thursday, 5 November 2026 – Press release", "", "2026-11-04T23:00:00Z"},
		{"November 2, 2026", "", "2026-11-01T23:00:00Z"},
		{"Nov. 2, 2026", "", "2026-11-01T23:00:00Z"},
		{"Sept 30, 2026", "", "2026-09-29T22:00:00Z"},
		{"October 1st, 2026", "", "2026-09-30T22:00:00Z"},
		{"19 octobre 2026", "", "2026-10-18T22:00:00Z"},
		{"mardi 20 octobre 2026 à 11h45", "", "2026-10-20T09:45:00Z"},
		{"Dienstag, 20. Oktober 2026, 11:45 Uhr", "", "2026-10-20T09:45:00Z"},
		{"20 de octubre de 2026", "", "2026-10-19T22:00:00Z"},
		{"20 ottobre 2026", "", "2026-10-19T22:00:00Z"},
		{"20 października 2026 11:45", "", "2026-10-20T09:45:00Z"},
		{"Tue, 20 Oct 2026 11:45:00 MESZ", "", "2026-10-20T09:45:00Z"},
		{"Tue, 20 Oct 2026 11:45:00 Etc/GMT-2", "", "2026-10-20T09:45:00Z"},
		{"Tue, 20 Oct 2026 11:45:00 UTC+3", "", "2026-10-20T08:45:00Z"},
		{"1er novembre 2026", "", "2026-10-31T23:00:00Z"},
		{"Publié le 6 novembre 2026", "", "2026-11-05T23:00:00Z"},
		{"7. Oktober 2026", "", "2026-10-06T22:00:00Z"},
		{"Veröffentlicht am 3. März 2026", "", "2026-03-02T23:00:00Z"},
		{"20261105", "20060102", "2026-11-04T23:00:00Z"},
		{"1793865600", "", "2026-11-05T08:00:00Z"},
		{"1793865600000", "", "2026-11-05T08:00:00Z"},
	} {
		got, err := ParseDate(tc.in, tc.layout, loc)
		if err != nil {
			t.Errorf("ParseDate(%q, %q): %v", tc.in, tc.layout, err)
			continue
		}
		if s := got.UTC().Format(time.RFC3339Nano); s != tc.want {
			t.Errorf("ParseDate(%q, %q) = %s, want %s", tc.in, tc.layout, s, tc.want)
		}
	}
}

func TestParseDateRejects(t *testing.T) {
	for _, in := range []string{"", "   ", "yesterday", "32.13.2026", "2026-13-45", "Published", "0001-01-01T00:00:00Z", "9999-01-01", "12345", strings.Repeat("9", 400)} {
		if got, err := ParseDate(in, "", time.UTC); err == nil {
			t.Errorf("ParseDate(%q) = %s, want an error", in, got)
		} else if !errors.Is(err, errNoDate) {
			t.Errorf("ParseDate(%q): %v", in, err)
		}
	}
}

func TestParseDateNilLocationIsUTC(t *testing.T) {
	got, err := ParseDate("2026-11-03", "", nil)
	if err != nil || !got.Equal(time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("%s %v", got, err)
	}
}
