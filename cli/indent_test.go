package cli

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppendIndented: whenever appendIndented takes a value it lays it out
// byte for byte as json.Indent does, it refuses whatever json.Indent
// refuses, and it takes every compact value json.Indent takes.
func FuzzAppendIndented(f *testing.F) {
	for _, s := range []string{`{"id":"kms/a","length":256,"tags":{"a":"\u003cb\u003e"},"x":[],"y":{},"z":[1,-0.5e+3,true,false,null]}`,
		`{}`, `[]`, `"s"`, `0`, `-`, `01`, `1.`, `1e`, `{"a":}`, `{"a" :1}`, `{"a":1,}`, `[1,]`, `{"a":"\x"}`, `{"a":"\u12g4"}`,
		"{\"a\":\"\x01\"}", "{\"a\":\"\xff\u2028\"}", `[[[[[]]]]]`, `{"a":[{"b":[]}]}`, `nul`, `true1`, `{"a":1}}`, `{"a":1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var want bytes.Buffer
		werr := json.Indent(&want, src, "    ", "  ")
		got, ok := appendIndented([]byte("x"), src, "    ", "  ")
		if string(got[:1]) != "x" {
			t.Fatalf("dst's first byte lost: %q", got)
		}
		if !ok {
			if len(got) != 1 {
				t.Fatalf("%q refused but dst changed: %q", src, got)
			}
			var compact bytes.Buffer
			if werr == nil && json.Compact(&compact, src) == nil && bytes.Equal(compact.Bytes(), src) && bytes.Count(src, []byte("["))+bytes.Count(src, []byte("{")) < 64 {
				t.Fatalf("compact JSON %q refused", src)
			}
			return
		}
		if werr != nil {
			t.Fatalf("%q taken, but json.Indent says %v", src, werr)
		}
		if string(got[1:]) != want.String() {
			t.Fatalf("%q:\n got %s\nwant %s", src, got[1:], want.String())
		}
	})
}
