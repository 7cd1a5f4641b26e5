package reportpane

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/render"
)

// exportJob is one export under way: the whole report for the pane's range
// and filters, asked of the daemon a page at a time (ExportPage rows) and
// written to a file that takes its final name only once it is complete.
type exportJob struct {
	seq  int
	path string // the final name
	part string // where it is written until complete
	f    *os.File
	cw   *render.CSV
	q    api.ReportQuery
	rows int

	// mu guards f, cw and closed: the TUI may quit (Close) while a page is
	// being written off the event loop.
	mu     sync.Mutex
	closed bool
}

// errQuit is what an export's last step meets once the TUI has quit.
var errQuit = errors.New("the TUI quit before the export was complete")

// exportStepMsg says how far one page of an export went.
type exportStepMsg struct {
	job  *exportJob
	next string // the cursor of the next page; "" when done
	err  error
}

// export starts writing the whole report as CSV (raw cells: ISO-8601 UTC
// times) into the export directory, off the event loop.
func (m *Model) export() tea.Cmd {
	if m.exporting != nil {
		return common.Flash("an export of this report is already under way")
	}
	dir := m.ctx.ExportDir
	if dir == "" {
		return common.FlashErr("no export directory: set XDG_DATA_HOME or HOME, or give keyward tui --export-dir")
	}
	q := m.query("")
	q.Limit = max(1, m.ctx.ExportPage)
	m.exportSeq++
	job := &exportJob{seq: m.exportSeq, q: q}
	m.exporting = job
	m.note = "exporting…"
	base := fmt.Sprintf("keyward-%s-%s-to-%s-%s", m.spec.ID, m.rg.From.UTC().Format("20060102"),
		m.rg.To.UTC().Format("20060102"), m.ctx.Now().UTC().Format("20060102T150405Z"))
	id := m.spec.ID
	return func() tea.Msg {
		err := job.create(dir, base)
		if err != nil {
			return common.Reply(id, exportStepMsg{job: job, err: err})
		}
		return m.exportPage(job, "")()
	}
}

// create makes the directory (0700) and the file (0600), never replacing a
// file: a second export in the same second gets "-2".
func (j *exportJob) create(dir, base string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return errQuit
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the export directory: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("export directory %s: %w", dir, err)
	}
	for n := 1; n < 100; n++ {
		name := base
		if n > 1 {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		path := filepath.Join(abs, name+".csv")
		if _, err := os.Lstat(path); err == nil {
			continue
		}
		f, err := os.OpenFile(path+".part", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("create the export file: %w", err)
		}
		j.path, j.part, j.f, j.cw = path, path+".part", f, render.NewCSV(f)
		return nil
	}
	return fmt.Errorf("create the export file: %s-*.csv: 99 exist already", filepath.Join(abs, base))
}

// exportPage asks for one page of the report and appends it to the file.
func (m *Model) exportPage(job *exportJob, cursor string) tea.Cmd {
	c, spec := m.ctx, m.spec
	return func() tea.Msg {
		q := job.q
		q.Cursor = cursor
		var p *Page
		err := c.Call(func(ctx context.Context) (err error) {
			var ok bool
			p, ok, err = spec.Fetch(ctx, c.Backend, q, c.Now())
			if err == nil && !ok {
				err = errors.New("this daemon does not serve the report")
			}
			return err
		})
		if err != nil {
			return common.Reply(spec.ID, exportStepMsg{job: job, err: fmt.Errorf("read the report from the daemon: %s", common.Explain(err))})
		}
		if err := job.write(p.Table); err != nil {
			return common.Reply(spec.ID, exportStepMsg{job: job, err: err})
		}
		return common.Reply(spec.ID, exportStepMsg{job: job, next: p.NextCursor})
	}
}

// write appends one page's rows to the file.
func (j *exportJob) write(t render.Table) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return errQuit
	}
	if err := j.cw.Write(t); err != nil {
		return fmt.Errorf("write %s: %w", j.part, err)
	}
	j.rows += len(t.Rows)
	return nil
}

// finish flushes and closes the file and gives it its final name.
func (j *exportJob) finish() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return errQuit
	}
	j.closed = true
	err := j.cw.Flush()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(j.part, j.path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", j.path, err)
	}
	return nil
}

// abandon closes and removes what an export that failed, or that the
// TUI quit during, had written; a step still under way then stops.
func (j *exportJob) abandon() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return
	}
	j.closed = true
	if j.f != nil {
		j.f.Close()
		os.Remove(j.part)
	}
}

// Close abandons an export under way, so quitting the TUI leaves no
// partial file behind.
func (m *Model) Close() {
	if m.exporting != nil {
		m.exporting.abandon()
		m.exporting = nil
	}
}

// onExportStep shows the progress and asks for the next page, or says where
// the file is.
func (m *Model) onExportStep(msg exportStepMsg) tea.Cmd {
	job := msg.job
	if m.exporting != job {
		job.abandon() // cannot happen: one export at a time
		return nil
	}
	switch {
	case msg.err != nil:
		job.abandon()
		m.exporting = nil
		m.note = "export failed"
		return common.FlashErr("export of the " + m.spec.Title + " report failed: " + msg.err.Error())
	case msg.next != "":
		m.note = fmt.Sprintf("exporting… %s so far", common.Plural(job.rows, "row"))
		return m.exportPage(job, msg.next)
	}
	m.exporting = nil
	if err := job.finish(); err != nil {
		os.Remove(job.part)
		m.note = "export failed"
		return common.FlashErr("export of the " + m.spec.Title + " report failed: " + err.Error())
	}
	m.note = "exported " + common.Plural(job.rows, "row")
	return common.Flash(fmt.Sprintf("exported the %s report (%s, %s → %s) to %s", m.spec.Title, common.Plural(job.rows, "row"),
		m.rg.From.UTC().Format("2006-01-02"), m.rg.To.UTC().Format("2006-01-02"), job.path))
}
