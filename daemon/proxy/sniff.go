package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// sniffSize bounds how much of a pass_content_types body is looked at
// before the proxy decides to stream it: enough for a byte order mark,
// leading whitespace and a form field's name.
const sniffSize = 512

// bodyWide is what sniffHead says of UTF-16 or UTF-32 text that starts as
// JSON or a form would.
const bodyWide bodyKind = -1

// sniff reads the head of a pass_content_types body and decides whether the
// upstream could read it as something else than the operator said: JSON
// (an upstream that parses JSON whatever the header says, as the demo app
// does) or a form. Those are read whole (up to max_body_bytes) and checked
// like a body of their kind; anything else streams on, head first. It reads
// only until the head decides (usually its first byte), never more than
// sniffSize bytes, so a streaming client that sends a few bytes and waits
// for an answer is not held up.
func (a *App) sniff(r *http.Request, mt string) (bodyKind, *refusal) {
	head := make([]byte, 0, sniffSize)
	kind := bodyStream
	for {
		n, err := r.Body.Read(head[len(head):cap(head)])
		head = head[:len(head)+n]
		var decided bool
		kind, decided = sniffHead(head)
		if decided || len(head) == cap(head) || err == io.EOF {
			break
		}
		if err != nil {
			return bodyStream, bodyReadRefusal(err)
		}
	}
	if kind == bodyWide {
		return bodyStream, &refusal{http.StatusUnsupportedMediaType, ErrKindCharset,
			fmt.Sprintf("the %.60s body looks like UTF-16 or UTF-32 text, which the proxy cannot inspect for protected fields; send it as UTF-8", mt)}
	}
	r.Body = &joinedBody{Reader: io.MultiReader(bytes.NewReader(head), r.Body), c: r.Body}
	return kind, nil
}

var utf8BOM = []byte("\xef\xbb\xbf")

// sniffHead says what the first bytes of a body look like: bodyCheckJSON
// (an object or array, after an optional UTF-8 byte order mark and
// whitespace), bodyCheckForm (a form field's name and '='), bodyWide (text
// in UTF-16 or UTF-32: a byte order mark, or NUL bytes around ASCII as RFC
// 4627 tells the encoding of JSON, that starts as JSON or a form), or
// bodyStream; and whether more bytes could change that answer.
func sniffHead(head []byte) (bodyKind, bool) {
	for _, bom := range [][]byte{{0xfe, 0xff}, {0xff, 0xfe}, {0, 0, 0xfe, 0xff}} {
		if bytes.HasPrefix(head, bom) {
			return bodyWide, true
		}
	}
	if bytes.IndexByte(head[:min(len(head), 4)], 0) >= 0 {
		// NUL bytes among the first four: wide text, if the others
		// are ASCII and the text starts as JSON or a form does.
		k, decided := sniffText(bytes.ReplaceAll(head[:min(len(head), 64)], []byte{0}, nil))
		if k != bodyStream {
			return bodyWide, true
		}
		return bodyStream, decided || len(head) >= 64
	}
	if len(head) < len(utf8BOM) && bytes.HasPrefix(utf8BOM, head) {
		return bodyStream, false // maybe a byte order mark, cut short
	}
	return sniffText(bytes.TrimPrefix(head, utf8BOM))
}

// sniffText says whether text starts a JSON object or array (after JSON
// whitespace), a form field's name (the bytes a form encoder writes in
// one, at most 256, after optional spaces) and '=', or neither; and
// whether more bytes could change that.
func sniffText(b []byte) (bodyKind, bool) {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return bodyCheckJSON, true
	}
	b = bytes.TrimLeft(b, " +")
	for i, c := range b {
		switch {
		case c == '=':
			if i == 0 {
				return bodyStream, true
			}
			return bodyCheckForm, true
		case i >= 256:
			return bodyStream, true
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case bytes.IndexByte([]byte("%_.-[]+*~!$'()"), c) >= 0:
		default:
			return bodyStream, true
		}
	}
	return bodyStream, false // nothing yet, or a name without its '='
}
