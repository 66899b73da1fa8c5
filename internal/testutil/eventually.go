package testutil

import (
	"fmt"
	"testing"
	"time"
)

// PollInterval is how often Eventually checks its condition.
const PollInterval = 10 * time.Millisecond

// Eventually calls cond every PollInterval until it returns true, and fails the test with
// the formatted message if it has not within the given time. It is for state a test
// cannot be told about (a route coming up, a peer noticing a death); where the code
// under test can signal, wait on that instead.
func Eventually(t testing.TB, within time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s (not so after %v)", fmt.Sprintf(format, args...), within)
		}
		time.Sleep(PollInterval)
	}
}
