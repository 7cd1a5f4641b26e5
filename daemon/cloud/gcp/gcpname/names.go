// Package gcpname reads and checks Google Cloud KMS resource names
// (projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N)
// by the rules Cloud KMS documents, for the connector and for keyward's
// Cloud KMS fake alike.
package gcpname

import (
	"fmt"
	"regexp"
	"strings"
)

// Resource-name rules of Cloud KMS as its API documents them: a project is
// an ID (6–30 lowercase letters, digits and hyphens, starting with a letter)
// or a project number; key ring, crypto key and import job IDs are 1–63
// letters, digits, underscores and hyphens.
var (
	projectRE  = regexp.MustCompile(`^([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,19})$`)
	locationRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	idRE       = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,63}$`)
	versionRE  = regexp.MustCompile(`^[1-9][0-9]{0,9}$`)
)

// segments are the collections of a resource name: the rule of their IDs
// and the field of Name that holds it.
var segments = map[string]struct {
	re    *regexp.Regexp
	field func(*Name) *string
}{
	"projects":          {projectRE, func(n *Name) *string { return &n.Project }},
	"locations":         {locationRE, func(n *Name) *string { return &n.Location }},
	"keyRings":          {idRE, func(n *Name) *string { return &n.KeyRing }},
	"cryptoKeys":        {idRE, func(n *Name) *string { return &n.CryptoKey }},
	"cryptoKeyVersions": {versionRE, func(n *Name) *string { return &n.Version }},
	"importJobs":        {idRE, func(n *Name) *string { return &n.ImportJob }},
}

// Name is a parsed Cloud KMS resource name. Fields past the resource's
// depth are empty.
type Name struct {
	Project, Location, KeyRing, CryptoKey, Version, ImportJob string
}

// Kinds of resource names ParseName reads.
const (
	KindLocation  = "location"
	KindKeyRing   = "key ring"
	KindCryptoKey = "crypto key"
	KindVersion   = "crypto key version"
	KindImportJob = "import job"
)

// ParseName reads a resource name of the given kind
// ("projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N",
// or a prefix of it, or ".../keyRings/R/importJobs/J") and checks every
// segment against Cloud KMS's rules. The error says which segment is
// wrong, the way the service's InvalidArgument does.
func ParseName(kind, s string) (Name, error) {
	parts := strings.Split(s, "/")
	want := map[string][]string{
		KindLocation:  {"projects", "locations"},
		KindKeyRing:   {"projects", "locations", "keyRings"},
		KindCryptoKey: {"projects", "locations", "keyRings", "cryptoKeys"},
		KindVersion:   {"projects", "locations", "keyRings", "cryptoKeys", "cryptoKeyVersions"},
		KindImportJob: {"projects", "locations", "keyRings", "importJobs"},
	}[kind]
	if want == nil {
		return Name{}, fmt.Errorf("unknown resource kind %q", kind)
	}
	if len(parts) != 2*len(want) {
		return Name{}, fmt.Errorf("%q is not a %s name (%s)", s, kind, pattern(want))
	}
	var n Name
	for i, coll := range want {
		if parts[2*i] != coll {
			return Name{}, fmt.Errorf("%q is not a %s name (%s)", s, kind, pattern(want))
		}
		v := parts[2*i+1]
		seg := segments[coll]
		if !seg.re.MatchString(v) {
			return Name{}, fmt.Errorf("%s: invalid %s ID %q in %q", kind, strings.TrimSuffix(coll, "s"), v, s)
		}
		*seg.field(&n) = v
	}
	return n, nil
}

func pattern(colls []string) string {
	var b strings.Builder
	for i, c := range colls {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(c + "/" + strings.ToUpper(c[:1]))
	}
	return b.String()
}

// ValidID reports whether s is a valid key ring, crypto key or import job ID.
func ValidID(s string) bool { return idRE.MatchString(s) }

// ValidProject reports whether s is a valid project ID or number.
func ValidProject(s string) bool { return projectRE.MatchString(s) }

// ValidLocation reports whether s has the form of a location ID.
func ValidLocation(s string) bool { return locationRE.MatchString(s) }

// LocationName, KeyRingName, ... build resource names.
func LocationName(project, location string) string {
	return "projects/" + project + "/locations/" + location
}

// KeyRingName is projects/P/locations/L/keyRings/R.
func KeyRingName(project, location, ring string) string {
	return LocationName(project, location) + "/keyRings/" + ring
}

// CryptoKeyName is .../keyRings/R/cryptoKeys/K.
func CryptoKeyName(project, location, ring, key string) string {
	return KeyRingName(project, location, ring) + "/cryptoKeys/" + key
}

// ValidVersion reports whether s is a crypto key version ID (1, 2, ...).
func ValidVersion(s string) bool { return versionRE.MatchString(s) }
