package summary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultLLMTimeout bounds an LLM request when the configuration gives none.
const DefaultLLMTimeout = 20 * time.Second

// llmMaxResponse caps the body read from the LLM server.
const llmMaxResponse = 1 << 20

// llmMaxInputRunes caps the article text sent to the LLM.
const llmMaxInputRunes = 12000

// minGroundedShare is the share of a sentence's content words that must
// appear in the source text for the sentence to count as grounded.
const minGroundedShare = 0.6

// chatCompletionsURL turns the configured URL into the endpoint: a base URL
// as OpenAI clients take it ("http://localhost:8081/v1") gets
// "/chat/completions" appended; a URL that already ends in
// "/chat/completions" is used as it is.
func chatCompletionsURL(configured string) string {
	raw := strings.TrimSpace(configured)
	u, err := url.Parse(raw)
	if err != nil {
		return raw // building the request reports it
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/chat/completions") {
		p += "/chat/completions"
	}
	u.Path, u.RawPath = p, ""
	return u.String()
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model       string        `json:"model,omitempty"`
	Messages    []chatMessage `json:"messages"`
	Temperature float64       `json:"temperature"`
	MaxTokens   int           `json:"max_tokens,omitempty"`
	Stream      bool          `json:"stream"`
}

type chatResponse struct {
	Choices []struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// llmSummary asks the configured chat-completions server for a summary of
// text and returns it cleaned and cut to whole sentences within maxChars. The
// caller checks grounding.
func (s *Summarizer) llmSummary(ctx context.Context, title, text string, maxChars int) (string, error) {
	cfg := s.cfg.LLM
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultLLMTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if r := []rune(text); len(r) > llmMaxInputRunes {
		text = string(r[:llmMaxInputRunes])
	}
	user := text
	if title != "" {
		user = "Title: " + title + "\n\n" + text
	}
	reqBody, err := json.Marshal(chatRequest{
		Model: cfg.Model,
		Messages: []chatMessage{
			{Role: "system", Content: fmt.Sprintf("Summarize the text in at most %d characters, in 2-3 sentences. "+
				"Use only facts stated in the text: add no names, numbers or dates that are not in it. "+
				"Write in the language of the text. Answer with the summary only.", maxChars)},
			{Role: "user", Content: user},
		},
		MaxTokens: maxChars/2 + 64,
	})
	if err != nil {
		return "", fmt.Errorf("summary: encode LLM request: %w", err)
	}
	target := chatCompletionsURL(cfg.URL)
	endpoint := redactURL(target) // what errors and logs may show
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(reqBody))
	if err != nil {
		return "", fmt.Errorf("summary: LLM request to %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if key := cfg.APIKey.Value(); key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := s.httpClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the *url.Error would repeat the full URL
		}
		return "", fmt.Errorf("summary: LLM request to %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, llmMaxResponse+1))
	if err != nil {
		return "", fmt.Errorf("summary: read LLM answer from %s: %w", endpoint, err)
	}
	if len(body) > llmMaxResponse {
		return "", fmt.Errorf("summary: LLM answer from %s is over %d bytes", endpoint, llmMaxResponse)
	}
	if resp.StatusCode/100 != 2 {
		msg := snippet(body)
		if key := cfg.APIKey.Value(); key != "" {
			msg = strings.ReplaceAll(msg, key, "[redacted]")
		}
		return "", fmt.Errorf("summary: LLM server %s answered %s: %s", endpoint, resp.Status, msg)
	}
	var parsed chatResponse
	if err := json.Unmarshal(body, &parsed); err != nil {
		return "", fmt.Errorf("summary: LLM answer from %s is not chat-completions JSON: %w", endpoint, err)
	}
	if parsed.Error != nil && parsed.Error.Message != "" {
		return "", fmt.Errorf("summary: LLM server %s: %s", endpoint, parsed.Error.Message)
	}
	if len(parsed.Choices) == 0 {
		return "", fmt.Errorf("summary: LLM answer from %s has no choices", endpoint)
	}
	out := cleanLLMText(parsed.Choices[0].Message.Content)
	out = wholeSentencesWithin(out, maxChars)
	if out == "" {
		return "", errors.New("summary: LLM answer is empty or has no whole sentence within the length")
	}
	return out, nil
}

// redactURL hides credentials a URL may carry, in its user info or its query.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable LLM URL)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// snippet shortens a server's error body for an error message.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200]) + "…"
	}
	return s
}

// cleanLLMText removes what chat models wrap answers in: a "Summary:" label,
// surrounding quotes, Markdown emphasis and bullets, thinking blocks.
func cleanLLMText(s string) string {
	if i := strings.LastIndex(s, "</think>"); i >= 0 {
		s = s[i+len("</think>"):]
	}
	s = strings.NewReplacer("**", "", "__", "", "`", "").Replace(s)
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		l = strings.TrimLeft(l, "-*• ")
		if l != "" {
			lines = append(lines, l)
		}
	}
	s = strings.Join(lines, " ")
	for _, label := range []string{"summary:", "résumé:", "zusammenfassung:"} {
		if strings.HasPrefix(strings.ToLower(s), label) {
			s = strings.TrimSpace(s[len(label):])
		}
	}
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"') {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return strings.Join(strings.Fields(s), " ")
}

// wholeSentencesWithin keeps the leading whole sentences of s that fit in
// maxChars runes.
func wholeSentencesWithin(s string, maxChars int) string {
	var out []string
	used := 0
	for _, sent := range SplitSentences(s) {
		n := utf8.RuneCountInString(sent)
		if len(out) > 0 {
			n++
		}
		if used+n > maxChars {
			break
		}
		out = append(out, sent)
		used += n
	}
	return strings.Join(out, " ")
}

// grounded reports whether every sentence of summary is supported by source:
// at least minGroundedShare of its content words appear in the source (by
// stem), and every number and every capitalized word in it appears in the
// source as it is (after folding). A model that adds a name, a date or an
// amount fails the check.
func grounded(summary, source string) error {
	srcFolded := fold(source)
	srcWords := map[string]bool{}
	srcStems := map[string]bool{}
	for _, w := range words(srcFolded) {
		srcWords[w] = true
		srcStems[stem(w)] = true
	}
	srcNumbers := numbers(source)
	// A date written "18 July 2022" in the text may come back as 18.07.2022.
	for w := range srcWords {
		if m, ok := monthNumbers[w]; ok {
			srcNumbers[m] = true
		}
	}

	sentences := SplitSentences(summary)
	if len(sentences) == 0 {
		return errors.New("no sentence")
	}
	for _, sent := range sentences {
		if !endsWithPunctuation(sent) {
			return fmt.Errorf("sentence %q is not a whole sentence", sent)
		}
		for n := range numbers(sent) {
			if !srcNumbers[n] {
				return fmt.Errorf("number %s is not in the text", n)
			}
		}
		for _, name := range capitalizedWords(sent) {
			if !srcWords[name] && !srcWords[strings.TrimSuffix(name, "s")] {
				return fmt.Errorf("name %q is not in the text", name)
			}
		}
		cw := contentWords(sent)
		if len(cw) == 0 {
			continue
		}
		found := 0
		for _, w := range cw {
			if srcWords[w] || srcStems[stem(w)] {
				found++
			}
		}
		if share := float64(found) / float64(len(cw)); share < minGroundedShare {
			return fmt.Errorf("only %.0f%% of the words of %q are in the text", share*100, sent)
		}
	}
	return nil
}

// monthNumbers maps folded month names (English, French, German) to their
// numbers.
var monthNumbers = func() map[string]string {
	m := map[string]string{}
	for i, names := range [][]string{
		{"january", "janvier", "januar", "janner"}, {"february", "fevrier", "februar"},
		{"march", "mars", "marz"}, {"april", "avril"}, {"mai"}, {"june", "juin", "juni"},
		{"july", "juillet", "juli"}, {"august", "aout"}, {"september", "septembre"},
		{"october", "octobre", "oktober"}, {"november", "novembre"}, {"december", "decembre", "dezember"},
	} {
		for _, n := range names {
			m[n] = fmt.Sprint(i + 1)
		}
	}
	return m
}()

// stem is a crude language-neutral stem: a word's first six letters, or a
// shorter word without a plural s. It lets "approved" meet "approves" and
// "conclusions" meet "conclusion".
func stem(w string) string {
	r := []rune(w)
	if len(r) > 6 {
		return string(r[:6])
	}
	return strings.TrimSuffix(w, "s")
}

// numbers returns the digit runs of s without leading zeros, so "18.07.2022"
// gives 18, 7 and 2022 and "€1,500" gives 1 and 500.
func numbers(s string) map[string]bool {
	out := map[string]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		out[trimZeros(f)] = true
	}
	return out
}

// capitalizedWords returns, folded, the words of a sentence that start with
// a capital letter and are not function words: names, places, acronyms. The
// first word of the sentence counts too unless it is a function word.
func capitalizedWords(sent string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(sent, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	}) {
		w = strings.Trim(strings.TrimSuffix(w, "'s"), "'")
		r, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsUpper(r) {
			continue
		}
		f := fold(w)
		if stopWords[f] {
			continue
		}
		out = append(out, f)
	}
	return out
}
