package report

import "strconv"

// CSVSafe returns rec with every cell that a spreadsheet would run as a
// formula (one starting with =, +, @, a tab or a carriage return, or a -
// that does not start a plain number) prefixed with a single quote, as
// OWASP advises against CSV injection: key names, descriptions and tags
// come from clouds and KMSs that other people write to. rec itself is not
// changed; a record with nothing to neutralise is returned as it is.
func CSVSafe(rec []string) []string {
	var out []string
	for i, c := range rec {
		if !formulaLike(c) {
			continue
		}
		if out == nil {
			out = append([]string(nil), rec...)
		}
		out[i] = "'" + c
	}
	if out == nil {
		return rec
	}
	return out
}

func formulaLike(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '@', '\t', '\r':
		return true
	case '-':
		_, err := strconv.ParseFloat(s, 64)
		return err != nil
	}
	return false
}
