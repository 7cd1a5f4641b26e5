package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// widget is a section a connector package would register: it parses in
// its own type, names itself and validates its own keys.
type widget struct {
	Name   string `toml:"name"`
	Region string `toml:"region"`
}

func (w *widget) SourceName() string { return w.Name }
func (w *widget) Validate(prefix string) []string {
	if w.Region == "" {
		return []string{prefix + ".region: is required"}
	}
	return nil
}

func init() { RegisterSection("widget", &widget{}) }

func loadText(t *testing.T, text string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keyward.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

// A registered section decodes into its own type, in file order, beside
// the built-in ones; its problems carry the key and the line as any other.
func TestRegisteredSection(t *testing.T) {
	c, err := loadText(t, "log_level = \"info\"\n[[widget]]\nname = \"w1\"\nregion = \"eu\"\n[[widget]]\nname = \"w2\"\nregion = \"us\"\n")
	if err != nil {
		t.Fatal(err)
	}
	got := c.Sections["widget"]
	if len(got) != 2 || got[0].(*widget).Region != "eu" || got[1].SourceName() != "w2" {
		t.Fatalf("sections = %#v", got)
	}
	for _, tc := range []struct{ name, text, want string }{
		{"own validation with line", "[[widget]]\nname = \"w1\"\n\n[[widget]]\nname = \"w2\"\n", "line 4: widget[1].region: is required"},
		{"unknown key inside", "[[widget]]\nname = \"w1\"\nregion = \"eu\"\nzone = 3\n", `line 4, column 1: unknown key "widget.zone"`},
		{"wrong type inside", "[[widget]]\nname = 7\n", `key "widget.name"`},
		{"unregistered section", "[[gadget]]\nname = \"g\"\n", `unknown key "gadget"`},
		{"name shared with another kind", "[[widget]]\nname = \"kms\"\nregion = \"eu\"\n[[kmip]]\nname = \"kms\"\naddresses = [\"kms:5696\"]\n", `widget: source name "kms" is already used by a [[kmip]] section`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadText(t, tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRegisterSectionTwicePanics(t *testing.T) {
	for _, name := range []string{"widget", "kmip", "proxy"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("registering %q again did not panic", name)
				}
			}()
			RegisterSection(name, &widget{})
		}()
	}
}

func FuzzParseSections(f *testing.F) {
	f.Add([]byte("[[widget]]\nname = \"w\"\nregion = \"eu\"\n"))
	f.Add([]byte("[[widget]]\nname = \"w\"\n[widget.x]\ny = 1\n[[azure]]\nname = 3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Default()
		if err := Parse(b, c); err != nil {
			return
		}
		_ = c.Validate()
	})
}
