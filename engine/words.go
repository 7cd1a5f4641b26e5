package engine

import (
	"fmt"
	"strings"
)

// Plural is "1 version", "3 versions", "0 keys": a count with its noun, for
// every message an administrator reads (TUI, CLI, events).
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// WithArticle is "an admin", "a user", "an unknown": the indefinite article
// a word takes, by how it starts (right for the words keyward uses).
func WithArticle(word string) string {
	if strings.HasPrefix(word, "un") || strings.IndexByte("aeio", firstByte(word)) >= 0 {
		return "an " + word
	}
	return "a " + word
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}
