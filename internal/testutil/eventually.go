package testutil

import (
	"testing"
	"time"
)

// PollInterval is how often Eventually calls its condition.
const PollInterval = 10 * time.Millisecond

// Eventually calls cond every PollInterval until it returns nil, and returns how long
// that took. If cond still returns an error after within, the test fails with that last
// error, which should say what was awaited and what was seen ("panics counted: 0, want
// 1"). It is for state a test cannot be told about (a route coming up, a peer noticing
// a death); where the code under test can signal, wait on that instead.
func Eventually(t testing.TB, within time.Duration, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", within, err)
		}
		time.Sleep(PollInterval)
	}
}
