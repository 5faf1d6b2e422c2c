//go:build race

package pipeline

// raceEnabled: the tests run with the race detector.
const raceEnabled = true
