package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScheduleSections(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "keyward.toml")
		if err := os.WriteFile(p, []byte("data_dir = \""+dir+"\"\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write(`
[[schedule]]
name  = "weekly-rotation"
kind  = "rotate"
every = "weekly mon 02:00"
zone  = "Europe/Paris"
aging = "expiring-30d"
tags  = { team = "payments" }

[[schedule]]
name  = "nightly-backup"
kind  = "backup"
cron  = "30 1 * * *"
keep  = 14
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Schedules) != 2 || c.Schedules[0].Tags["team"] != "payments" || c.Schedules[1].Keep != 14 {
		t.Fatalf("schedules %+v", c.Schedules)
	}
	bad := `
[[schedule]]
name  = "a"
kind  = "rotate"
every = "daily 02:00"

[[schedule]]
name  = "a"
kind  = "rotate"
every = "weekly xx 02:00"
`
	_, err = Load(write(bad + "colour = \"blue\"\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown key "schedule.colour"`) {
		t.Fatalf("error %v lacks the unknown key schedule.colour", err)
	}
	_, err = Load(write(bad))
	for _, want := range []string{"line 8: schedule[1]", `"weekly xx 02:00"`, `schedule name "a" is used twice`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
