package table

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestMiddleKeepsHeadAndTail(t *testing.T) {
	for _, tc := range []struct {
		s    string
		w    int
		want string
	}{
		{"acme-crm-field-encryption-key.12", 18, "acme-crm-…n-key.12"},
		{"short", 18, "short"},
		{"abcdef", 2, "a…"},
		{"abcdef", 3, "a…f"},
	} {
		if got := Middle(tc.s, tc.w); got != tc.want {
			t.Errorf("Middle(%q, %d) = %q, want %q", tc.s, tc.w, got, tc.want)
		}
	}
}

func TestDistinctTellsNamesApart(t *testing.T) {
	tests := map[string][]string{}
	for i := 1; i <= 12; i++ {
		tests["end"] = append(tests["end"], fmt.Sprintf("acme-crm-customer-field-encryption-key.%d", i))
	}
	for _, region := range []string{"eu-west", "eu-north", "us-west", "us-east", "ap-south"} {
		tests["middle"] = append(tests["middle"], "acme-payments-tokenisation-prod-"+region+"-primary-wrapping-key")
	}
	tests["head"] = []string{"alpha-long-shared-tail-of-the-name", "bravo-long-shared-tail-of-the-name"}
	for name, texts := range tests {
		for _, w := range []int{12, 16, 18, 24, 30} {
			got := Distinct(texts, w)
			seen := map[string]string{}
			for i, s := range got {
				if ansi.StringWidth(s) > w {
					t.Errorf("%s at %d: %q is wider than %d", name, w, s, w)
				}
				if prev, ok := seen[s]; ok {
					t.Errorf("%s at %d: %q and %q both read %q", name, w, prev, texts[i], s)
				}
				seen[s] = texts[i]
			}
		}
	}
}

func TestDistinctKeepsWhatFits(t *testing.T) {
	got := Distinct([]string{"kms-prod", "a\x1bname"}, 10)
	if got[0] != "kms-prod" || strings.ContainsRune(got[1], 0x1b) {
		t.Errorf("Distinct = %q", got)
	}
}

func FuzzDistinct(f *testing.F) {
	f.Add("acme-crm-customer-field-encryption-key.1", "acme-crm-customer-field-encryption-key.2", 18)
	f.Add("名前名前名前名前名前", "名前名前名前名前名後", 5)
	f.Add("a", "", 0)
	f.Fuzz(func(t *testing.T, a, b string, w int) {
		if w < 0 || w > 200 {
			return
		}
		for _, s := range Distinct([]string{a, b}, w) {
			if ansi.StringWidth(s) > max(w, 0) {
				t.Fatalf("%q is wider than %d", s, w)
			}
		}
	})
}
