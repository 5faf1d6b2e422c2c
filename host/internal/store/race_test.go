//go:build race

package store

// raceEnabled: the race detector is on; it changes what allocates.
const raceEnabled = true
