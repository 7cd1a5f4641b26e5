# tmuxpane: keyward tui's screen in a tmux pane, for the tui-tmux-*.py
# benchmarks — capture it, read the key range it shows, wait for a screen.
import re, subprocess, time


class Pane:
    """Session session of the tmux server (the default one, or the one
    named server: tmux -L)."""

    def __init__(self, session, server=None):
        self.session = session
        self.tmux = ["tmux"] + (["-L", server] if server else [])

    def cap(self):
        return subprocess.run(self.tmux + ["capture-pane", "-p", "-t", self.session], capture_output=True, text=True).stdout

    def wait(self, pred, timeout=30):
        """The first capture pred holds for, polled every ~2 ms; exits
        showing the screen when none does within timeout seconds."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            s = self.cap()
            if pred(s):
                return s
            time.sleep(0.002)
        raise SystemExit("timeout; screen:\n" + self.cap())


def rng(screen):
    """The Keys pane's range ("1–18 of 100,000 keys"), or None."""
    m = re.search(r"(\d[\d,]*)–(\d[\d,]*) of ([\d,]+|\d+\+?) key", screen)
    return m.group(0) if m else None
