package summary

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
)

// fakeLLM is an OpenAI-compatible chat-completions server.
type fakeLLM struct {
	*httptest.Server
	mu       sync.Mutex
	answer   string
	status   int
	delay    time.Duration
	paths    []string
	auth     []string
	requests []chatRequest
}

func newFakeLLM(t *testing.T, answer string) *fakeLLM {
	t.Helper()
	f := &fakeLLM{answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req chatRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.paths = append(f.paths, r.Method+" "+r.URL.Path)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.requests = append(f.requests, req)
		answer, status, delay := f.answer, f.status, f.delay
		f.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		if status != 0 {
			w.WriteHeader(status)
			w.Write([]byte(`{"error":{"message":"model overloaded","type":"server_error"}}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"id":      "chatcmpl-1",
			"object":  "chat.completion",
			"created": 1700000000,
			"model":   req.Model,
			"choices": []map[string]any{{
				"index":         0,
				"message":       map[string]string{"role": "assistant", "content": answer},
				"finish_reason": "stop",
			}},
			"usage": map[string]int{"prompt_tokens": 300, "completion_tokens": 60, "total_tokens": 360},
		})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeLLM) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.paths)
}

// councilArticle is the text the LLM tests summarize: the item carries it
// as its content, so no page is read.
func councilArticle(t *testing.T) string {
	t.Helper()
	text, err := ExtractArticle(readFixture(t, "council-digital-diplomacy"), "https://www.consilium.europa.eu/en/press/")
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func llmItem(t *testing.T) policywire.Item {
	return policywire.Item{
		Source:  "council",
		URL:     "https://www.consilium.europa.eu/en/press/press-releases/2022/07/18/digital-diplomacy-council-approves-conclusions/",
		Title:   "Digital diplomacy: Council approves conclusions",
		Content: councilArticle(t),
	}
}

func newLLMSummarizer(url string, key config.Secret, timeout time.Duration, logs *bytes.Buffer) *Summarizer {
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return New(Options{
		Config: config.Summary{
			MaxChars:     400,
			FetchArticle: FetchNever,
			LLM:          config.LLM{URL: url, Model: "test-model", APIKey: key, Timeout: timeout},
		},
		Logger: logger,
	})
}

const groundedAnswer = "The Council approved conclusions on EU digital diplomacy, which set out how the EU and its member states " +
	"promote their values and interests in the digital world. The High Representative and the Commission will report " +
	"on the implementation of the conclusions by the end of 2023."

func TestLLMGroundedAnswerIsUsed(t *testing.T) {
	for _, suffix := range []string{"/v1", "/v1/", "/v1/chat/completions"} {
		t.Run(suffix, func(t *testing.T) {
			llm := newFakeLLM(t, "Summary: **"+groundedAnswer+"**")
			s := newLLMSummarizer(llm.URL+suffix, "sk-test-key", 5*time.Second, nil)
			it := llmItem(t)
			res, err := s.Summarize(context.Background(), it, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !res.FromLLM || res.Summary != groundedAnswer {
				t.Fatalf("got %+v, want the LLM answer", res)
			}
			if len([]rune(res.Summary)) > 400 {
				t.Errorf("LLM summary over the limit: %d", len([]rune(res.Summary)))
			}
			if llm.paths[0] != "POST /v1/chat/completions" {
				t.Errorf("request went to %q", llm.paths[0])
			}
			if llm.auth[0] != "Bearer sk-test-key" {
				t.Errorf("Authorization = %q", llm.auth[0])
			}
			req := llm.requests[0]
			if req.Model != "test-model" || len(req.Messages) != 2 || req.Messages[0].Role != "system" || req.Messages[1].Role != "user" {
				t.Fatalf("request = %+v", req)
			}
			if !strings.Contains(req.Messages[0].Content, "at most 400 characters") || !strings.Contains(req.Messages[0].Content, "only facts") {
				t.Errorf("system prompt = %q", req.Messages[0].Content)
			}
			if !strings.Contains(req.Messages[1].Content, it.Title) || !strings.Contains(req.Messages[1].Content, "ST 11406/22") {
				t.Errorf("user message lacks the title or the text: %q", req.Messages[1].Content)
			}
			// References still come from the text, not from the model.
			if len(res.References) != 2 || res.References[0] != "ST 11406/22" {
				t.Errorf("references = %q", res.References)
			}
		})
	}
}

func TestLLMWithoutKeySendsNoAuthorization(t *testing.T) {
	llm := newFakeLLM(t, groundedAnswer)
	res, err := newLLMSummarizer(llm.URL+"/v1", "", 5*time.Second, nil).Summarize(context.Background(), llmItem(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.FromLLM || llm.auth[0] != "" {
		t.Errorf("FromLLM=%v Authorization=%q", res.FromLLM, llm.auth[0])
	}
}

func TestLLMInventedFactsAreRejected(t *testing.T) {
	answers := map[string]string{
		"invented name":   "The Council approved conclusions on EU digital diplomacy. Ministers met in Paris to approve them.",
		"invented number": "The Council approved conclusions on EU digital diplomacy. The Commission will report by the end of 2031.",
		"invented person": "Josep Borrell welcomed the conclusions on EU digital diplomacy approved by the Council.",
		"off the text":    "Ministers celebrated a football championship victory with fireworks and music in a stadium.",
		"not a sentence":  "The Council approved conclusions on EU digital diplomacy and",
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			llm := newFakeLLM(t, answer)
			var logs bytes.Buffer
			it := llmItem(t)
			res, err := newLLMSummarizer(llm.URL+"/v1", "sk-test-key", 5*time.Second, &logs).Summarize(context.Background(), it, nil)
			if err != nil {
				t.Fatal(err)
			}
			if llm.calls() != 1 {
				t.Fatalf("LLM called %d times", llm.calls())
			}
			if res.FromLLM || res.Summary != Extractive(it.Content, nil, 400) {
				t.Errorf("got %+v, want the extractive summary", res)
			}
			if !strings.Contains(logs.String(), "not grounded") {
				t.Errorf("rejection not logged: %s", logs.String())
			}
		})
	}
}

func TestLLMFailuresFallBackWithinTheTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	cases := map[string]func(*fakeLLM){
		"slow":         func(f *fakeLLM) { f.delay = 10 * time.Second },
		"server error": func(f *fakeLLM) { f.status = http.StatusInternalServerError },
		"rate limited": func(f *fakeLLM) { f.status = http.StatusTooManyRequests },
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			llm := newFakeLLM(t, groundedAnswer)
			setup(llm)
			var logs bytes.Buffer
			it := llmItem(t)
			s := newLLMSummarizer(llm.URL+"/v1", "sk-secret-123", timeout, &logs)
			start := time.Now()
			res, err := s.Summarize(context.Background(), it, nil)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if elapsed > timeout+500*time.Millisecond {
				t.Errorf("Summarize took %v, over the LLM timeout %v plus margin", elapsed, timeout)
			}
			if res.FromLLM || res.Summary != Extractive(it.Content, nil, 400) {
				t.Errorf("got %+v, want the extractive summary", res)
			}
			if llm.calls() != 1 {
				t.Errorf("LLM called %d times", llm.calls())
			}
			if !strings.Contains(logs.String(), "LLM summary failed") {
				t.Errorf("failure not logged: %s", logs.String())
			}
			if strings.Contains(logs.String(), "sk-secret-123") {
				t.Errorf("API key in the logs: %s", logs.String())
			}
		})
	}
}

func TestLLMNotAskedWhenTheTextFits(t *testing.T) {
	llm := newFakeLLM(t, groundedAnswer)
	it := policywire.Item{Title: "Bureau", Summary: "The bureau opened today in Washington. It has three policy units."}
	res, err := newLLMSummarizer(llm.URL+"/v1", "", 5*time.Second, nil).Summarize(context.Background(), it, nil)
	if err != nil {
		t.Fatal(err)
	}
	if llm.calls() != 0 || res.FromLLM || res.Summary != it.Summary {
		t.Errorf("calls=%d result %+v", llm.calls(), res)
	}
}

func TestLLMOverlongAnswerIsCutToWholeSentences(t *testing.T) {
	long := groundedAnswer + " The conclusions call for closer coordination between the EU institutions and the member states, " +
		"through a network of digital diplomats in EU delegations and national embassies."
	llm := newFakeLLM(t, long)
	res, err := newLLMSummarizer(llm.URL+"/v1", "", 5*time.Second, nil).Summarize(context.Background(), llmItem(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.FromLLM || res.Summary != groundedAnswer {
		t.Errorf("got %+v, want the first two sentences", res)
	}
}

func TestGrounded(t *testing.T) {
	source := "The Council approved conclusions on EU digital diplomacy on 18 July 2022. The High Representative will report by the end of 2023. " +
		"The EU's office in San Francisco opens in September."
	tests := []struct {
		summary string
		ok      bool
	}{
		{"The Council approved conclusions on digital diplomacy.", true},
		{"The Council approves the conclusion on EU digital diplomacy.", true},
		{"The EU’s office in San Francisco opens in September.", true},
		{"The High Representative reports by 2023.", true},
		{"The conclusions were approved on 18.07.2022.", true},
		{"The conclusions were approved on 19 July 2022.", false},
		{"The office in Los Angeles opens in September.", false},
		{"The Council approved conclusions on fisheries quotas and farm subsidies for dairy farmers.", false},
		{"The Council approved conclusions on digital diplomacy", false},
		{"", false},
	}
	for _, tt := range tests {
		err := grounded(tt.summary, source)
		if (err == nil) != tt.ok {
			t.Errorf("grounded(%q) = %v, want ok=%v", tt.summary, err, tt.ok)
		}
	}
}

func TestChatCompletionsURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:8081/v1":                   "http://localhost:8081/v1/chat/completions",
		"http://localhost:8081/v1/":                  "http://localhost:8081/v1/chat/completions",
		"http://localhost:8081/v1/chat/completions":  "http://localhost:8081/v1/chat/completions",
		"http://localhost:8081/v1/chat/completions/": "http://localhost:8081/v1/chat/completions",
		"https://llm.example/openai/v1":              "https://llm.example/openai/v1/chat/completions",
		"https://llm.example/v1?api-version=2024-06": "https://llm.example/v1/chat/completions?api-version=2024-06",
	} {
		if got := chatCompletionsURL(in); got != want {
			t.Errorf("chatCompletionsURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLLMCredentialsInTheURLAreNotLogged(t *testing.T) {
	llm := newFakeLLM(t, groundedAnswer)
	llm.status = http.StatusUnauthorized
	var logs bytes.Buffer
	u := strings.Replace(llm.URL, "http://", "http://user:pa55word@", 1) + "/v1?api-key=sk-in-query"
	res, err := newLLMSummarizer(u, "", 5*time.Second, &logs).Summarize(context.Background(), llmItem(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.FromLLM || llm.calls() != 1 || llm.paths[0] != "POST /v1/chat/completions" {
		t.Fatalf("FromLLM=%v calls=%d paths=%q", res.FromLLM, llm.calls(), llm.paths)
	}
	for _, secret := range []string{"pa55word", "sk-in-query"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("%q in the logs: %s", secret, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "401") {
		t.Errorf("the failure is not explained: %s", logs.String())
	}
}
