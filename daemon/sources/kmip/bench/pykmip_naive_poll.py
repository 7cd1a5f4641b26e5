#!/usr/bin/python3
"""The naive KMIP poll keyward must beat: a plain PyKMIP client that locates
every object and Gets each one, one request per operation.

Usage: /usr/bin/python3 pykmip_naive_poll.py HOST PORT CA CERT KEY

Prints one JSON line: {"located": N, "gets": N, "seconds": S}, S from
before the connection opens to the last Get answered (Python's start-up
and imports excluded). The Go benchmark BenchmarkNaivePyKMIP runs it
against the same server, in the same run, as keyward's first poll.
"""
import json
import logging
import sys
import time
import warnings

warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)
sys.path.insert(0, "/usr/lib/python3/dist-packages")

from kmip.pie import client  # noqa: E402


def main():
    host, port, ca, cert, key = sys.argv[1:6]
    t = time.time()
    c = client.ProxyKmipClient(hostname=host, port=int(port), cert=cert, key=key, ca=ca, config_file="/dev/null")
    with c:
        uids = c.locate()
        for uid in uids:
            c.get(uid)
    print(json.dumps({"located": len(uids), "gets": len(uids), "seconds": time.time() - t}))


if __name__ == "__main__":
    main()
