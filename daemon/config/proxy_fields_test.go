package config

import (
	"strings"
	"testing"
)

// TestProxyNameSettings: name_matching and field_scope accept their
// documented values (empty meaning the safe default) and name the key in
// their errors; form_fields may use bracket syntax.
func TestProxyNameSettings(t *testing.T) {
	const app = "[[proxy.app]]\nname = \"crm\"\nlisten = \"127.0.0.1:8080\"\nupstream = \"http://x\"\nfields = [\"ssn\"]\n"
	for _, ok := range []string{"", `name_matching = "fold"`, `name_matching = "exact"`, `field_scope = "everywhere"`,
		`field_scope = "by_type"`, `form_fields = ["user[ssn]", "tags[]", "card_number"]`} {
		c := Default()
		if err := Parse([]byte(app+ok), c); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		`name_matching = "Fold"`:        `proxy.app[0].name_matching: "Fold" is not "fold" or "exact"`,
		`field_scope = "json"`:          `proxy.app[0].field_scope: "json" is not "everywhere" or "by_type"`,
		`form_fields = [" "]`:           `proxy.app[0].form_fields: empty field name`,
		`form_fields = ["[]"]`:          `proxy.app[0].fields: form field name "[]" does not start with a name`,
		`deterministic_fields = ["a["]`: `proxy.app[0].fields: field path "a["`,
	} {
		c := Default()
		if err := Parse([]byte(app+bad), c); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", bad, err, want)
		}
	}
}
