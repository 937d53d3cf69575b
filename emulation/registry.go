package emulation

import "sync"

// Store is where sessions are found by id. Registry is the in-process
// implementation; a cluster can provide its own.
type Store interface {
	// Add registers s, or fails with ErrTooManySessions.
	Add(s *Session) error
	// Get returns the session with the id, if live.
	Get(id string) (*Session, bool)
	// Remove forgets the session with the id.
	Remove(id string)
	// Len returns the number of live sessions.
	Len() int
	// Range calls f for each session until f returns false.
	Range(f func(*Session) bool)
}

// Registry is an in-memory Store with a session limit.
type Registry struct {
	max int
	mu  sync.RWMutex // guards m
	m   map[string]*Session
}

// NewRegistry returns an empty registry holding at most max sessions
// (max ≤ 0 means DefaultMaxSessions).
func NewRegistry(max int) *Registry {
	if max <= 0 {
		max = DefaultMaxSessions
	}
	return &Registry{max: max, m: make(map[string]*Session)}
}

// Add registers s.
func (r *Registry) Add(s *Session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.m) >= r.max {
		return ErrTooManySessions
	}
	r.m[s.id] = s
	return nil
}

// Get returns the live session with the id.
func (r *Registry) Get(id string) (*Session, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.m[id]
	return s, ok
}

// Remove forgets the session with the id.
func (r *Registry) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, id)
}

// Len returns the number of live sessions.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}

// Range calls f for each session (on a snapshot) until f returns false.
func (r *Registry) Range(f func(*Session) bool) {
	r.mu.RLock()
	all := make([]*Session, 0, len(r.m))
	for _, s := range r.m {
		all = append(all, s)
	}
	r.mu.RUnlock()
	for _, s := range all {
		if !f(s) {
			return
		}
	}
}
