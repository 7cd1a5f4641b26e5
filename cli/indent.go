package cli

// appendIndented appends src, one compact JSON value (no space between
// tokens, as encoding/json and the daemon's export write it), laid out as
// json.Indent lays it out with prefix and indent, and reports whether src
// was such a value. It checks the JSON as json.Indent does (strings,
// escapes, numbers, literals, nesting) in one pass without its general
// scanner: keys list --json lays out every key of an export. Anything
// else (spaces between tokens, invalid JSON, deep nesting) returns false
// with dst unchanged, for json.Indent to handle or refuse.
func appendIndented(dst, src []byte, prefix, indent string) ([]byte, bool) {
	const maxDepth = 64
	start := len(dst)
	fail := func() ([]byte, bool) { return dst[:start], false }
	newline := func(depth int) {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
		for range depth {
			dst = append(dst, indent...)
		}
	}
	// stack holds the open containers: '{' or '['.
	var stackBuf [maxDepth]byte
	stack := stackBuf[:0]
	i := 0
	member := false // an object's member name comes before the value
	for {
		if member {
			var ok bool
			if i, ok = appendMember(&dst, src, i); !ok {
				return fail()
			}
		}
		// A value.
		if i >= len(src) {
			return fail()
		}
		switch c := src[i]; {
		case c == '{' || c == '[':
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if i+1 < len(src) && src[i+1] == closer {
				dst = append(dst, c, closer)
				i += 2
				break
			}
			if len(stack) == maxDepth {
				return fail()
			}
			stack = append(stack, c)
			dst = append(dst, c)
			newline(len(stack))
			i++
			member = c == '{'
			continue
		case c == '"':
			end, ok := stringEnd(src, i)
			if !ok {
				return fail()
			}
			dst = append(dst, src[i:end]...)
			i = end
		case c == '-' || c >= '0' && c <= '9':
			end, ok := numberEnd(src, i)
			if !ok {
				return fail()
			}
			dst = append(dst, src[i:end]...)
			i = end
		default:
			lit := ""
			switch c {
			case 't':
				lit = "true"
			case 'f':
				lit = "false"
			case 'n':
				lit = "null"
			}
			if lit == "" || len(src)-i < len(lit) || string(src[i:i+len(lit)]) != lit {
				return fail()
			}
			dst = append(dst, lit...)
			i += len(lit)
		}
		// After a value: the next element, the end of containers, or the end.
		for {
			if len(stack) == 0 {
				if i != len(src) {
					return fail()
				}
				return dst, true
			}
			if i >= len(src) {
				return fail()
			}
			top := stack[len(stack)-1]
			if src[i] == ',' {
				dst = append(dst, ',')
				newline(len(stack))
				i++
				member = top == '{'
				break
			}
			if top == '{' && src[i] == '}' || top == '[' && src[i] == ']' {
				stack = stack[:len(stack)-1]
				newline(len(stack))
				dst = append(dst, src[i])
				i++
				continue
			}
			return fail()
		}
	}
}

// appendMember appends an object member's name and colon at src[i:],
// returning where its value starts.
func appendMember(dst *[]byte, src []byte, i int) (int, bool) {
	if i >= len(src) || src[i] != '"' {
		return i, false
	}
	end, ok := stringEnd(src, i)
	if !ok || end >= len(src) || src[end] != ':' {
		return i, false
	}
	*dst = append(append(*dst, src[i:end]...), ':', ' ')
	return end + 1, true
}

// stringEnd is the index after the JSON string starting at src[i].
func stringEnd(src []byte, i int) (int, bool) {
	for i++; i < len(src); i++ {
		switch c := src[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(src) {
				return i, false
			}
			switch src[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(src)-i < 5 {
					return i, false
				}
				for _, h := range src[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// numberEnd is the index after the JSON number starting at src[i].
func numberEnd(src []byte, i int) (int, bool) {
	digits := func() bool {
		s := i
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
		return i > s
	}
	if src[i] == '-' {
		i++
	}
	if i < len(src) && src[i] == '0' {
		i++
	} else if !digits() {
		return i, false
	}
	if i < len(src) && src[i] == '.' {
		i++
		if !digits() {
			return i, false
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if !digits() {
			return i, false
		}
	}
	return i, true
}
