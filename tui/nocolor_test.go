package tui_test

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/tuitest"
)

// sgr matches a terminal's select-graphic-rendition sequence; colourSGR
// one that sets a colour (foreground, background, 256 or true colour).
var (
	sgr       = regexp.MustCompile(`\x1b\[([0-9;]*)m`)
	colourSGR = regexp.MustCompile(`^(3[0-9]|4[0-9]|9[0-7]|10[0-7])$`)
)

const exportsShown = "/tmp/keyward-nocolor-EXPORT-DIR"

// noColorGolden draws the views added for issue 16 as tui.Run draws them
// with NO_COLOR set: the colourless styles, on a terminal that still has
// attributes (termenv.ANSI). The golden keeps the escape sequences, so it
// shows where reverse, bold and underline mark the focus and the
// selection; and no sequence may set a colour.
func noColorGolden(t *testing.T, open func(t *testing.T, tm *teatest.TestModel), want ...string) {
	t.Helper()
	noColorGoldenOn(t, newFixture(), open, want...)
}

// noColorGoldenOn is noColorGolden on the daemon f.
func noColorGoldenOn(t *testing.T, f *fixture, open func(t *testing.T, tm *teatest.TestModel), want ...string) {
	t.Helper()
	// The export directory's name is in the status line, where its length
	// decides the wrapping: a fresh directory of a fixed length, shown as
	// exportsShown in the golden.
	var exports string
	for {
		exports = fmt.Sprintf("/tmp/keyward-nocolor-%010d", rand.Uint32())
		if err := os.Mkdir(exports, 0o700); err == nil {
			break
		} else if !errors.Is(err, fs.ErrExist) {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(exports) })
	prev := lipgloss.ColorProfile()
	lipgloss.SetColorProfile(termenv.ANSI)
	t.Cleanup(func() { lipgloss.SetColorProfile(prev) })
	tm := startWith(t, f, 80, 24, tui.Options{NoColor: true, ExportDir: exports})
	waitFor(t, tm, "acme.crm.key.0", "● connected", fmt.Sprintf("of %d keys", len(f.keys)))
	open(t, tm)
	tuitest.WaitText(t, tm, 20*time.Second, want...)
	view := finalView(t, tm)
	checkFrame(t, view, 80, 24)
	view = strings.ReplaceAll(view, exports, exportsShown)
	teatest.RequireEqualOutput(t, []byte(view))
	for _, m := range sgr.FindAllStringSubmatch(view, -1) {
		for _, p := range strings.Split(m[1], ";") {
			if colourSGR.MatchString(p) {
				t.Fatalf("with NO_COLOR the view sets a colour (%q):\n%s", m[0], view)
			}
		}
	}
	if !strings.Contains(view, "\x1b[") {
		t.Errorf("nothing is marked by an attribute:\n%s", view)
	}
}

func TestHelpNoColorGolden(t *testing.T) {
	noColorGolden(t, func(t *testing.T, tm *teatest.TestModel) { press(tm, "?") }, "Keys pane")
}

func TestCommandLineNoColorGolden(t *testing.T) {
	noColorGolden(t, func(t *testing.T, tm *teatest.TestModel) { press(tm, ":", "sy", "tab") }, ":sync")
}

func TestMessageLogNoColorGolden(t *testing.T) {
	noColorGolden(t, func(t *testing.T, tm *teatest.TestModel) {
		tm.Send(common.FlashMsg{Text: "synced kms-prod"})
		tuitest.WaitText(t, tm, 20*time.Second, "✔ synced kms-prod")
		tm.Send(common.FlashMsg{Text: "the vault answered 503 Service Unavailable", Err: true})
		tuitest.WaitText(t, tm, 20*time.Second, "503")
		press(tm, "L")
	}, "Messages — newest first")
}

func TestExportNoColorGolden(t *testing.T) {
	noColorGolden(t, func(t *testing.T, tm *teatest.TestModel) {
		press(tm, "2")
		tuitest.WaitText(t, tm, 20*time.Second, "MILESTONE", "entries 1–")
		press(tm, "e")
	}, "exported the Aging report")
}
