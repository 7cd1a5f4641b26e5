package cloud

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// TestPeriodOnly: a policy with only a period (or nothing) passes; one
// asking an expiry, a rotation before expiry or a notification is refused
// as unsupported with the connector's reason.
func TestPeriodOnly(t *testing.T) {
	day := engine.Duration(24 * time.Hour)
	for _, c := range []struct {
		p    RotationPolicy
		want bool // refused
	}{
		{RotationPolicy{}, false},
		{RotationPolicy{RotateAfter: 90 * day}, false},
		{RotationPolicy{RotateAfter: 90 * day, ExpireAfter: 365 * day}, true},
		{RotationPolicy{RotateBeforeExpiry: 30 * day}, true},
		{RotationPolicy{NotifyBefore: day}, true},
	} {
		err := c.p.PeriodOnly("set rotation of k", "only a period here")
		var ce *Error
		switch {
		case !c.want && err != nil:
			t.Errorf("%+v refused: %v", c.p, err)
		case c.want && (!errors.As(err, &ce) || ce.Kind != ErrUnsupported || ce.Op != "set rotation of k" || ce.Reason != "only a period here"):
			t.Errorf("%+v: %v, want unsupported with the reason", c.p, err)
		}
	}
}
