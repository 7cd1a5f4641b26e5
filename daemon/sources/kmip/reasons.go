package kmip

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
)

// examples is how many keys a grouped reason names.
const examples = 3

// grouped turns per-key clauses ("name: why") into one clause per distinct
// why, so a health reason stays short however many keys share it: "why"
// for one key is "name: why"; for several, "why for N keys (e.g. a, b, c,
// …)". A refusal for lack of permission points at the client identity the
// KMS refused (leaf), which is what the administrator changes.
func grouped(items []string, leaf *x509.Certificate) string {
	var order []string
	names := map[string][]string{}
	for _, it := range items {
		name, why, ok := strings.Cut(it, ": ")
		if !ok {
			name, why = "", it
		}
		if _, seen := names[why]; !seen {
			order = append(order, why)
		}
		names[why] = append(names[why], name)
	}
	parts := make([]string, 0, len(order))
	for _, why := range order {
		ns := names[why]
		var p string
		switch {
		case len(ns) == 1 && ns[0] != "":
			p = ns[0] + ": " + why
		case len(ns) == 1:
			p = why
		default:
			eg := slices.Clone(ns[:min(examples, len(ns))])
			if len(ns) > examples {
				eg = append(eg, "…")
			}
			p = fmt.Sprintf("%s for %d keys (e.g. %s)", why, len(ns), strings.Join(eg, ", "))
		}
		if strings.Contains(why, "PermissionDenied") {
			p += "; " + identityHint(leaf)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// identityHint says which client identity a KMS refused.
func identityHint(leaf *x509.Certificate) string {
	if leaf == nil {
		return "the KMS does not let this source's client identity use them: grant it access in the KMS"
	}
	return fmt.Sprintf("the KMS does not let the client identity %q (serial %X) use them: grant it access in the KMS, or install the identity that has it (keyward cert install)",
		leaf.Subject.String(), leaf.SerialNumber)
}
