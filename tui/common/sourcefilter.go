package common

import "github.com/keyward/keyward/engine"

// SourceFilter is a list pane's source filter: every source, or one of
// them, chosen by cycling. The chosen source stays chosen when the list of
// sources changes, and is dropped when it is gone.
type SourceFilter struct {
	names []string
	idx   int // 0: every source
}

// Set replaces the sources.
func (f *SourceFilter) Set(srcs []engine.Source) {
	cur := f.Current()
	f.names, f.idx = f.names[:0], 0
	for _, s := range srcs {
		f.names = append(f.names, s.Name)
		if s.Name == cur {
			f.idx = len(f.names)
		}
	}
}

// Current is the chosen source, "" for every source.
func (f *SourceFilter) Current() string {
	if f.idx > 0 && f.idx <= len(f.names) {
		return f.names[f.idx-1]
	}
	return ""
}

// Next chooses the next source; after the last, every source.
func (f *SourceFilter) Next() { f.idx = (f.idx + 1) % (len(f.names) + 1) }

// Prev chooses the previous source; before the first, every source.
func (f *SourceFilter) Prev() { f.idx = (f.idx + len(f.names)) % (len(f.names) + 1) }

// Clear chooses every source.
func (f *SourceFilter) Clear() { f.idx = 0 }

// Names are the sources, in the order Set gave them.
func (f *SourceFilter) Names() []string { return f.names }

// Choose chooses the source named name; false when there is no such source
// (the filter is then every source).
func (f *SourceFilter) Choose(name string) bool {
	f.idx = 0
	for i, n := range f.names {
		if n == name {
			f.idx = i + 1
			return true
		}
	}
	return false
}
