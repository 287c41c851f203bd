package bench

import (
	"bytes"
	"context"
	"runtime/pprof"
	"sync"
	"time"
)

// cpuUsage is the process's CPU time so far, user and system together.
type cpuUsage struct{ user, sys time.Duration }

func (u cpuUsage) total() time.Duration { return u.user + u.sys }

func (u cpuUsage) sub(v cpuUsage) cpuUsage { return cpuUsage{u.user - v.user, u.sys - v.sys} }

// rssSampler reads the resident set size every interval and keeps the
// highest value since the last reset.
type rssSampler struct {
	mu     sync.Mutex
	peak   rssPeak
	cancel context.CancelFunc
	done   chan struct{}

	// heap, when set, is a snapshot of the in-use heap taken whenever the
	// anonymous memory grew by a tenth over the last snapshot: at the end
	// it holds what the heap was made of near its highest point.
	heapMu     sync.Mutex
	heap       []byte
	heapAnon   int64
	heapWanted bool
}

func startRSSSampler(interval time.Duration, heapProfile bool) *rssSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &rssSampler{cancel: cancel, done: make(chan struct{}), heapWanted: heapProfile}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// rssPeak is the highest resident size sampled, all pages and anonymous
// (heap) pages apart.
type rssPeak struct{ total, anon int64 }

func (s *rssSampler) sample() {
	total, anon := currentRSS()
	s.mu.Lock()
	s.peak.total = max(s.peak.total, total)
	s.peak.anon = max(s.peak.anon, anon)
	s.mu.Unlock()
	if s.heapWanted {
		s.heapMu.Lock()
		if anon > s.heapAnon+s.heapAnon/10 {
			var b bytes.Buffer
			if err := pprof.Lookup("heap").WriteTo(&b, 0); err == nil {
				s.heap, s.heapAnon = b.Bytes(), anon
			}
		}
		s.heapMu.Unlock()
	}
}

// heapAtPeak returns the last heap snapshot and the anonymous memory when
// it was taken.
func (s *rssSampler) heapAtPeak() ([]byte, int64) {
	s.heapMu.Lock()
	defer s.heapMu.Unlock()
	return s.heap, s.heapAnon
}

// takePeak returns the highest samples since the last call and starts
// over from the current size.
func (s *rssSampler) takePeak() rssPeak {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peak
	s.peak = rssPeak{}
	return p
}

func (s *rssSampler) stop() {
	s.cancel()
	<-s.done
}
