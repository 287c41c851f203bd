package query

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Time filters and the sort order narrow or order the whole query rather
// than test one field, so they stand only at its top level, side by side
// with its terms:
//
//	since:7d  since:12h  since:2w   dated within that age of now
//	since:2026-01-01                dated on or after that day (as after:)
//	after:2026-01-01                dated on or after that day
//	before:2026-06-30               dated before that day (the day excluded)
//	date:2026-11  date:2026-11-05  date:2026   dated in that month, day or year
//	sort:date  sort:relevance       newest first, or best first (the default)
//
// Days are calendar days in the zone of the time passed to TimeRange. An
// item without a date never passes a time filter.
const (
	fieldSince  = "since"
	fieldAfter  = "after"
	fieldBefore = "before"
	fieldDate   = "date"
	fieldSort   = "sort"
)

// maxAge bounds since:'s age, so that now minus it cannot overflow.
const maxAge = 200 * 365 * 24 * time.Hour

func isTimeField(name string) bool {
	switch name {
	case fieldSince, fieldAfter, fieldBefore, fieldDate, fieldSort:
		return true
	}
	return false
}

// timeFilter is one time filter or sort order as written.
type timeFilter struct {
	field string
	value string // lower case, as written
	pos   int    // 1-based column of the field name
	age   time.Duration
	from  day // after:, since:DATE, date: start
	until day // date: end (exclusive), before:
}

// day is a calendar date; month and day 0 stand for a whole year or month.
type day struct{ y, m, d int }

func (d day) zero() bool { return d.y == 0 }

func (d day) start(loc *time.Location) time.Time {
	return time.Date(d.y, time.Month(max(d.m, 1)), max(d.d, 1), 0, 0, 0, 0, loc)
}

// next is the first day after the period d names.
func (d day) next() day {
	switch {
	case d.m == 0:
		return day{d.y + 1, 1, 1}
	case d.d == 0:
		t := time.Date(d.y, time.Month(d.m)+1, 1, 0, 0, 0, 0, time.UTC)
		return day{t.Year(), int(t.Month()), 1}
	}
	t := time.Date(d.y, time.Month(d.m), d.d+1, 0, 0, 0, 0, time.UTC)
	return day{t.Year(), int(t.Month()), t.Day()}
}

// parseDay reads YYYY-MM-DD, or YYYY-MM and YYYY when period is set.
func parseDay(s string, period bool) (day, bool) {
	parts := strings.Split(s, "-")
	if len(parts) > 3 || (!period && len(parts) != 3) || len(parts[0]) != 4 {
		return day{}, false
	}
	var v [3]int
	for i, p := range parts {
		if (i > 0 && len(p) != 2) || !allDigits(p) {
			return day{}, false
		}
		v[i], _ = strconv.Atoi(p)
	}
	d := day{v[0], v[1], v[2]}
	if d.y < 1 || len(parts) > 1 && (d.m < 1 || d.m > 12) {
		return day{}, false
	}
	if len(parts) == 3 {
		if t := time.Date(d.y, time.Month(d.m), d.d, 0, 0, 0, 0, time.UTC); d.d < 1 || t.Day() != d.d {
			return day{}, false
		}
	}
	return d, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseAge reads 12h, 7d or 2w.
func parseAge(s string) (time.Duration, bool) {
	if len(s) < 2 || !allDigits(s[:len(s)-1]) {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n < 1 {
		return 0, false
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	case 'w':
		unit = 7 * 24 * time.Hour
	default:
		return 0, false
	}
	if n > int64(maxAge/unit) {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// newTimeFilter checks the value of a time field; msg explains a bad one.
func newTimeFilter(field, value string, pos int) (timeFilter, string) {
	v := strings.ToLower(value)
	f := timeFilter{field: field, value: v, pos: pos}
	switch field {
	case fieldSince:
		if age, ok := parseAge(v); ok {
			f.age = age
			return f, ""
		}
		if d, ok := parseDay(v, true); ok {
			f.from = d
			return f, ""
		}
		return f, fmt.Sprintf("since: takes an age such as 12h, 7d or 2w, or a date such as 2026-01-01, not %q", value)
	case fieldAfter, fieldBefore:
		d, ok := parseDay(v, true)
		if !ok {
			return f, fmt.Sprintf("%s: takes a date such as 2026-01-31 (or a month, 2026-01), not %q", field, value)
		}
		if field == fieldAfter {
			f.from = d
		} else {
			f.until = d
		}
		return f, ""
	case fieldDate:
		d, ok := parseDay(v, true)
		if !ok {
			return f, fmt.Sprintf("date: takes a day, a month or a year such as 2026-11-05, 2026-11 or 2026, not %q", value)
		}
		f.from, f.until = d, d.next()
		return f, ""
	case fieldSort:
		if v != "date" && v != "relevance" {
			return f, fmt.Sprintf("sort: is sort:date (newest first) or sort:relevance, not %q", value)
		}
		return f, ""
	}
	return f, "unknown time filter"
}

func (f timeFilter) String() string { return f.field + ":" + f.value }

// timeNode is a time filter while the query is parsed; Parse takes every one
// out of the tree, and refuses those that are not at its top level.
type timeNode struct{ f timeFilter }

func (timeNode) isNode() {}

// takeTimeFilters removes the time filters from the top level of root and
// reports one anywhere else.
func takeTimeFilters(root Node) (Node, []timeFilter, error) {
	var filters []timeFilter
	switch n := root.(type) {
	case timeNode:
		return nil, []timeFilter{n.f}, nil
	case And:
		kept := n.Children[:0:0]
		for _, k := range n.Children {
			if t, ok := k.(timeNode); ok {
				filters = append(filters, t.f)
				continue
			}
			kept = append(kept, k)
		}
		switch len(kept) {
		case 0:
			root = nil
		case 1:
			root = kept[0]
		default:
			root = And{Children: kept}
		}
	}
	if t, ok := findTimeNode(root); ok {
		return nil, nil, &SyntaxError{Pos: t.f.pos, Msg: fmt.Sprintf("%s: applies to the whole query, so it cannot stand under OR or NOT", t.f.field)}
	}
	return root, filters, nil
}

func findTimeNode(n Node) (timeNode, bool) {
	switch n := n.(type) {
	case timeNode:
		return n, true
	case And:
		for _, k := range n.Children {
			if t, ok := findTimeNode(k); ok {
				return t, true
			}
		}
	case Or:
		for _, k := range n.Children {
			if t, ok := findTimeNode(k); ok {
				return t, true
			}
		}
	case Not:
		return findTimeNode(n.Child)
	}
	return timeNode{}, false
}

// TimeRange is the span of dates a query's time filters let through: From
// inclusive, To exclusive, a zero end open.
type TimeRange struct {
	From, To time.Time
}

// Contains reports whether t is within the range. A zero t (an item
// without a date) never is.
func (r TimeRange) Contains(t time.Time) bool {
	if t.IsZero() {
		return false
	}
	return (r.From.IsZero() || !t.Before(r.From)) && (r.To.IsZero() || t.Before(r.To))
}

// Empty reports whether no date is within the range.
func (r TimeRange) Empty() bool {
	return !r.From.IsZero() && !r.To.IsZero() && !r.From.Before(r.To)
}

// HasTimeFilter reports whether the query has since:, after:, before: or
// date:.
func (q *Query) HasTimeFilter() bool {
	for _, f := range q.time {
		if f.field != fieldSort {
			return true
		}
	}
	return false
}

// SortByDate reports whether the query asks for sort:date.
func (q *Query) SortByDate() bool {
	for _, f := range q.time {
		if f.field == fieldSort {
			return f.value == "date"
		}
	}
	return false
}

// TimeRange resolves the time filters against now: since: counts back from
// now, and days are calendar days in now's location. ok is false when the
// query has no time filter. Several filters give their intersection.
func (q *Query) TimeRange(now time.Time) (r TimeRange, ok bool) {
	loc := now.Location()
	narrowFrom := func(t time.Time) {
		if r.From.IsZero() || t.After(r.From) {
			r.From = t
		}
	}
	narrowTo := func(t time.Time) {
		if r.To.IsZero() || t.Before(r.To) {
			r.To = t
		}
	}
	for _, f := range q.time {
		if f.field == fieldSort {
			continue
		}
		ok = true
		if f.age > 0 {
			narrowFrom(now.Add(-f.age))
		}
		if !f.from.zero() {
			narrowFrom(f.from.start(loc))
		}
		if !f.until.zero() {
			narrowTo(f.until.start(loc))
		}
	}
	return r, ok
}

// MatchAt reports whether the prepared item matches the query, with its
// time filters resolved against now (see TimeRange).
func (q *Query) MatchAt(d *Doc, now time.Time) bool {
	if r, ok := q.TimeRange(now); ok && !r.Contains(d.date) {
		return false
	}
	return q.root == nil || q.m.match(d)
}

// ForTopic returns a *SyntaxError at the first time filter or sort order of
// the query, or nil: a topic routes each new item as it comes, so a time
// filter or an order means nothing there.
func ForTopic(q *Query) error {
	if len(q.time) == 0 {
		return nil
	}
	f := q.time[0]
	if f.field == fieldSort {
		return &SyntaxError{Pos: f.pos, Msg: "sort: orders search results; a topic routes each new item as it comes, so it takes no sort:"}
	}
	return &SyntaxError{Pos: f.pos, Msg: fmt.Sprintf("%s: is a time filter for search, subscriptions and watches; a topic routes each new item as it comes, so it takes none", f.field)}
}

// ForRouting returns a *SyntaxError at a sort order, or nil: a subscription
// or a watch posts new items as they come, so there is nothing to sort.
// Its time filters apply to each new item's date when it is routed.
func ForRouting(q *Query) error {
	for _, f := range q.time {
		if f.field == fieldSort {
			return &SyntaxError{Pos: f.pos, Msg: "sort: orders search results; new items are posted as they come, so a subscription or watch takes no sort:"}
		}
	}
	return nil
}

// ParseTopic parses the query of a topic: Parse, and ForTopic.
func ParseTopic(s string) (*Query, error) {
	q, err := Parse(s)
	if err != nil {
		return nil, err
	}
	if err := ForTopic(q); err != nil {
		return nil, err
	}
	return q, nil
}
