"""The Prometheus text format, parsed strictly for the metrics tests."""

import re

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """Parses the Prometheus text format strictly: every
    sample belongs to a family announced by # HELP and # TYPE, values are
    numbers. Returns (samples {(name, ((label, value), ...)): float},
    types {family: type})."""
    samples, types, helps = {}, {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            _, _, fam, typ = line.split(" ")
            assert typ in ("counter", "gauge", "histogram"), line
            assert fam not in types, f"family {fam} announced twice"
            types[fam] = typ
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels = m.group(1), tuple(_LABEL.findall(m.group(3) or ""))
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[:-len(suffix)] in types \
                    and types[name[:-len(suffix)]] == "histogram":
                fam = name[:-len(suffix)]
        assert fam in types and fam in helps, f"{name} has no # TYPE / # HELP"
        if types[fam] == "counter":
            assert fam.endswith("_total"), f"counter {fam} must end in _total"
        key = (name, labels)
        assert key not in samples, f"sample {key} twice"
        samples[key] = float(m.group(4))
    for fam, typ in types.items():
        if typ != "histogram":
            continue
        buckets = sorted((float("inf") if dict(k[1])["le"] == "+Inf" else float(dict(k[1])["le"]), v)
                         for k, v in samples.items() if k[0] == fam + "_bucket")
        assert buckets and buckets[-1][0] == float("inf"), f"{fam} has no +Inf bucket"
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), f"{fam} buckets are not cumulative"
        assert counts[-1] == samples[(fam + "_count", ())], f"{fam} +Inf != _count"
    return samples, types


def metric(samples, name, **labels):
    """The value of one sample (0 when the labelled sample is absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
