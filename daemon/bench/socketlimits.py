#!/usr/bin/env python3
"""What a hostile socket caller can make a keyward daemon hold (BENCHMARKS.md, issue 10).

    socketlimits.py KEYWARD_BINARY [DATA_DIR]

Starts `KEYWARD_BINARY daemon` on a fresh socket (over DATA_DIR if given, e.g. one made by
`keyward dev seed --keys 20000 --events 20000 --data-dir DIR`, else an empty one), opens 300
/v1/events streams that are never read, then asks for the largest answers the API can give,
printing RSS, descriptors and answer sizes. Wrap it in `flock /tmp/keyward-bench.lock`.
"""
import os, socket, subprocess, sys, tempfile, time

binary = sys.argv[1]
work = tempfile.mkdtemp()
data = sys.argv[2] if len(sys.argv) > 2 else work + "/data"
sock = work + "/k.sock"
with open(work + "/k.toml", "w") as f:
    f.write('data_dir = "%s"\nsocket = "%s"\nlog_level = "error"\n' % (data, sock))
daemon = subprocess.Popen([binary, "daemon", "--config", work + "/k.toml"], stderr=subprocess.DEVNULL)
for _ in range(400):
    if os.path.exists(sock):
        break
    time.sleep(0.05)
time.sleep(3)


def status(key):
    for line in open("/proc/%d/status" % daemon.pid):
        if line.startswith(key):
            return int(line.split()[1])


def fds():
    return len(os.listdir("/proc/%d/fd" % daemon.pid))


def get(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(("GET %s HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n" % path).encode())
    s.settimeout(120)
    n, head = 0, b""
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        head = head or b[:40]
        n += len(b)
    s.close()
    return head.split(b"\r\n")[0].decode(), n


try:
    rss0, fds0 = status("VmRSS"), fds()
    print("idle: rss %d KiB, fds %d" % (rss0, fds0))
    streams, refused = [], 0
    for _ in range(300):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: k\r\n\r\n")
        streams.append(s)
    time.sleep(2)
    for s in streams:
        s.settimeout(0.2)
        try:
            refused += s.recv(200).startswith(b"HTTP/1.1 429")
        except OSError:
            pass
    time.sleep(1)
    print("300 event streams, never read: rss +%d KiB, fds +%d, %d answered 429" % (status("VmRSS") - rss0, fds() - fds0, refused))
    for s in streams:
        s.close()
    time.sleep(1)
    for path in ["/v1/reports/activity?from=0001-01-01&to=9999-12-31", "/v1/reports/activity?from=-3659d&limit=5000",
                 "/v1/keys?limit=5000", "/v1/activity?limit=5000", "/v1/reports/aging?limit=5000",
                 "/v1/reports/usage?from=-3659d&limit=5000"]:
        before = status("VmRSS")
        t = time.time()
        line, n = get(path)
        print("%s: %s, %d bytes in %.2f s; rss %d MiB before, peak so far %d MiB" % (
            path, line, n, time.time() - t, before // 1024, status("VmHWM") // 1024))
finally:
    daemon.terminate()
    daemon.wait()
