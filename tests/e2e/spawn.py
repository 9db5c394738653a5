"""One more gateway on a running cluster's broker, started by a test with
flags of its own (test_auth.py, test_curve.py). The cluster does not track
it: the test stops it (Proc.stop(), which must report a clean exit)."""

import os
import time

import pytest

from conftest import (GATEWAY_BIN, HOST, LOG_LEVEL, WEB_DIR, Proc, describe_rc, free_port,
                      http_get)


def spawn_gateway(cluster, name, extra_args=(), wait_status=200, timeout=15.0):
    """Starts gateway `name` with extra_args and waits until its /readyz
    answers wait_status (503: it runs but has no broker link). Afterwards
    chat.connect(name) reaches it. Returns (proc, port)."""
    port = free_port()
    cluster.ports[name] = port
    proc = Proc(f"gateway {name}",
                [GATEWAY_BIN, "--port", str(port), "--broker",
                 f"tcp://{HOST}:{cluster.broker_port}", "--id", f"gw{name}", "--web", WEB_DIR,
                 "--log-level", LOG_LEVEL, "--rate", "0"] + list(extra_args),
                os.path.join(cluster.logdir, f"gateway{name}.{cluster.generation}.log"))
    deadline = time.monotonic() + timeout
    last = None
    while True:
        if not proc.alive():
            pytest.fail(f"{proc.name} died at startup ({describe_rc(proc.p.returncode)})\n"
                        + proc.tail(), pytrace=False)
        try:
            last, _, _ = http_get(port, "/readyz", timeout=1.0, ssl_context=cluster.ssl_context)
            if last == wait_status:
                return proc, port
        except OSError as e:
            last = repr(e)
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{proc.name}: /readyz not {wait_status} within {timeout} s "
                        f"(last: {last})\n" + proc.tail(), pytrace=False)
        time.sleep(0.05)
