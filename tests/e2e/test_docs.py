"""The operations guide documents every flag of both servers and every metric
they export (docs/operations.md is the reference operators read)."""

import os
import re
import subprocess

from conftest import BROKER_BIN, GATEWAY_BIN, ROOT, scrape

DOC = os.path.join(ROOT, "docs", "operations.md")


def flags(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10).stdout
    return sorted(set(re.findall(r"^\s+(--[a-z0-9-]+)", out, re.M)) - {"--help"})


def test_every_flag_is_documented():
    doc = open(DOC, encoding="utf-8").read()
    for binary in (BROKER_BIN, GATEWAY_BIN):
        found = flags(binary)
        assert len(found) >= 10, found
        missing = [f for f in found if f"`{f}`" not in doc]
        assert not missing, f"{os.path.basename(binary)} flags missing from operations.md: {missing}"
        for f in found:
            env = "CHAT_" + f[2:].upper().replace("-", "_")
            assert f"`{env}`" in doc, f"{env} missing from operations.md"


def test_every_metric_is_documented(cluster):
    doc = open(DOC, encoding="utf-8").read()
    for port in (cluster.ports["A"], cluster.broker_http_port):
        _, types = scrape(port)
        missing = [f for f in types if f"`{f}`" not in doc]
        assert not missing, f"metrics missing from operations.md: {missing}"
