package gcp

import (
	"fmt"
	"strings"
)

// Google labels hold only lowercase letters, digits, underscores and
// hyphens (63 at most, a key starting with a letter), so keyward's tag
// values that need more (keyward-linked-to holds an inventory ID) are
// written escaped: an underscore starts two lowercase hex digits of a
// byte. Tags read back are unescaped. A user's label that holds an
// underscore not followed by hex reads as it is.

// escapeLabel escapes a value into Google's label alphabet.
func escapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	return b.String()
}

// unescapeLabel undoes escapeLabel; anything that is not an escape stays.
func unescapeLabel(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			var c byte
			fmt.Sscanf(s[i+1:i+3], "%02x", &c)
			b.WriteByte(c)
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// labelsToTags reads Google labels as keyward tags.
func labelsToTags(labels map[string]string) map[string]string {
	tags := make(map[string]string, len(labels)+8)
	for k, v := range labels {
		tags[k] = unescapeLabel(v)
	}
	return tags
}

// tagsToLabels writes keyward tags (all but gcp: attributes) as Google
// labels; a tag name Google cannot hold is refused by name.
func tagsToLabels(tags map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range tags {
		if strings.HasPrefix(k, "gcp:") {
			continue
		}
		if !validLabelKey(k) {
			return nil, fmt.Errorf("tag %q cannot be a Google label: a label key is 1 to 63 lowercase letters, digits, underscores or hyphens, starting with a letter", k)
		}
		e := escapeLabel(v)
		if len(e) > 63 {
			return nil, fmt.Errorf("tag %s is too long for a Google label (63 characters at most once escaped)", k)
		}
		out[k] = e
	}
	if len(out) > 64 {
		return nil, fmt.Errorf("%d tags: Google keeps 64 labels at most", len(out))
	}
	return out, nil
}

func validLabelKey(k string) bool {
	if k == "" || len(k) > 63 || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
