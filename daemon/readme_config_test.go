package daemon

import (
	"encoding"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/testkit"
)

// TestREADMEConfigIsValid keeps the configuration reference honest: every
// TOML example in the README, put together, is a config the daemon accepts.
// It lives here, where every connector kind is linked in (connectors.go),
// so each cloud section in the README parses with its connector's settings.
func TestREADMEConfigIsValid(t *testing.T) {
	all := readmeTOML(t)
	if strings.TrimSpace(all) == "" {
		t.Fatal("the README has no TOML examples")
	}
	p := filepath.Join(t.TempDir(), "keyward.toml")
	os.WriteFile(p, []byte(all), 0o600)
	c, err := config.Load(p)
	if err != nil {
		t.Fatalf("the README's configuration is refused: %v", err)
	}
	if len(c.KMIP) == 0 || len(c.Proxy.Apps) == 0 {
		t.Fatalf("the README's example lost a section: %d kmip, %d proxy apps", len(c.KMIP), len(c.Proxy.Apps))
	}
	for _, kind := range config.SectionNames() {
		if len(c.Sections[kind]) == 0 {
			t.Errorf("the README documents no [[%s]] section", kind)
		}
	}
}

// readmeTOML is every TOML example of the README, in order, as one document.
func readmeTOML(t *testing.T) string {
	t.Helper()
	var all strings.Builder
	for _, part := range strings.Split(testkit.README(t), "```toml\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		all.WriteString(block + "\n")
	}
	return all.String()
}

// TestREADMEConfigListsEveryKey keeps the configuration reference complete:
// every key the settings structs read — the core ones, [[kmip]] and its
// applications, [proxy] and its apps, [[schedule]], and each registered
// connector's [[section]] — appears in the README's TOML examples, so an
// administrator can find every setting there.
func TestREADMEConfigListsEveryKey(t *testing.T) {
	doc := map[string]any{}
	if err := toml.Unmarshal([]byte(readmeTOML(t)), &doc); err != nil {
		t.Fatalf("the README's TOML does not parse: %v", err)
	}
	var missing []string
	missing = append(missing, missingKeys("", reflect.TypeOf(config.Config{}), doc)...)
	p := filepath.Join(t.TempDir(), "keyward.toml")
	os.WriteFile(p, []byte(readmeTOML(t)), 0o600)
	c, err := config.Load(p)
	if err != nil {
		t.Fatalf("the README's configuration is refused: %v", err)
	}
	for _, kind := range config.SectionNames() {
		if len(c.Sections[kind]) == 0 {
			missing = append(missing, "[["+kind+"]]")
			continue
		}
		missing = append(missing, missingKeys(kind, reflect.TypeOf(c.Sections[kind][0]), doc[kind])...)
	}
	for _, m := range missing {
		t.Errorf("the README's configuration examples never show %s", m)
	}
}

// missingKeys lists the toml keys of type typ (a struct, or a pointer to
// one) that the decoded README document v does not have, as dotted paths
// under prefix. An array of tables counts a key present in any element.
func missingKeys(prefix string, typ reflect.Type, v any) []string {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return nil
	}
	tables := []map[string]any{}
	switch v := v.(type) {
	case map[string]any:
		tables = append(tables, v)
	case []any:
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				tables = append(tables, m)
			}
		}
	case []map[string]any:
		tables = v
	}
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if f.Anonymous && name == "" {
			out = append(out, missingKeys(prefix, f.Type, v)...)
			continue
		}
		if name == "-" || name == "" || !f.IsExported() {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		var vals []any
		for _, tb := range tables {
			if x, ok := tb[name]; ok {
				vals = append(vals, x)
			}
		}
		if len(vals) == 0 {
			out = append(out, path)
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !ft.Implements(reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()) && !reflect.PointerTo(ft).Implements(reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()) {
			var all []any
			for _, x := range vals {
				if xs, ok := x.([]any); ok {
					all = append(all, xs...)
				} else {
					all = append(all, x)
				}
			}
			out = append(out, missingKeys(path, ft, all)...)
		}
	}
	return out
}

// TestREADMEConfigDefaults keeps the defaults the README shows true: in the
// single tables ([access], [aging], [keys], [audit], [retention], [proxy]
// and the top level), a key shown with a value and no "default:" comment
// shows its default, which is what config.Default() holds.
func TestREADMEConfigDefaults(t *testing.T) {
	var kept strings.Builder
	table, keep, n := "", true, 0
	for _, line := range strings.Split(readmeTOML(t), "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "[") {
			table = strings.Trim(strings.Fields(trim)[0], "[]")
			keep = !strings.HasPrefix(trim, "[[") && !strings.Contains(table, ".")
			if keep {
				kept.WriteString("[" + table + "]\n")
			}
			continue
		}
		if !keep || !strings.Contains(trim, "=") {
			continue
		}
		if _, comment, _ := strings.Cut(trim, "#"); strings.Contains(comment, "default") {
			continue
		}
		kept.WriteString(line + "\n")
		n++
	}
	if n < 15 {
		t.Fatalf("only %d keys of the README's single tables show a default:\n%s", n, kept.String())
	}
	shown := map[string]any{}
	if err := toml.Unmarshal([]byte(kept.String()), &shown); err != nil {
		t.Fatalf("the README's single tables do not parse: %v\n%s", err, kept.String())
	}
	var readme config.Config
	if err := toml.Unmarshal([]byte(kept.String()), &readme); err != nil {
		t.Fatalf("the README's single tables do not decode: %v", err)
	}
	compareShown(t, "", shown, reflect.ValueOf(readme), reflect.ValueOf(*config.Default()))
}

func compareShown(t *testing.T, prefix string, shown map[string]any, readme, def reflect.Value) {
	t.Helper()
	for i := range readme.NumField() {
		name, _, _ := strings.Cut(readme.Type().Field(i).Tag.Get("toml"), ",")
		v, ok := shown[name]
		if !ok || name == "" || name == "-" {
			continue
		}
		path := prefix + name
		if sub, isTable := v.(map[string]any); isTable {
			compareShown(t, path+".", sub, readme.Field(i), def.Field(i))
			continue
		}
		if got, want := readme.Field(i).Interface(), def.Field(i).Interface(); !reflect.DeepEqual(got, want) {
			t.Errorf("the README shows %s = %v as its default, but the default is %v", path, got, want)
		}
	}
}

// TestREADMEConfigArrayDefaults does for the first [[kmip]],
// [[kmip.application]] and [[proxy.app]] of the README what
// TestREADMEConfigDefaults does for the single tables: a key whose setting
// has a default in code, shown without a "default" comment, shows that
// default.
func TestREADMEConfigArrayDefaults(t *testing.T) {
	readme := readmeTOML(t)
	full := filepath.Join(t.TempDir(), "full.toml")
	os.WriteFile(full, []byte(readme), 0o600)
	shown, err := config.Load(full)
	if err != nil {
		t.Fatalf("the README's configuration is refused: %v", err)
	}
	minimal := filepath.Join(t.TempDir(), "minimal.toml")
	os.WriteFile(minimal, []byte(`
[[kmip]]
name = "kms"
addresses = ["kms1.example.com:5696"]
[[kmip.application]]
name = "crm"
pattern = "rks.crm.key.*"
[[proxy.app]]
name = "crm"
listen = "127.0.0.1:8443"
upstream = "https://crm.example.com"
fields = ["ssn"]
`), 0o600)
	def, err := config.Load(minimal)
	if err != nil {
		t.Fatalf("a minimal configuration is refused: %v", err)
	}
	required := map[string]bool{"name": true, "addresses": true, "pattern": true, "listen": true, "upstream": true, "fields": true}
	tables := []struct {
		header      string
		shown, dflt any
	}{
		{"[[kmip]]", shown.KMIP[0], def.KMIP[0]},
		{"[[kmip.application]]", shown.KMIP[0].Applications[0], def.KMIP[0].Applications[0]},
		{"[[proxy.app]]", shown.Proxy.Apps[0].WithDefaults(), def.Proxy.Apps[0].WithDefaults()},
	}
	for _, tb := range tables {
		plain := shownWithoutDefaultComment(readme, tb.header)
		sv, dv := reflect.ValueOf(tb.shown), reflect.ValueOf(tb.dflt)
		checked := 0
		for i := range sv.NumField() {
			name, _, _ := strings.Cut(sv.Type().Field(i).Tag.Get("toml"), ",")
			if !plain[name] || dv.Field(i).IsZero() || required[name] {
				continue // not shown plainly, no default in code, or set by the minimal file
			}
			checked++
			if got, want := sv.Field(i).Interface(), dv.Field(i).Interface(); !reflect.DeepEqual(got, want) {
				t.Errorf("the README's %s shows %s = %v, but its default is %v (say so in a comment, or show the default)", tb.header, name, got, want)
			}
		}
		if checked == 0 {
			t.Errorf("no key of the README's %s with a default in code was checked", tb.header)
		}
	}
}

// shownWithoutDefaultComment lists the keys of the first table under header
// in the README's TOML whose comment does not mention a default.
func shownWithoutDefaultComment(readme, header string) map[string]bool {
	keys := map[string]bool{}
	_, rest, ok := strings.Cut(readme, "\n"+header+"\n")
	if !ok {
		return keys
	}
	for _, line := range strings.Split(rest, "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "[") {
			break
		}
		key, value, ok := strings.Cut(trim, "=")
		if !ok || strings.HasPrefix(trim, "#") {
			continue
		}
		if _, comment, _ := strings.Cut(value, "#"); strings.Contains(comment, "default") {
			continue
		}
		keys[strings.TrimSpace(key)] = true
	}
	return keys
}
