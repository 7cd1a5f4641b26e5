package proxy

import (
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// The proxy's reading of a request must never be narrower than a common
// upstream's. This file is the first half of that rule: the headers that
// say how a body is to be read. A request whose headers the upstream could
// read otherwise than the proxy is refused before its body is looked at.

// framing is what a request's headers say about its body.
type framing struct {
	mt       string // media type, lower case; "" when there is no Content-Type
	charset  string // its charset parameter, lower case ("" when absent)
	encoding string // Content-Encoding, lower case; "" for none or identity
}

// methodOverrides are the headers with which common frameworks let a request
// claim another method (Rack's and Express's X-HTTP-Method-Override,
// ASP.NET's X-HTTP-Method, Google APIs' X-HTTP-Method-Override, Symfony's
// X-Http-Method-Override). Some read the body of such a request as its
// query string; the proxy cannot know which.
var methodOverrides = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// readFraming checks the headers that frame a request body. It refuses:
// more than one Content-Type or Content-Encoding header (upstreams pick the
// first, the last, or join them); a Content-Type that is not one valid
// media type; a list of encodings; a method override header; and declared
// trailer fields (read by some upstreams as headers, by the proxy never).
// net/http itself refuses Transfer-Encoding other than a single "chunked"
// and conflicting Content-Lengths, and the proxy sends the upstream a
// framing of its own, so those never reach an upstream as the client wrote
// them.
func readFraming(h http.Header, trailer http.Header) (framing, *refusal) {
	var f framing
	switch cts := h.Values("Content-Type"); len(cts) {
	case 0:
	case 1:
		if mt, ok := plainMediaType(cts[0]); ok {
			f.mt = mt
			break
		}
		mt, params, err := mime.ParseMediaType(cts[0])
		if err != nil || !strings.Contains(mt, "/") || strings.HasPrefix(mt, "/") || strings.HasSuffix(mt, "/") {
			return f, framingRefusal("the Content-Type header is not one valid media type (type/subtype and parameters, RFC 9110)")
		}
		f.mt, f.charset = mt, strings.ToLower(params["charset"])
	default:
		return f, framingRefusal(fmt.Sprintf("the request has %d Content-Type headers; send exactly one", len(cts)))
	}
	switch ces := h.Values("Content-Encoding"); len(ces) {
	case 0:
	case 1:
		ce := strings.ToLower(strings.TrimSpace(ces[0]))
		if strings.Contains(ce, ",") {
			return f, framingRefusal("the Content-Encoding header lists several encodings; send the body with at most one")
		}
		if ce != "identity" {
			f.encoding = ce
		}
	default:
		return f, framingRefusal(fmt.Sprintf("the request has %d Content-Encoding headers; send at most one", len(ces)))
	}
	for _, name := range methodOverrides {
		if _, ok := h[name]; ok {
			return f, framingRefusal(fmt.Sprintf("the %s header asks the upstream to treat the request as another method, which may change how it reads the body; send the request with its real method", name))
		}
	}
	if len(trailer) > 0 || len(h.Values("Trailer")) > 0 {
		return f, framingRefusal("the request declares trailer fields, which the proxy does not inspect; send them as headers")
	}
	return f, nil
}

func framingRefusal(msg string) *refusal {
	return &refusal{http.StatusBadRequest, ErrKindFraming, msg}
}

// utf8Only refuses a charset other than UTF-8 on a body the proxy reads as
// text: a JSON or form body in UTF-16 (or Latin-1, ...) reads differently
// to the upstream than to the proxy, which parses UTF-8 only.
func (f framing) utf8Only() *refusal {
	if f.charset == "" || f.charset == "utf-8" {
		return nil
	}
	return &refusal{http.StatusUnsupportedMediaType, ErrKindCharset,
		fmt.Sprintf("the body's charset is %.40q; the proxy reads only UTF-8, so send the body as UTF-8 (charset=utf-8 or none)", f.charset)}
}

// isJSON reports whether a media type is read as JSON: application/json,
// any structured +json type (RFC 6839: vnd.api+json, merge-patch+json,
// json-patch+json, ...), and the unregistered names clients still send
// (text/json, application/x-json, text/x-json).
func isJSON(mt string) bool {
	_, sub, ok := strings.Cut(mt, "/")
	return ok && (sub == "json" || sub == "x-json" || strings.HasSuffix(sub, "+json"))
}

const formType = "application/x-www-form-urlencoded"

func mediaType(h http.Header) string {
	ct := h.Get("Content-Type")
	if ct == "" {
		return ""
	}
	if mt, ok := plainMediaType(ct); ok {
		return mt
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	}
	return mt
}

// plainMediaType reads the common Content-Type that is a bare type/subtype
// ("application/json") without mime.ParseMediaType's allocations: it
// answers only when v is one '/' between two non-empty tokens (RFC 9110
// tchars, so no space, parameter or second slash), and then answers exactly
// as mime.ParseMediaType would (FuzzPlainMediaType holds it to that);
// anything else is left to mime.ParseMediaType.
func plainMediaType(v string) (string, bool) {
	slash, upper := -1, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '/':
			if slash >= 0 {
				return "", false
			}
			slash = i
		case 'A' <= c && c <= 'Z':
			upper = true
		case c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"[]?={}`, c) >= 0:
			return "", false
		}
	}
	if slash <= 0 || slash == len(v)-1 {
		return "", false
	}
	if upper {
		return strings.ToLower(v), true
	}
	return v, true
}
