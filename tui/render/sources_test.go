package render

import (
	"reflect"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
)

func TestSource(t *testing.T) {
	sync := now.Add(-3 * time.Minute)
	r := Source(api.SourceInfo{Source: engine.Source{Name: "kms-prod", Kind: "kmip", Health: engine.HealthDegraded, Keys: 12,
		LastSync: &sync, Address: "kms.example:5696"}}, now)
	if want := []string{"kms-prod", "kmip", "✖ DEGRADED", "12", "3m ago", "kms.example:5696"}; !reflect.DeepEqual(r.Cells, want) {
		t.Errorf("cells %q, want %q", r.Cells, want)
	}
	if r.Classes[2] != HealthClass("degraded") || r.Classes[5] != ClassMuted {
		t.Errorf("classes %q", r.Classes)
	}
	if got := Source(api.SourceInfo{}, now).Cells[4]; got != "never" {
		t.Errorf("a source never synced: %q", got)
	}
}

// A generation's role says which encrypts and which the next rotation
// pushes out; its age counts from activation, else creation, else is a dash.
func TestGeneration(t *testing.T) {
	act, created := now.Add(-48*time.Hour), now.Add(-72*time.Hour)
	for _, tc := range []struct {
		g       api.GenerationInfo
		outNext bool
		role    string
		class   string
		age     string
	}{
		{api.GenerationInfo{Name: "acme.crm.key.5", Encrypts: true, Activated: &act, Created: &created}, false, "▶ encrypts", ClassEncrypts, "2d"},
		{api.GenerationInfo{Name: "acme.crm.key.1", Created: &created}, true, "◀ out next", ClassWarn, "3d"},
		{api.GenerationInfo{Name: "acme.crm.key.2"}, false, "decrypts", ClassMuted, Dash},
	} {
		r := Generation(tc.g, tc.outNext, now)
		if r.Cells[GenRole] != tc.role || r.Classes[GenRole] != tc.class || r.Cells[GenAge] != tc.age || r.Cells[GenName] != tc.g.Name {
			t.Errorf("%s: %q %q", tc.g.Name, r.Cells, r.Classes)
		}
	}
}
