package tui

import (
	"slices"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/table"
)

// historySize is how many commands the command line remembers.
const historySize = 50

// cmdline is the command line that : opens: go to a pane, open a key by id
// or name, sync a source. tab completes, ↑/↓ walk the history.
type cmdline struct {
	input   textinput.Model
	history []string
	at      int // position in history while walking it; len(history): the new line
	draft   string
}

// actions are the command line's verbs beside the panes' names.
var actions = []string{"key", "sync", "help", "log", "quit"}

// commands are the command line's verbs, for completion and for the
// answer to an unknown one: every pane's name (from the panes themselves,
// so a new pane is one the command line knows), then the actions.
func (m *Model) commands() []string {
	var out []string
	for _, p := range m.panes {
		out = append(out, string(p.ID()))
	}
	return append(out, actions...)
}

func (m *Model) openCmdline() tea.Cmd {
	if m.cmd == nil {
		ti := textinput.New()
		ti.Prompt = ":"
		ti.CharLimit = 256
		m.cmd = &cmdline{input: ti}
	}
	m.cmd.input.SetValue("")
	m.cmd.at = len(m.cmd.history)
	m.cmdOpen = true
	return m.cmd.input.Focus()
}

// onCmdKey handles a key while the command line is open.
func (m *Model) onCmdKey(msg tea.KeyMsg) tea.Cmd {
	c := m.cmd
	switch msg.Type {
	case tea.KeyEsc:
		m.cmdOpen = false
		c.input.Blur()
		return nil
	case tea.KeyEnter:
		m.cmdOpen = false
		c.input.Blur()
		line := strings.TrimSpace(c.input.Value())
		if line == "" {
			return nil
		}
		if n := len(c.history); n == 0 || c.history[n-1] != line {
			c.history = append(c.history, line)
			if len(c.history) > historySize {
				c.history = c.history[1:]
			}
		}
		return m.runCommand(line)
	case tea.KeyUp:
		if c.at > 0 {
			if c.at == len(c.history) {
				c.draft = c.input.Value()
			}
			c.at--
			c.input.SetValue(c.history[c.at])
			c.input.CursorEnd()
		}
		return nil
	case tea.KeyDown:
		if c.at < len(c.history) {
			c.at++
			if c.at == len(c.history) {
				c.input.SetValue(c.draft)
			} else {
				c.input.SetValue(c.history[c.at])
			}
			c.input.CursorEnd()
		}
		return nil
	case tea.KeyTab:
		c.input.SetValue(m.complete(c.input.Value()))
		c.input.CursorEnd()
		return nil
	}
	var cmd tea.Cmd
	c.input, cmd = c.input.Update(msg)
	return cmd
}

// complete finishes the word being typed when it has one completion, or
// as far as all its completions agree: a verb, then a source for sync or a
// pane's name.
func (m *Model) complete(line string) string {
	fields := strings.Fields(line)
	trailing := strings.HasSuffix(line, " ")
	var cands []string
	var word string
	switch {
	case len(fields) == 0 || (len(fields) == 1 && !trailing):
		cands = m.commands()
		if len(fields) == 1 {
			word = fields[0]
		}
		done := completeWord(word, cands)
		if done != word && slices.Contains(cands, done) && (done == "key" || done == "sync") {
			done += " "
		}
		return done
	case fields[0] == "sync" && (len(fields) == 1 || (len(fields) == 2 && !trailing)):
		if m.status != nil {
			for _, s := range m.status.Sources {
				cands = append(cands, s.Name)
			}
		}
		if len(fields) == 2 {
			word = fields[1]
		}
		return "sync " + completeWord(word, cands)
	}
	return line
}

// completeWord is word extended as far as every candidate it prefixes agrees.
func completeWord(word string, cands []string) string {
	var match []string
	for _, c := range cands {
		if strings.HasPrefix(c, word) {
			match = append(match, c)
		}
	}
	if len(match) == 0 {
		return word
	}
	sort.Strings(match)
	first, last := match[0], match[len(match)-1]
	n := 0
	for n < len(first) && n < len(last) && first[n] == last[n] {
		n++
	}
	return first[:max(n, len(word))]
}

// runCommand runs one command line.
func (m *Model) runCommand(line string) tea.Cmd {
	fields := strings.Fields(line)
	verb, arg := fields[0], strings.TrimSpace(strings.TrimPrefix(line, fields[0]))
	for i, p := range m.panes {
		if strings.EqualFold(verb, string(p.ID())) {
			return m.jump(i)
		}
	}
	switch verb {
	case "q", "quit":
		m.cancel()
		return tea.Quit
	case "help":
		m.overlay = m.openHelp()
		return nil
	case "log":
		m.overlay = m.openLog(m.c.Width)
		return nil
	case "sync":
		if len(strings.Fields(arg)) > 1 {
			return common.FlashErr("sync takes one source: :sync SOURCE, or :sync for every source")
		}
		m.pushBack()
		cmd := m.activate(0)
		return tea.Batch(cmd, m.panes[0].Update(common.SyncMsg{Source: arg}))
	case "key":
		if arg == "" {
			return common.FlashErr("which key? :key ID or :key NAME")
		}
		return m.findKey(arg)
	}
	return common.FlashErr("unknown command " + table.Clean(verb) + ": try " + strings.Join(m.commands(), ", "))
}

// findKey opens the key whose id or name is arg: text with a slash is
// tried as an id first (source/name, source/name/version), then as a name,
// which must name exactly one key.
//
// Until the answer, keys typed after the command (":key NAME⏎x" in one
// read) wait for the key it opens: they act on it, not on what was on
// screen before.
func (m *Model) findKey(arg string) tea.Cmd {
	find := common.FindKey(m.c, "", arg, "")
	if strings.Contains(arg, "/") {
		find = common.FindKeyOrID(m.c, arg)
	}
	m.finding = true
	return func() tea.Msg { return foundMsg{msg: find()} }
}

// foundMsg is the answer of a :key lookup: an OpenKeyMsg, or a flash
// saying why no key was opened.
type foundMsg struct{ msg tea.Msg }

// pushBack remembers the visible pane, for esc to return to it.
func (m *Model) pushBack() {
	m.back = append(m.back, m.active)
	if len(m.back) > 20 {
		m.back = m.back[1:]
	}
}

// jump goes to pane i, remembering where it came from.
func (m *Model) jump(i int) tea.Cmd {
	if i == m.active {
		return nil
	}
	m.pushBack()
	return m.activate(i)
}

// goBack returns to the pane a jump came from.
func (m *Model) goBack() tea.Cmd {
	if len(m.back) == 0 {
		return nil
	}
	i := m.back[len(m.back)-1]
	m.back = m.back[:len(m.back)-1]
	return m.activate(i)
}

// cmdlineView is the command line, in the help line's row.
func (m *Model) cmdlineView(w int) string {
	st := m.c.Styles
	m.cmd.input.Width = max(10, w-4)
	m.cmd.input.PromptStyle, m.cmd.input.TextStyle = st.Bold, st.Row
	return table.Fit(" "+m.cmd.input.View(), w)
}
