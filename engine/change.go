package engine

// Change is one consistent change to the inventory, as a source saw it:
// the keys it saw (inserted or updated by ID), the key IDs that
// disappeared from it, and the activity events that explain the change.
// The store applies it in one transaction: all of it or none of it.
type Change struct {
	Source string
	Upsert []Key
	Remove []string
	Events []Event
	// Usage is key use the source read in its backend's log (which
	// service or principal used which key, per hour), added as the
	// store's AddUsage adds it.
	Usage []Usage
	// Memory, when not nil, replaces what the source keeps across
	// restarts (its memory) in the same transaction: a source's cursor
	// over its backend's log moves with what it read there, so nothing is
	// recorded twice or lost after a crash.
	Memory []byte
}
