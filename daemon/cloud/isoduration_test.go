package cloud

import (
	"errors"
	"testing"
	"time"
)

func TestParseISODuration(t *testing.T) {
	day := 24 * time.Hour
	good := map[string]time.Duration{
		"P90D": 90 * day, "P1Y": 365 * day, "P2M": 60 * day, "P1Y6M": 545 * day, "P2W": 14 * day,
		"PT12H": 12 * time.Hour, "P1DT2H3M4S": day + 2*time.Hour + 3*time.Minute + 4*time.Second, "P0D": 0,
	}
	for in, want := range good {
		got, err := ParseISODuration(in)
		if err != nil || got != want {
			t.Errorf("ParseISODuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "P", "PT", "90D", "P-1D", "P1.5D", "PD", "P1H", "PT1D", "P1D1Y", "P1DD", "P1DT", "P9999999999D", "P1DTT1H", "p1d"} {
		if _, err := ParseISODuration(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseISODuration(%q): %v, want an invalid-duration error", in, err)
		}
	}
	for _, d := range []time.Duration{90 * day, 36 * time.Hour, 90*time.Minute + 5*time.Second, time.Second} {
		s := FormatISODuration(d)
		back, err := ParseISODuration(s)
		if err != nil || back != d {
			t.Errorf("FormatISODuration(%v) = %q, reads back as %v, %v", d, s, back, err)
		}
	}
	if s := FormatISODuration(500 * time.Millisecond); s != "" {
		t.Errorf("sub-second duration formats as %q, want empty (unset)", s)
	}
}

func FuzzParseISODuration(f *testing.F) {
	for _, s := range []string{"P90D", "P1Y6M", "PT12H", "P1DT2H3M4S", "P", "PT", "P-1D", "P99999999Y", "P1W2D", "PT0S"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseISODuration(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("%q parsed as negative %v", s, d)
		}
		if f := FormatISODuration(d); d >= time.Second {
			back, err := ParseISODuration(f)
			if err != nil || back != d.Truncate(time.Second) {
				t.Fatalf("%q → %v → %q → %v, %v", s, d, f, back, err)
			}
		}
	})
}
