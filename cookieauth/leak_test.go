package cookieauth

import (
	"testing"

	"github.com/wsgate/wsgate/internal/testutil"
)

// TestMain fails the package's tests if any goroutine they started outlives them.
func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }
