//go:build race

package smenvelope

// raceEnabled: the race detector is on; it changes what allocates.
const raceEnabled = true
