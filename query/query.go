// Package query is the query language shared by topics, chat subscriptions
// and archive search: parse a query into an AST, match it against one item,
// and (in store/index) compile it to a search-index query. It owns the word
// rules both sides must share — Fold, Tokens and NormalizeRef — and knows
// nothing of storage, search engines, sources or chat.
package query

import "fmt"

// SyntaxError is a query that does not parse. Pos is the 1-based column,
// counted in characters, where the problem starts.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("query: column %d: %s", e.Pos, e.Msg) }
