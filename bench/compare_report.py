#!/usr/bin/env python3
"""compare_report.py: bench/compare.sh's results to OUT.md, OUT.json and OUT.png.

Reads the directory compare.sh filled (chat-bench --json output per step:
fanout-TARGET-TOTAL.json, rooms-TARGET-RATE.json, idle-TARGET.json with
idle-TARGET.mem, storm-TARGET.json; history-bench's broker.json), weighs
them against the targets (PASS/MISS) and plots p99 delivery latency against
delivered messages/s with gnuplot. Standard library only.
"""

import argparse
import json
import os
import re
import subprocess
import time

NAMES = {
    "ours": "chat cluster (2 gateways + broker)",
    "socketio": "socket.io 4",
    "socketio-redis": "socket.io 4 + redis adapter (2 procs)",
    "expressws": "express-ws",
}
ORDER = ["ours", "socketio", "socketio-redis", "expressws"]

TARGETS = {
    "fanout": 600_000,        # deliveries/s at p99 <= limit
    "fanout_vs_socketio": 5.0,
    "fanout_vs_redis": 2.0,
    "rooms": 400_000,
    "idle_kib": 4.0,          # gateway KiB per connection
    "storm": 10_000,          # connections/s
    "broker": 300_000,        # commands/s
}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def num(v, digits=0):
    if v is None:
        return "-"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def step_ok(r, limit):
    try:
        return (r["complete"] and r["messages"]["delivery_ratio"] == 1.0
                and r["latency_ms"]["delivery"]["p99"] <= limit)
    except (KeyError, TypeError):
        return False


def ladder(res, kind, target):
    """[(step, result)] sorted by step value."""
    out = []
    pattern = re.compile(rf"^{re.escape(kind)}-{re.escape(target)}-([0-9.]+)\.json$")
    for name in os.listdir(res):
        m = pattern.match(name)
        r = load(os.path.join(res, name)) if m else None
        if m and r and "messages" in r:
            out.append((float(m.group(1)), r))
    return sorted(out, key=lambda x: x[0])


def best(steps, limit):
    ok = [r["messages"]["deliveries_per_s"] for _, r in steps if step_ok(r, limit)]
    return max(ok) if ok else None


def rss_pairs(s):
    """'broker:123 gateway:456 gateway:789' -> {'broker': 123, 'gateway': 1245}"""
    d = {}
    for item in s.split():
        role, _, kb = item.partition(":")
        d[role] = d.get(role, 0) + int(kb or 0)
    return d


def verdict(value, want, higher=True):
    if value is None:
        return "not measured"
    ok = value >= want if higher else value <= want
    return "PASS" if ok else "MISS"


def step_row(step, r, limit, unit):
    m, lat, ack = r["messages"], r["latency_ms"]["delivery"], r["latency_ms"]["ack"]
    cpu = r["cpu"]["window"]["percent_of_core"]
    ratio = m["delivery_ratio"]
    return (f"| {num(step, 0 if step >= 10 else 1)} {unit} | {num(m['sent_per_s'])} | "
            f"{num(m['deliveries_per_s'])} | {'-' if ratio is None else f'{ratio:.4f}'} | "
            f"{lat['p50']:.2f} | {lat['p99']:.2f} | {lat['p999']:.2f} | {lat['max']:.1f} | "
            f"{ack['p99']:.2f} | {cpu:.0f}% | {'ok' if step_ok(r, limit) else 'over'} |")


STEP_HEAD = ("| step | sent msg/s | delivered/s | ratio | p50 ms | p99 ms | p99.9 ms | max ms "
             "| ack p99 ms | chat-bench CPU | |\n|---|---|---|---|---|---|---|---|---|---|---|")


def plot(out, series, limit):
    """series: [(title, [(deliveries/s, p99 ms)])]. Writes OUT.png with gnuplot."""
    series = [(t, pts) for t, pts in series if pts]
    if not series:
        return None
    datafile = out + ".plot.dat"
    with open(datafile, "w") as f:
        for t, pts in series:
            f.write(f"# {t}\n")
            for x, y in pts:
                f.write(f"{x / 1000:.3f} {max(y, 0.01):.3f}\n")
            f.write("\n\n")
    cmds = [
        "set terminal pngcairo size 1000,600 font ',10'",
        f"set output '{out}.png'",
        "set title 'p99 delivery latency against delivered messages/s'",
        "set xlabel 'delivered messages/s (thousands)'",
        "set ylabel 'p99 delivery latency (ms, log scale)'",
        "set logscale y", "set grid", "set key top left",
        f"set arrow from graph 0, first {limit} to graph 1, first {limit} nohead dt 2 lc rgb 'red'",
        f"set label 'p99 = {limit} ms' at graph 0.01, first {limit * 1.15} tc rgb 'red'",
    ]
    plots = [f"'{datafile}' index {i} with linespoints lw 2 pt 7 title '{t}'"
             for i, (t, _) in enumerate(series)]
    cmds.append("plot " + ", ".join(plots))
    try:
        subprocess.run(["gnuplot"], input="\n".join(cmds), text=True, check=True,
                       capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        print(f"compare_report: gnuplot failed: {e}")
        return None
    finally:
        os.unlink(datafile)
    return os.path.basename(out) + ".png"


def main():
    ap = argparse.ArgumentParser()
    for a in ("res", "out", "machine"):
        ap.add_argument("--" + a, required=True)
    for a in ("quick", "fan-conns", "rooms-conns", "rooms-rooms", "idle-conns", "storm-conns",
              "elapsed"):
        ap.add_argument("--" + a, type=int, default=0)
    ap.add_argument("--p99-limit", type=float, default=50)
    ap.add_argument("--duration", type=float, default=0)
    a = ap.parse_args()
    res, limit = a.res, a.p99_limit
    targets = [t for t in ORDER
               if os.path.exists(os.path.join(res, f"storm-{t}.json"))
               or os.path.exists(os.path.join(res, f"idle-{t}.json")) or ladder(res, "fanout", t)]

    fan = {t: ladder(res, "fanout", t) for t in targets}
    rooms = ladder(res, "rooms", "ours")
    fan_best = {t: best(fan[t], limit) for t in targets}
    rooms_best = best(rooms, limit)
    storm = {t: load(os.path.join(res, f"storm-{t}.json")) for t in targets}
    idle = {}
    for t in targets:
        mem, r = load(os.path.join(res, f"idle-{t}.mem")), load(os.path.join(res, f"idle-{t}.json"))
        if mem:
            b, af = rss_pairs(mem["before"]), rss_pairs(mem["after"])
            ready = (r or {}).get("connect", {}).get("ready") or mem["conns"]
            idle[t] = {role: {"before_kb": b.get(role, 0), "after_kb": af.get(role, 0),
                              "kib_per_conn": (af.get(role, 0) - b.get(role, 0)) / max(ready, 1)}
                       for role in af}
            idle[t]["_ready"] = ready
    broker = load(os.path.join(res, "broker.json"))
    broker_rate = {}
    for m in (broker or {}).get("modes", []):
        if m.get("ok") and m.get("throughput"):
            broker_rate[m["mode"]] = m["throughput"]["committed_per_s"]

    def ratio(x, y):
        return x / y if x and y else None

    ours_fan = fan_best.get("ours")
    vs_sio = ratio(ours_fan, fan_best.get("socketio"))
    vs_redis = ratio(ours_fan, fan_best.get("socketio-redis"))
    gw_kib = idle.get("ours", {}).get("gateway", {}).get("kib_per_conn")
    storm_ours = (storm.get("ours") or {}).get("connect", {}).get("per_s")
    rows = [
        ("fan-out", f">= {TARGETS['fanout']:,} deliveries/s, p99 <= {limit:g} ms, ratio 1.0",
         num(ours_fan), verdict(ours_fan, TARGETS["fanout"])),
        ("fan-out vs socket.io", f">= {TARGETS['fanout_vs_socketio']:g}x",
         "-" if vs_sio is None else f"{vs_sio:.2f}x", verdict(vs_sio, TARGETS["fanout_vs_socketio"])),
        ("fan-out vs socket.io + redis", f">= {TARGETS['fanout_vs_redis']:g}x",
         "-" if vs_redis is None else f"{vs_redis:.2f}x", verdict(vs_redis, TARGETS["fanout_vs_redis"])),
        ("rooms", f">= {TARGETS['rooms']:,} deliveries/s, p99 <= {limit:g} ms, ratio 1.0",
         num(rooms_best), verdict(rooms_best, TARGETS["rooms"])),
        ("idle", f"<= {TARGETS['idle_kib']:g} KiB gateway memory per connection",
         "-" if gw_kib is None else f"{gw_kib:.2f} KiB", verdict(gw_kib, TARGETS["idle_kib"], False)),
        ("connect storm", f">= {TARGETS['storm']:,} connections/s", num(storm_ours),
         verdict(storm_ours, TARGETS["storm"])),
        ("broker alone", f">= {TARGETS['broker']:,} commands/s (history off)",
         num(broker_rate.get("off")), verdict(broker_rate.get("off"), TARGETS["broker"])),
    ]

    L = []
    L.append(f"# Chat cluster against its peers: {os.path.basename(a.out)}\n")
    L.append(f"Made by `bench/compare.sh{' --quick' if a.quick else ''}` in {a.elapsed} s on "
             f"{a.machine}. Every server and chat-bench shared this machine; chat-bench's own "
             "CPU use is in the tables. Only 127.0.0.1 was used.\n")
    L.append("## Targets\n\n| what | want | measured | |\n|---|---|---|---|")
    L += [f"| {w} | {want} | {got} | {v} |" for w, want, got, v in rows]
    L.append("")
    L.append("## Summary\n")
    L.append(f"Fan-out: {a.fan_conns:,} connections in one room, 10 senders, rising rates; "
             f"rooms: {a.rooms_conns:,} connections in {a.rooms_rooms:,} rooms of "
             f"{a.rooms_conns // max(a.rooms_rooms, 1)}, one sender per room; each step "
             f"{a.duration:g} s measured. The figure of a ladder is the highest delivered "
             f"rate of a step with delivery ratio 1.0 (every acknowledged message reached "
             f"every other member) and p99 <= {limit:g} ms.\n")
    L.append("| target | fan-out deliveries/s | rooms deliveries/s | idle KiB/conn (servers) "
             "| connect storm /s |\n|---|---|---|---|---|")
    for t in targets:
        kib = idle.get(t)
        kib_s = "-" if not kib else ", ".join(
            f"{role} {v['kib_per_conn']:.2f}" for role, v in kib.items() if not role.startswith("_"))
        st = (storm.get(t) or {}).get("connect", {}).get("per_s")
        L.append(f"| {NAMES[t]} | {num(fan_best[t])} | "
                 f"{num(rooms_best) if t == 'ours' else 'n/a (no rooms)'} | {kib_s} | {num(st)} |")
    L.append("")

    png = plot(a.out, [(NAMES[t] + " fan-out",
                        [(r["messages"]["deliveries_per_s"], r["latency_ms"]["delivery"]["p99"])
                         for _, r in fan[t]]) for t in targets] +
               [(NAMES["ours"] + " rooms",
                 [(r["messages"]["deliveries_per_s"], r["latency_ms"]["delivery"]["p99"])
                  for _, r in rooms])], limit)
    if png:
        L.append(f"![p99 delivery latency against delivered messages/s]({png})\n")

    for t in targets:
        if fan[t]:
            L.append(f"### Fan-out steps: {NAMES[t]}\n\nstep = messages/s sent in all\n")
            L.append(STEP_HEAD)
            L += [step_row(s, r, limit, "msg/s") for s, r in fan[t]]
            L.append("")
    if rooms:
        L.append("### Rooms steps: " + NAMES["ours"] + "\n\nstep = messages/s per room\n")
        L.append(STEP_HEAD)
        L += [step_row(s, r, limit, "msg/s") for s, r in rooms]
        L.append("")

    L.append("### Idle connections: resident memory (VmRSS)\n")
    L.append("| target | process | before KiB | after KiB | KiB per connection |\n|---|---|---|---|---|")
    for t in targets:
        for role, v in (idle.get(t) or {}).items():
            if role.startswith("_"):
                continue
            L.append(f"| {NAMES[t]} | {role} (all) | {num(v['before_kb'])} | {num(v['after_kb'])} "
                     f"| {v['kib_per_conn']:.2f} |")
    L.append(f"\n{a.idle_conns:,} connections held idle (chat: identified and joined, rooms "
             "of 10); memory read 2 s after the last one was ready.\n")

    L.append("### Connect storm\n")
    L.append("| target | ready | failed | connections/s | connect p50 ms | p99 ms | chat-bench CPU |"
             "\n|---|---|---|---|---|---|---|")
    for t in targets:
        r = storm.get(t)
        if not r or "connect" not in r:
            continue
        c = r["connect"]
        L.append(f"| {NAMES[t]} | {num(c['ready'])} | {num(c['failed'])} | {num(c['per_s'])} | "
                 f"{c['latency_ms']['p50']:.1f} | {c['latency_ms']['p99']:.1f} | "
                 f"{r['cpu']['window']['percent_of_core']:.0f}% |")
    L.append(f"\n{a.storm_conns:,} connections, 1,000 handshakes in flight at most; chat: "
             "connect + hello + join, socket.io: connect + namespace handshake.\n")

    if broker_rate:
        L.append("### Broker alone\n")
        L.append("history-bench: two fake gateways over ZeroMQ, 100 sessions each alone in a "
                 "room, 5,000 commands in flight; committed msg commands per second.\n")
        L.append("| history | commands/s |\n|---|---|")
        L += [f"| {m} | {num(v)} |" for m, v in broker_rate.items()]
        L.append("")

    with open(a.out + ".md", "w") as f:
        f.write("\n".join(L) + "\n")
    everything = {
        "made": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": a.machine,
        "quick": bool(a.quick), "targets": [dict(zip(("what", "want", "measured", "result"), r))
                                           for r in rows],
        "fanout": {t: [r for _, r in fan[t]] for t in targets}, "rooms": [r for _, r in rooms],
        "idle": idle, "storm": storm, "broker": broker,
    }
    with open(a.out + ".json", "w") as f:
        json.dump(everything, f, indent=1)
    for w, want, got, v in rows:
        print(f"{v:>12}  {w}: {got} (want {want})")


if __name__ == "__main__":
    main()
