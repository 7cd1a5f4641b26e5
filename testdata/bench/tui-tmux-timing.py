#!/usr/bin/env python3
# Usage: python3 tui-tmux-timing.py "KEYWARD_SOCKET=… keyward tui" RUNS  (see BENCHMARKS.md)
# Times keyward tui against a running daemon inside tmux at 80x24:
# start → first frame with rows, and each page-down → the frame with the
# next range. Polls tmux capture-pane; resolution ≈ one capture (~2-5 ms).
import subprocess, time, sys, statistics
from tmuxpane import Pane, rng
S = "qa16bench"
pane = Pane(S)
cap, wait = pane.cap, pane.wait
cmd = sys.argv[1]
subprocess.run(["tmux", "kill-session", "-t", S], capture_output=True)
firsts = []
for run in range(int(sys.argv[2])):
    t0 = time.monotonic()
    subprocess.run(["tmux", "new-session", "-d", "-s", S, "-x", "80", "-y", "24", cmd])
    s = wait(lambda s: rng(s) is not None and "  NAME" in s)
    firsts.append((time.monotonic() - t0) * 1000)
    if run == 0:
        print(s)
    pds = []
    for i in range(20):
        before = rng(cap())
        t1 = time.monotonic()
        subprocess.run(["tmux", "send-keys", "-t", S, "PageDown"])
        s = wait(lambda s: rng(s) not in (None, before))
        pds.append((time.monotonic() - t1) * 1000)
    print("run", run, "first frame ms %.0f" % firsts[-1], "page-down ms median %.0f p90 %.0f max %.0f" % (statistics.median(pds), sorted(pds)[17], max(pds)), "last", rng(s))
    subprocess.run(["tmux", "kill-session", "-t", S], capture_output=True)
    time.sleep(0.5)
print("first frame ms: median %.0f min %.0f max %.0f" % (statistics.median(firsts), min(firsts), max(firsts)))
