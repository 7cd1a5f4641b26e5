package fields

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/keyward/keyward/engine/token"
)

// Opened counts what a decryption pass did.
type Opened struct {
	// Decrypted is the number of tokens replaced by their plaintext.
	Decrypted int
	// Failed lists, per token left as it was, why it could not be opened.
	Failed []error
}

// DecryptJSON appends doc to dst with every keyward token inside a JSON
// string replaced by its plaintext, wherever it sits. A string that is
// exactly one "j" token becomes the JSON value it holds; text tokens are
// re-escaped as string content. A token that cannot be opened is left as it
// is.
//
// The document comes from the upstream and is not validated. Tokens are
// found with a fast substring search: in valid JSON "kw1" can only occur
// inside a string, whose opening quote is the nearest quote before it not
// escaped by a backslash (every quote inside a string is escaped) and whose
// closing quote is the next unescaped one. Bytes outside the strings that
// hold tokens are copied unchanged.
func DecryptJSON(dst, doc []byte, dec Decrypter) ([]byte, Opened) {
	var op Opened
	var tmp, pt []byte
	last := 0 // doc[:last] is already in dst
	from := 0 // search position
	for {
		k := bytes.Index(doc[from:], prefix)
		if k < 0 {
			break
		}
		k += from
		start := openingQuote(doc, last, k)
		if start < 0 {
			from = k + 1
			continue
		}
		end, ok := stringEnd(doc, k-1)
		if !ok {
			break
		}
		from = end + 1
		raw := doc[start+1 : end]
		// Whole-string token: cheapest and the only place a JSON-kind
		// token can turn back into a non-string value.
		if start+1 == k && token.Span(raw) == len(raw) {
			var kind token.Kind
			var err error
			pt, kind, err = dec(pt[:0], raw)
			if err != nil {
				op.Failed = append(op.Failed, err)
				continue
			}
			op.Decrypted++
			dst = append(dst, doc[last:start]...)
			if kind == token.JSON && !isKey(doc, end) && Valid(pt) {
				dst = append(dst, pt...)
			} else {
				dst = append(dst, '"')
				dst = escape(dst, pt)
				dst = append(dst, '"')
			}
			clear(pt)
			last = end + 1
			continue
		}
		// Tokens embedded in text: unescape, replace, re-escape.
		var err error
		tmp, err = unescape(tmp[:0], raw)
		if err != nil {
			continue
		}
		var out []byte
		out, n := replaceTokens(nil, tmp, dec, &op)
		if n == 0 {
			continue
		}
		dst = append(dst, doc[last:start]...)
		dst = append(dst, '"')
		dst = escape(dst, out)
		dst = append(dst, '"')
		clear(out)
		last = end + 1
	}
	clear(tmp)
	return append(dst, doc[last:]...), op
}

var prefix = []byte(token.Prefix)

// isKey reports whether the string closed at end is an object member name.
func isKey(doc []byte, end int) bool {
	for i := end + 1; i < len(doc); i++ {
		switch doc[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}

// openingQuote returns the index of the unescaped quote that opens the
// string holding position k, searching back no further than floor.
func openingQuote(doc []byte, floor, k int) int {
	for j := k - 1; j >= floor; j-- {
		j = bytes.LastIndexByte(doc[floor:j+1], '"')
		if j < 0 {
			return -1
		}
		j += floor
		if !escaped(doc, floor, j) {
			return j
		}
	}
	return -1
}

// escaped reports whether the byte at j follows an odd run of backslashes.
func escaped(doc []byte, floor, j int) bool {
	n := 0
	for i := j - 1; i >= floor && doc[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// stringEnd returns the index of the first unescaped quote after from.
func stringEnd(doc []byte, from int) (int, bool) {
	for i := from + 1; ; {
		q := bytes.IndexByte(doc[i:], '"')
		if q < 0 {
			return 0, false
		}
		i += q
		if !escaped(doc, from+1, i) {
			return i, true
		}
		i++
	}
}

// LastStringStart is the index of the opening quote of the last string
// that starts in win (whether it ends in it or not), or len(win) when win
// holds none; win must start outside any string. Quotes pair as in valid
// JSON: an opening one, then the next one no backslash escapes. A stream
// cut there leaves every string, and the bytes after it that say whether
// it is a member name, whole on one side.
func LastStringStart(win []byte) int {
	last := len(win)
	for i := 0; ; {
		q := bytes.IndexByte(win[i:], '"')
		if q < 0 {
			return last
		}
		last = i + q
		end, ok := stringEnd(win, last)
		if !ok {
			return last
		}
		i = end + 1
	}
}

// replaceTokens appends text with every token replaced by its plaintext and
// reports how many it replaced.
func replaceTokens(dst, text []byte, dec Decrypter, op *Opened) ([]byte, int) {
	n := 0
	for {
		i, l := token.Index(text)
		if i < 0 {
			return append(dst, text...), n
		}
		dst = append(dst, text[:i]...)
		var err error
		mark := len(dst)
		dst, _, err = dec(dst, text[i:i+l])
		if err != nil {
			dst = append(dst[:mark], text[i:i+l]...)
			op.Failed = append(op.Failed, err)
		} else {
			op.Decrypted++
			n++
		}
		text = text[i+l:]
	}
}

// DecryptText appends text with every token in it replaced by its plaintext
// (for whole bodies and keyward decrypt of plain text).
func DecryptText(dst, text []byte, dec Decrypter) ([]byte, Opened) {
	var op Opened
	dst, _ = replaceTokens(dst, text, dec, &op)
	return dst, op
}

// DecryptForm appends the form body with every token inside a value
// replaced by its plaintext (re-escaped); other bytes are copied unchanged.
func DecryptForm(dst, body []byte, dec Decrypter) ([]byte, Opened) {
	var op Opened
	if bytes.Index(body, []byte(token.Prefix)) < 0 {
		return append(dst, body...), op
	}
	s := string(body)
	first := true
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if !first {
			dst = append(dst, '&')
		}
		first = false
		k, v, hasEq := strings.Cut(pair, "=")
		if !hasEq || !strings.Contains(v, token.Prefix) {
			dst = append(dst, pair...)
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			dst = append(dst, pair...)
			continue
		}
		out, n := replaceTokens(nil, []byte(val), dec, &op)
		dst = append(dst, k...)
		dst = append(dst, '=')
		if n == 0 {
			dst = append(dst, v...)
		} else {
			dst = append(dst, url.QueryEscape(string(out))...)
		}
		clear(out)
	}
	return dst, op
}
