package bench

import (
	"context"
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
}

func startRSSSampler(interval time.Duration) *rssSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &rssSampler{cancel: cancel, done: make(chan struct{})}
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
