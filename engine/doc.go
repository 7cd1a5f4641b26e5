// Package engine is keyward's domain logic with no I/O: what a key, a source
// and an activity event are, the states a key moves through, how a key ages
// (expired, expiring, rotation overdue, healthy) at a given instant, and how
// inventories are sorted and filtered. Everything here is pure and testable
// with a fixed clock.
package engine
