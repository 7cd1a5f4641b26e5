package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
)

// Section is one element of a source section registered from outside this
// package ([[azure]], [[aws]], …): its settings, parsed from the section's
// keys, name themselves and check their own values.
type Section interface {
	// SourceName is the section's name key (unique among all sources).
	SourceName() string
	// Validate returns "key: what is wrong" problems, each key prefixed
	// with prefix ("aws[0]").
	Validate(prefix string) []string
}

var (
	sectionsMu sync.RWMutex
	// sectionTypes maps a top-level array-of-tables name to the struct
	// type its elements decode into.
	sectionTypes = map[string]reflect.Type{}
)

// RegisterSection makes [[name]] a known array of tables whose elements
// decode (strictly, with lines in errors) into the struct that proto
// points to. Connector packages call it (through cloud.Register) so a new
// cloud adds its section without editing this package. It panics on a
// name registered twice or taken by a built-in key, as a programming error.
func RegisterSection(name string, proto Section) {
	t := reflect.TypeOf(proto)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("config: section %q: prototype %T is not a pointer to a struct", name, proto))
	}
	if !reflect.PointerTo(t.Elem()).Implements(reflect.TypeOf((*Section)(nil)).Elem()) {
		panic(fmt.Sprintf("config: section %q: *%s does not implement Section", name, t.Elem()))
	}
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	if _, dup := sectionTypes[name]; dup || builtinKey(name) {
		panic(fmt.Sprintf("config: section %q registered twice", name))
	}
	sectionTypes[name] = t.Elem()
}

// SectionNames lists the registered sections, sorted.
func SectionNames() []string {
	sectionsMu.RLock()
	defer sectionsMu.RUnlock()
	return slices.Sorted(maps.Keys(sectionTypes))
}

func sectionType(name string) (reflect.Type, bool) {
	sectionsMu.RLock()
	defer sectionsMu.RUnlock()
	t, ok := sectionTypes[name]
	return t, ok
}

// builtinKey says whether name is a top-level key of Config itself.
func builtinKey(name string) bool {
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); tag == name {
			return true
		}
	}
	return false
}

// AddSource appends a parsed section of the registered kind section (what
// a [[section]] table in the file would add); tests and the demo build
// configurations this way.
func (c *Config) AddSource(section string, s Section) {
	if c.Sections == nil {
		c.Sections = map[string][]Section{}
	}
	c.Sections[section] = append(c.Sections[section], s)
}

// decodeSections fills c.Sections from the registered sections present in
// the document b and returns the strict-mode complaints that remain: those
// about keys no registered section explains, and those inside a section.
func decodeSections(b []byte, c *Config, unknown []toml.DecodeError) ([]toml.DecodeError, error) {
	var rest []toml.DecodeError
	present := map[string]bool{}
	for _, e := range unknown {
		if k := e.Key(); len(k) > 0 {
			if _, ok := sectionType(k[0]); ok {
				present[k[0]] = true
				continue
			}
		}
		rest = append(rest, e)
	}
	for _, name := range slices.Sorted(maps.Keys(present)) {
		t, _ := sectionType(name)
		holder := reflect.New(reflect.StructOf([]reflect.StructField{{
			Name: "Elems", Type: reflect.SliceOf(t), Tag: reflect.StructTag(fmt.Sprintf("toml:%q", name)),
		}}))
		err := toml.NewDecoder(bytes.NewReader(b)).DisallowUnknownFields().Decode(holder.Interface())
		var strict *toml.StrictMissingError
		switch {
		case err == nil:
		case errors.As(err, &strict):
			for _, e := range strict.Errors {
				if k := e.Key(); len(k) > 1 && k[0] == name {
					rest = append(rest, e)
				}
			}
		default:
			return nil, err
		}
		elems := holder.Elem().Field(0)
		for i := range elems.Len() {
			c.AddSource(name, elems.Index(i).Addr().Interface().(Section))
		}
	}
	return rest, nil
}
