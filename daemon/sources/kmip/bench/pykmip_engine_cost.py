#!/usr/bin/python3
"""Time PyKMIP's own engine, in one process, without TLS or keyward.

Usage: /usr/bin/python3 pykmip_engine_cost.py N [DIR]

Stores N AES keys named like the benchmark's (acme.appNNNN.key.G) in a
fresh PyKMIP SQLite file, then times what PyKMIP does for one Locate (load
every stored object, check its access policy and read its names) and for
50 object lookups as a Get does them. BENCHMARKS.md quotes it to explain
why a Locate per application was quadratic against PyKMIP.
"""
import copy
import logging
import os
import sys
import tempfile
import time
import warnings

warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)
sys.path.insert(0, "/usr/lib/python3/dist-packages")

from kmip.core import enums  # noqa: E402
from kmip.core import policy  # noqa: E402
from kmip.pie import objects  # noqa: E402
from kmip.services.server import engine  # noqa: E402


def main():
    n = int(sys.argv[1])
    workdir = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp()
    db = os.path.join(workdir, "pykmip-%d.db" % n)
    if os.path.exists(db):
        os.remove(db)
    e = engine.KmipEngine(policies=copy.deepcopy(policy.policies), database_path=db)
    s = e._data_store_session_factory()
    for i in range(n):
        k = objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, os.urandom(32),
                                 name="acme.app%04d.key.%d" % (i // 16, i % 16 + 1))
        k._owner = "keyward"
        s.add(k)
    s.commit()
    s.close()

    e._client_identity = ["keyward", None]
    e._data_session = e._data_store_session_factory()
    t = time.time()
    listed = e._list_objects_with_access_controls(enums.Operation.LOCATE)
    named = sum(1 for o in listed if o.names)
    dt = time.time() - t
    print("locate scan: %d objects (%d named) in %.2f s, %.2f ms per object" % (len(listed), named, dt, 1000 * dt / max(n, 1)))

    e._data_session.close()
    e._data_session = e._data_store_session_factory()
    t = time.time()
    for uid in range(1, min(n, 50) + 1):
        o = e._get_object_with_access_controls(str(uid), enums.Operation.GET)
        list(o.names)
    dt = time.time() - t
    print("object lookups: %d in %.3f s, %.2f ms each" % (min(n, 50), dt, 1000 * dt / min(n, 50)))


if __name__ == "__main__":
    main()
