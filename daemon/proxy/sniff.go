package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// sniffSize is how much of a pass_content_types body is looked at before
// the proxy decides to stream it: enough for a byte order mark, leading
// whitespace and a form field's name.
const sniffSize = 512

// sniff reads the head of a pass_content_types body and decides whether the
// upstream could read it as something else than the operator said: JSON
// (an upstream that parses JSON whatever the header says, as the demo app
// does) or a form. Those are read whole (up to max_body_bytes) and checked
// like a body of their kind; anything else streams on, head first, so only
// sniffSize bytes wait.
func (a *App) sniff(r *http.Request, mt string) (bodyKind, *refusal) {
	head := make([]byte, sniffSize)
	n, err := io.ReadFull(r.Body, head)
	head = head[:n]
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return bodyStream, &refusal{http.StatusBadRequest, ErrKindInvalidJSON, "reading the request body: " + err.Error()}
	}
	kind := sniffHead(head)
	if kind == bodyKind(-1) {
		return bodyStream, &refusal{http.StatusUnsupportedMediaType, ErrKindCharset,
			fmt.Sprintf("the %.60s body looks like UTF-16 or UTF-32 text, which the proxy cannot inspect for protected fields; send it as UTF-8", mt)}
	}
	r.Body = &joinedBody{Reader: io.MultiReader(bytes.NewReader(head), r.Body), c: r.Body}
	return kind, nil
}

// sniffHead says what the first bytes of a body look like: bodyCheckJSON
// (an object or array, after an optional UTF-8 byte order mark and
// whitespace), bodyCheckForm (a form field's name and '='), -1 (text in
// UTF-16 or UTF-32: a byte order mark, or NUL bytes around ASCII as RFC
// 4627 tells the encoding of JSON), or bodyStream.
func sniffHead(head []byte) bodyKind {
	for _, bom := range [][]byte{{0xfe, 0xff}, {0xff, 0xfe}, {0, 0, 0xfe, 0xff}} {
		if bytes.HasPrefix(head, bom) {
			return -1
		}
	}
	if bytes.IndexByte(head[:min(len(head), 4)], 0) >= 0 {
		// NUL bytes among the first four: wide text, if the others
		// are ASCII and the text starts as JSON or a form does.
		narrow := bytes.ReplaceAll(head[:min(len(head), 64)], []byte{0}, nil)
		if looksJSON(narrow) || looksForm(narrow) {
			return -1
		}
	}
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	switch {
	case looksJSON(head):
		return bodyCheckJSON
	case looksForm(head):
		return bodyCheckForm
	}
	return bodyStream
}

// looksForm reports whether b starts with a form field's name (the bytes a
// form encoder writes in one, up to 256 of them, after optional spaces)
// and '='.
func looksForm(b []byte) bool {
	b = bytes.TrimLeft(b, " +")
	for i, c := range b {
		switch {
		case c == '=':
			return i > 0
		case i >= 256:
			return false
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case bytes.IndexByte([]byte("%_.-[]+*~!$'()"), c) >= 0:
		default:
			return false
		}
	}
	return false
}
