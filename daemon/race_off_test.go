//go:build !race

package daemon

// raceDetector: this test binary runs under the race detector (-race),
// where a heap measurement means little and a large one takes minutes.
const raceDetector = false
