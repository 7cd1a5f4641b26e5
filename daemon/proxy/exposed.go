package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/keyward/keyward/daemon/proxy/fields"
)

// The second half of the rule: a form body or query string is checked after
// the proxy has rewritten it (or instead, when no rule rewrites it), the way
// upstreams read one, for any value of a protected field that is still
// plaintext. Names are matched as fields.Rules.CheckForm reads them: as
// common frameworks bind form names, with pairs split at '&' and at ';'
// (the separator older Python, Perl and Java servers still accept).

// exposed returns a refusal when a protected field's value in the form
// (a body or query string: what) is not a keyward token. The refusal gives
// the pair's position and the configured field, never the request's bytes.
func exposed(rules *fields.Rules, form []byte, what string) *refusal {
	err := rules.CheckForm(form)
	var fe *fields.FormError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fields.ErrExposed) && errors.As(err, &fe):
		return &refusal{http.StatusBadRequest, ErrKindExposed,
			fmt.Sprintf("pair %d of the %s names protected field %q as frameworks read names, and its value is not encrypted there; send the field where the rules encrypt it", fe.Pair, what, fe.Field)}
	}
	return &refusal{http.StatusBadRequest, ErrKindInvalidForm, fmt.Sprintf("the %s is not a valid form: %v", what, err)}
}

// strictForm refuses a form body that another reader could take for
// something else: a JSON document or a pair that starts like one (an
// upstream that sniffs JSON reads it as JSON), a byte order mark or a NUL
// byte (UTF-16 text sent as a form).
func strictForm(body []byte) *refusal {
	if bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) || bytes.HasPrefix(body, []byte("\xff\xfe")) ||
		bytes.HasPrefix(body, []byte("\xfe\xff")) || bytes.IndexByte(body, 0) >= 0 {
		return &refusal{http.StatusUnsupportedMediaType, ErrKindCharset,
			"the form body is not UTF-8 text (a byte order mark or a NUL byte); send it as UTF-8"}
	}
	pair := 0
	for rest := body; len(rest) > 0; {
		var raw []byte
		if i := bytes.IndexAny(rest, "&;"); i >= 0 {
			raw, rest = rest[:i], rest[i+1:]
		} else {
			raw, rest = rest, nil
		}
		pair++
		if looksJSON(raw) {
			return &refusal{http.StatusBadRequest, ErrKindInvalidForm,
				fmt.Sprintf("the form body is not a valid form: pair %d starts like a JSON document, which some upstreams would read as JSON", pair)}
		}
		if dec, err := url.QueryUnescape(string(raw)); err == nil && looksJSON([]byte(dec)) {
			return &refusal{http.StatusBadRequest, ErrKindInvalidForm,
				fmt.Sprintf("the form body is not a valid form: pair %d is a percent-encoded JSON document", pair)}
		}
	}
	return nil
}

// looksJSON reports whether b, after JSON whitespace, starts an object or
// an array.
func looksJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}
