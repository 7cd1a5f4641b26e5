package keyring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/engine"
)

// The plaintext form of a ring, before the caller wraps it under the KEK:
//
//	"KWR1" | u16 count | count × generation
//	generation = str uid | str name | str state | time activated | time created | u16 len | material
//	str = u16 len | bytes;  time = u8 present | i64 unix nanoseconds
//
// It is only ever written into a wrapped blob; Seal's output must be zeroed
// by the caller once wrapped.
const sealMagic = "KWR1"

// ErrBadSeal: the plaintext of a wrapped ring is not a ring this version
// understands.
var ErrBadSeal = errors.New("not a keyward ring (corrupted or from a newer version)")

// Seal encodes app's ring, material included, for wrapping. The caller must
// zero the returned slice after wrapping it.
func (r *Rings) Seal(app string) ([]byte, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	rg := r.rings[app]
	if rg == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownApplication, app)
	}
	return sealGens(rg.gens), nil
}

func sealGens(gens []*generation) []byte {
	b := []byte(sealMagic)
	b = binary.BigEndian.AppendUint16(b, uint16(len(gens)))
	for _, g := range gens {
		b = appendStr(b, g.UID)
		b = appendStr(b, g.Name)
		b = appendStr(b, string(g.State))
		b = appendTime(b, g.Activated)
		b = appendTime(b, g.Created)
		b = binary.BigEndian.AppendUint16(b, uint16(len(g.material)))
		b = append(b, g.material...)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
}

// decodeSeal parses Seal's format. On error every material decoded so far is
// zeroed and nothing is returned.
func decodeSeal(b []byte) (gens []*generation, err error) {
	defer func() {
		if err != nil {
			for _, g := range gens {
				clear(g.material)
			}
			gens = nil
		}
	}()
	d := decoder{b: b}
	if string(d.take(len(sealMagic))) != sealMagic {
		return nil, ErrBadSeal
	}
	n := d.u16()
	seen := map[string]bool{}
	for i := 0; i < n && d.err == nil; i++ {
		g := &generation{}
		g.UID, g.Name = d.str(), d.str()
		g.State = engine.State(d.str())
		g.Activated, g.Created = d.time(), d.time()
		mat := d.take(d.u16())
		if d.err != nil {
			break
		}
		if !eligible(g.State) {
			return gens, fmt.Errorf("%w: generation %d has state %q", ErrBadSeal, i, g.State)
		}
		if len(mat) != KeySize {
			return gens, fmt.Errorf("%w: generation %d has %d bytes of material", ErrBadSeal, i, len(mat))
		}
		if g.UID == "" || seen[g.UID] {
			return gens, fmt.Errorf("%w: generation %d has an empty or repeated identifier", ErrBadSeal, i)
		}
		seen[g.UID] = true
		g.material = append([]byte(nil), mat...)
		g.Fingerprint = Fingerprint(g.material)
		g.ShortID = ShortID(g.Fingerprint)
		g.Restored = true
		gens = append(gens, g)
	}
	if d.err != nil {
		return gens, d.err
	}
	if len(d.b) != 0 {
		return gens, fmt.Errorf("%w: %d trailing bytes", ErrBadSeal, len(d.b))
	}
	return gens, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = fmt.Errorf("%w: truncated", ErrBadSeal)
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u16() int {
	b := d.take(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

func (d *decoder) str() string { return string(d.take(d.u16())) }

func (d *decoder) time() *time.Time {
	f := d.take(1)
	if f == nil {
		return nil
	}
	switch f[0] {
	case 0:
		return nil
	case 1:
	default:
		d.err = fmt.Errorf("%w: bad time flag", ErrBadSeal)
		return nil
	}
	b := d.take(8)
	if b == nil {
		return nil
	}
	t := time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
	return &t
}

// Restore fills app's ring from Seal's output (unwrapped by the caller), when
// the ring is still empty: generations fetched from the KMS on this run are
// never replaced by an older copy. The restored generations keep the order
// they were committed in, trimmed to capacity. The caller should zero plaintext.
func (r *Rings) Restore(app string, plaintext []byte) (int, error) {
	gens, err := decodeSeal(plaintext)
	if err != nil {
		return 0, fmt.Errorf("restore ring %q: %w", app, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[app]
	if rg == nil || len(rg.gens) > 0 {
		for _, g := range gens {
			clear(g.material)
		}
		if rg == nil {
			return 0, fmt.Errorf("restore ring: %w %q", ErrUnknownApplication, app)
		}
		return 0, nil
	}
	// The wrapped copy holds the ring as it was committed, newest first:
	// its order is kept as it is.
	for i, g := range gens {
		if i >= rg.capacity {
			clear(g.material)
			continue
		}
		rg.gens = append(rg.gens, g)
	}
	rg.version.Add(1)
	rg.lastChange = r.now()
	return len(rg.gens), nil
}
