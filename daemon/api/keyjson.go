package api

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/keyward/keyward/engine"
)

// AppendKeyJSON appends the JSON of k to dst, byte for byte what
// encoding/json's Encoder writes for it (HTML characters escaped, fields in
// declaration order, empty ones left out as the struct tags say), without
// reflection: an export of a million keys spends most of its time here
// otherwise. Anything unusual (a string that needs escaping, a time
// encoding/json refuses) goes through encoding/json itself.
func AppendKeyJSON(dst []byte, k engine.Key) ([]byte, error) {
	return appendKeyJSON(dst, &k, nil)
}

// AppendKeyJSONClass appends the JSON of the key k points to, classified
// as c: what AppendKeyJSON writes for that key with Aging c.Aging() (k's
// own Aging is not read). For a key with nothing to escape it allocates
// nothing, so an export can write every key of the inventory through one
// reused Key.
func AppendKeyJSONClass(dst []byte, k *engine.Key, c *engine.Class) ([]byte, error) {
	return appendKeyJSON(dst, k, c)
}

// appendKeyJSON writes k with its Aging, or with c when c is not nil.
func appendKeyJSON(dst []byte, k *engine.Key, c *engine.Class) ([]byte, error) {
	start := len(dst)
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, k.ID)
	dst = append(dst, `,"source":`...)
	dst = appendJSONString(dst, k.Source)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, k.Name)
	if k.Version != "" {
		dst = append(dst, `,"version":`...)
		dst = appendJSONString(dst, k.Version)
	}
	dst = append(dst, `,"algorithm":`...)
	dst = appendJSONString(dst, k.Algorithm)
	if k.Length != 0 {
		dst = append(dst, `,"length":`...)
		dst = strconv.AppendInt(dst, int64(k.Length), 10)
	}
	dst = append(dst, `,"state":`...)
	dst = appendJSONString(dst, string(k.State))
	if k.Application != "" {
		dst = append(dst, `,"application":`...)
		dst = appendJSONString(dst, k.Application)
	}
	if k.Fingerprint != "" {
		dst = append(dst, `,"fingerprint":`...)
		dst = appendJSONString(dst, k.Fingerprint)
	}
	ok := true
	for _, t := range [...]struct {
		name string
		at   *time.Time
	}{{`,"created":`, k.Created}, {`,"activated":`, k.Activated}, {`,"expires":`, k.Expires},
		{`,"deactivated":`, k.Deactivated}, {`,"destroyed":`, k.Destroyed}, {`,"deleted":`, k.Deleted}, {`,"purge_at":`, k.PurgeAt}} {
		if t.at != nil {
			dst = append(dst, t.name...)
			dst, ok = appendJSONTime(dst, *t.at, ok)
		}
	}
	if k.RotateAfter != 0 {
		dst = append(dst, `,"rotate_after":`...)
		dst, _ = k.RotateAfter.AppendText(append(dst, '"')) // digits and units: nothing to escape
		dst = append(dst, '"')
	}
	if k.Rotated != nil {
		dst = append(dst, `,"rotated":`...)
		dst, ok = appendJSONTime(dst, *k.Rotated, ok)
	}
	if len(k.Tags) > 0 {
		dst = append(dst, `,"tags":{`...)
		var few [8]string // most keys have a few tags: no allocation
		names := few[:0]
		for n := range k.Tags {
			names = append(names, n)
		}
		slices.Sort(names)
		for i, n := range names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, n)
			dst = append(dst, ':')
			dst = appendJSONString(dst, k.Tags[n])
		}
		dst = append(dst, '}')
	}
	if k.LinkedTo != "" {
		dst = append(dst, `,"linked_to":`...)
		dst = appendJSONString(dst, k.LinkedTo)
	}
	dst = append(dst, `,"updated":`...)
	dst, ok = appendJSONTime(dst, k.Updated, ok)
	if c != nil {
		dst = append(dst, `,"aging":{"bucket":`...)
		dst = appendJSONString(dst, string(c.Bucket))
		dst = append(dst, `,"reason":`...)
		mark := len(dst)
		dst = c.AppendReason(append(dst, '"'))
		if plainJSON(dst[mark+1:]) {
			dst = append(dst, '"')
		} else {
			dst = appendJSONString(dst[:mark], string(dst[mark+1:]))
		}
		if c.HasDue {
			dst = append(dst, `,"due":`...)
			dst, ok = appendJSONTime(dst, c.Due, ok)
		}
		dst = append(dst, '}')
	} else if a := k.Aging; a != nil {
		dst = append(dst, `,"aging":{"bucket":`...)
		dst = appendJSONString(dst, string(a.Bucket))
		dst = append(dst, `,"reason":`...)
		dst = appendJSONString(dst, a.Reason)
		if a.Due != nil {
			dst = append(dst, `,"due":`...)
			dst, ok = appendJSONTime(dst, *a.Due, ok)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, '}')
	if !ok { // a time encoding/json refuses: its error, as before
		kk := *k
		if c != nil {
			a := c.Aging()
			kk.Aging = &a
		}
		b, err := json.Marshal(kk)
		return append(dst[:start], b...), err
	}
	return dst, nil
}

// appendJSONTime appends t as encoding/json does (RFC 3339 with
// nanoseconds as needed); ok turns false for a year it refuses.
func appendJSONTime(dst []byte, t time.Time, ok bool) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return dst, false
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 { // so does encoding/json
		return dst, false
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), ok
}

// appendJSONString appends s quoted as encoding/json does: plain printable
// ASCII as it is, anything else through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	if !plainJSON(s) {
		b, _ := json.Marshal(s) // a string always encodes
		return append(dst, b...)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// plainJSON reports whether encoding/json writes s as it is between
// quotes: printable ASCII that HTML escaping leaves alone.
func plainJSON[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
