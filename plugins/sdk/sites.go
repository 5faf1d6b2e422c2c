package sdk

import (
	"maps"
	"slices"
	"sync"
)

// Sites holds a plugin's per-site configuration across reloads. Configure
// builds a new *T and calls Set, which replaces the site's value at once;
// Handle and RunJob call Get and use the value they got to the end of the
// call, so a reload never changes a configuration under a running call.
// Values must not be modified after Set.
type Sites[T any] struct {
	mu sync.RWMutex
	m  map[string]*T
}

// Set makes v the site's configuration and returns the previous one (nil
// when there was none), for the caller to release.
func (s *Sites[T]) Set(site string, v *T) (previous *T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*T{}
	}
	previous = s.m[site]
	s.m[site] = v
	return previous
}

// Get returns the site's configuration, or false when the site has not
// been configured.
func (s *Sites[T]) Get(site string) (*T, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[site]
	return v, ok
}

// Delete forgets a site and returns its configuration.
func (s *Sites[T]) Delete(site string) *T {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[site]
	delete(s.m, site)
	return v
}

// Names returns the configured sites, sorted.
func (s *Sites[T]) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.m))
}

// NotConfigured is the answer to a message for a site Configure has not
// accepted: failed and retryable, since the host configures the site again
// after a reload or a relaunch.
func NotConfigured(site string) *HandleResponse {
	return Retry(Problem("$.site", "state", "site "+site+" is not configured in this plugin",
		"check the site's settings with `medgate check-config`; the host configures the site again on reload"))
}
