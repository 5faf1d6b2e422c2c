//go:build !race

package adapter

// raceEnabled: the race detector is on; it changes what allocates.
const raceEnabled = false
