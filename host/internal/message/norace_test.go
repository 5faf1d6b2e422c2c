//go:build !race

package message

// raceEnabled: the race detector is on; it changes what allocates.
const raceEnabled = false
