#!/usr/bin/env python3
# Usage: python3 tui-tmux-keys.py "KEYWARD_SOCKET=… keyward tui" ROUNDS  (see BENCHMARKS.md)
# An impatient operator's keys against keyward tui in tmux at 80x24 with
# NO_COLOR: the time from tmux send-keys to the screen that shows the key's
# effect — j (the selection marker one row down), G (the last range), g
# (the first), and "/app0042" + Enter typed as one read (the filtered
# range), and 40 j in one read (a held key: the 41st row selected, on the
# third page). Polls tmux capture-pane (~2-5 ms resolution, tmux's redraw
# included).
import subprocess, time, sys, statistics
from tmuxpane import Pane, rng
S = "qatuibench"
pane = Pane(S, server="qatuibench")
TM, cap, wait = pane.tmux, pane.cap, pane.wait
def keys(*k, lit=False):
    subprocess.run(TM + ["send-keys", "-t", S] + (["-l"] if lit else []) + list(k))
def selrow(screen):
    for i, l in enumerate(screen.split("\n")):
        if l.startswith("› "):
            return i
    return None
def rows(screen):
    return [l for l in screen.split("\n") if l.startswith("  app") or l.startswith("› app")]
def only(screen, text):
    r = rows(screen)
    return len(r) > 0 and all(text in l for l in r)
def timed(send, pred):
    t0 = time.monotonic()
    send()
    wait(pred)
    return (time.monotonic() - t0) * 1000
cmd = "env NO_COLOR=1 " + sys.argv[1]
subprocess.run(TM + ["kill-server"], capture_output=True)
time.sleep(0.5)
subprocess.run(TM + ["new-session", "-d", "-s", S, "-x", "80", "-y", "24", cmd])
wait(lambda s: rng(s) is not None and "  NAME" in s)
res = {"j": [], "G": [], "g": [], "filter": [], "esc": [], "40j": []}
for r in range(int(sys.argv[2])):
    for _ in range(5):
        before = selrow(cap())
        res["j"].append(timed(lambda: keys("j"), lambda s: selrow(s) not in (None, before)))
    first = rng(cap())
    res["G"].append(timed(lambda: keys("G"), lambda s: rng(s) not in (None, first) and "of" in (rng(s) or "")))
    last = rng(cap())
    res["g"].append(timed(lambda: keys("g"), lambda s: (rng(s) or "").startswith("1–")))
    res["filter"].append(timed(lambda: keys("/app0042\r", lit=True), lambda s: 'filter "app0042"' in s and only(s, "app0042") and rng(s) is not None))
    res["esc"].append(timed(lambda: keys("Escape"), lambda s: 'filter "' not in s and not only(s, "app0042") and rng(s) is not None))
    # 40 j in one read from the first row: the 41st key (row 5 of the
    # third page of 18): no key lost, none handled twice.
    keys("g")
    wait(lambda s: (rng(s) or "").startswith("1–") and selrow(s) == 4)
    res["40j"].append(timed(lambda: keys("j" * 40, lit=True), lambda s: (rng(s) or "").startswith("37–54 ") and selrow(s) == 8))
print(cap())
for k, v in res.items():
    v = sorted(v)
    print("%-7s n=%d median %.0f ms, p90 %.0f ms, max %.0f ms" % (k, len(v), statistics.median(v), v[int(len(v) * 0.9) - 1] if len(v) > 1 else v[0], v[-1]))
subprocess.run(TM + ["kill-server"], capture_output=True)
