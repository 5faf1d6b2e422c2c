//go:build !race

package adapter_test

// raceEnabled: the race detector is on; it multiplies what the process
// allocates and holds, so memory bounds do not apply.
const raceEnabled = false
