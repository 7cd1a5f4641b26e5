package fields

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPatch wraps every reason a JSON Patch document (RFC 6902) is refused
// other than its JSON syntax.
var ErrPatch = errors.New("JSON Patch refused")

func patchErr(format string, a ...any) error {
	return &reason{ErrPatch, fmt.Sprintf(format, a...)}
}

// EncryptPatch appends the JSON Patch document doc with the value of every
// operation protected where its path (an RFC 6901 pointer) addresses a
// protected field: the whole value when the pointer reaches or enters a
// protected field, the protected members inside it when the pointer stops
// above one (add /records/0 with {"ssn":...}). copy and move whose from or
// path touches a protected field are refused: copying a token elsewhere
// leaves it where no rule protects it, and moving a stored value into a
// protected field puts plaintext there. So are operations the proxy cannot
// read unambiguously: a document that is not an array of objects, an
// unknown op, op/path/from/value given twice (also in another spelling under
// Fold matching, which binds them too), a pointer with a bad ~ escape. It
// returns the new document and the number of fields encrypted.
func (r *Rules) EncryptPatch(dst, doc []byte, enc Encrypter) ([]byte, int, error) {
	if _, _, err := (*Rules)(nil).EncryptJSON(nil, doc, nil); err != nil {
		return dst, 0, err
	}
	w := &walker{r: r, in: doc, enc: enc}
	w.ws()
	if w.in[w.i] != '[' {
		return dst, 0, patchErr("the document is not an array of operations")
	}
	w.i++
	out, last, n := dst, 0, 0
	for idx := 1; ; idx++ {
		w.ws()
		if w.in[w.i] == ']' {
			break
		}
		op, err := w.operation(idx)
		if err != nil {
			return dst, 0, err
		}
		// Every path is read, with a value or not: a pointer the rules
		// cannot follow is refused whatever the operation carries.
		hit, det, states, err := r.pointer(op.path, idx, "path")
		if err != nil {
			return dst, 0, err
		}
		if op.value.end > 0 {
			if hit || len(states) > 0 {
				out = append(out, doc[last:op.value.start]...)
				sw := &walker{r: r, in: doc[:op.value.end], i: op.value.start, out: out, enc: enc}
				if hit {
					err = sw.protect(det, 2)
				} else {
					err = sw.value(states, 2)
				}
				if err != nil {
					return dst, 0, err
				}
				out, last, n = sw.out, op.value.end, n+sw.n
			}
		}
		w.ws()
		if w.in[w.i] == ',' {
			w.i++
		}
	}
	return append(out, doc[last:]...), n, nil
}

// span is the position of a member's value in the document.
type span struct{ start, end int }

// patchOp is one operation's members.
type patchOp struct {
	op, path, from string
	hasFrom        bool
	value          span
}

var patchMembers = [...]string{"op", "path", "from", "value"}

// operation reads the operation object at w.i (the document is valid JSON)
// and checks it.
func (w *walker) operation(idx int) (patchOp, error) {
	var op patchOp
	fail := func(format string, a ...any) (patchOp, error) {
		return op, patchErr("operation %d %s", idx, fmt.Sprintf(format, a...))
	}
	if w.in[w.i] != '{' {
		return fail("is not an object")
	}
	w.i++
	var got [len(patchMembers)]bool
	for {
		w.ws()
		if w.in[w.i] == '}' {
			w.i++
			break
		}
		if w.in[w.i] == ',' {
			w.i++
			w.ws()
		}
		start := w.i
		w.skipString()
		name, _ := unescape(nil, w.in[start+1:w.i-1])
		w.ws()
		w.i++ // ':'
		w.ws()
		v := span{start: w.i}
		w.value(nil, 2)
		w.out = w.out[:0]
		v.end = w.i
		m := -1
		for j, pm := range patchMembers {
			if (w.r.m == Exact && string(name) == pm) || (w.r.m == Fold && foldEqual(name, strings.ToUpper(pm))) {
				m = j
			}
		}
		if m < 0 {
			continue
		}
		if got[m] {
			return fail("gives %q twice (or in two spellings); upstreams differ on which one counts", patchMembers[m])
		}
		got[m] = true
		if m == 3 {
			op.value = v
			continue
		}
		raw := w.in[v.start:v.end]
		if raw[0] != '"' {
			return fail("has a %q that is not a string", patchMembers[m])
		}
		text, _ := unescape(nil, raw[1:len(raw)-1])
		switch m {
		case 0:
			op.op = string(text)
		case 1:
			op.path = string(text)
		case 2:
			op.from, op.hasFrom = string(text), true
		}
	}
	if !got[0] || !got[1] {
		return fail("lacks \"op\" or \"path\"")
	}
	switch strings.ToLower(op.op) {
	case "add", "replace", "test", "remove":
	case "move", "copy":
		if !op.hasFrom {
			return fail("(%s) lacks \"from\"", strings.ToLower(op.op))
		}
		for _, p := range []struct{ ptr, member string }{{op.from, "from"}, {op.path, "path"}} {
			_, _, states, err := w.r.pointer(p.ptr, idx, p.member)
			if err != nil {
				return op, err
			}
			if rule := w.r.touched(states); rule != "" {
				return fail("(%s) has a %q that touches protected field %s: copy and move are refused where a protected field is involved (they would carry a token out of it, or a stored plaintext into it)", strings.ToLower(op.op), p.member, rule)
			}
		}
	default:
		return fail("has an op that is not one of add, remove, replace, move, copy, test")
	}
	return op, nil
}

// pointer follows an RFC 6901 pointer through the rules. hit says the
// pointer reaches or enters a protected field (det: a deterministic one),
// and states then hold the completed rules; otherwise states are the rules
// still alive below it. A pointer without
// its leading '/' is read as if it had one (some libraries accept that).
func (r *Rules) pointer(ptr string, idx int, member string) (hit, det bool, states []state, err error) {
	if r.Empty() {
		return false, false, nil, nil
	}
	states = r.root()
	w := &walker{r: r}
	if ptr == "" {
		return false, false, states, nil
	}
	ptr = strings.TrimPrefix(ptr, "/")
	var tok []byte
	for _, raw := range strings.Split(ptr, "/") {
		if hit, det = w.matched(states); hit {
			return hit, det, completed(w, states), nil
		}
		tok = tok[:0]
		for i := 0; i < len(raw); i++ {
			c := raw[i]
			if c == '~' {
				if i+1 < len(raw) && (raw[i+1] == '0' || raw[i+1] == '1') {
					c = "~/"[raw[i+1]-'0']
					i++
				} else {
					return false, false, nil, patchErr("operation %d has a %q pointer with a '~' not followed by 0 or 1", idx, member)
				}
			}
			tok = append(tok, c)
		}
		states = w.pointerChild(states, tok)
	}
	if hit, det = w.matched(states); hit {
		states = completed(w, states)
	}
	return hit, det, states, nil
}

func completed(w *walker, states []state) []state {
	var done []state
	for _, s := range states {
		if int(s.pos) == len(w.r.rules[s.rule].Path.steps) {
			done = append(done, s)
		}
	}
	return done
}

// pointerChild is child for a pointer token, read as a form name's
// segment is: it may name a member or an array element ('-' is the element
// after the last, so any).
func (w *walker) pointerChild(states []state, tok []byte) []state {
	seg := formSeg{text: string(tok), elem: string(tok) == "-"}
	var next []state
	for _, s := range states {
		if st := w.r.next(s); st != nil && w.r.segMatches(st, seg) {
			next = append(next, state{rule: s.rule, pos: s.pos + 1})
		}
	}
	return next
}

// touched names a protected field a pointer reaches, enters or lies above
// (the first rule of states, which hold the completed rule on a hit).
func (r *Rules) touched(states []state) string {
	if len(states) > 0 {
		return r.rules[states[0].rule].Path.text
	}
	return ""
}
