"""`make bench`: load-test the booted assistant over its REST channel, on localhost only.

Simulated patients hold multi-turn conversations drawn from the held-out questions, at
concurrency 1, 2, 4, 8 and 16. Every level is bounded in message count and in time.
Reports p50/p95/p99 latency, messages per second, errors, peak resident memory of the Rasa
server and the action server, model size, training time and cold start, and draws a chart.

    python -m evaluation.bench [--quick]      # --quick: levels 1 and 2, a few messages each
Writes reports/bench.md, reports/bench.json and reports/bench.png.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List

from evaluation.common import HELDOUT, REPORTS, memory_mb, percentile, post, store_failures, write_report
from evaluation.stack import Stack, port

ROOT = Path(__file__).resolve().parent.parent

MODEL = ROOT / "models" / "current.tar.gz"
TRAIN_SECONDS = ROOT / "models" / "train-seconds.txt"
TARGETS = {
    "train_s": 180,
    "cold_start_s": 15,
    "p50_1": 30,
    "p95_1": 60,
    "mps_8": 60,
    "p95_8": 250,
    "rasa_mb": 1024,
    "actions_mb": 150,
}


def conversations() -> List[List[str]]:
    """Patient conversations: the held-out cases' turns, without emergencies (they are one turn)."""
    cases = [json.loads(x) for x in (HELDOUT / "cases.jsonl").read_text().splitlines() if x.strip()]
    return [c["turns"] for c in cases if c["expect"] not in ("echo_safe",)]


def run_level(stack: Stack, users: int, max_messages: int, max_seconds: float, convs: List[List[str]]) -> Dict:
    latencies: List[float] = []
    errors = 0
    sent = 0
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    rng = random.Random(users)

    def patient(i: int) -> None:
        nonlocal errors, sent
        while time.monotonic() < deadline:
            turns = rng.choice(convs)
            sender = f"bench-{users}-{i}-{uuid.uuid4().hex[:6]}"
            for turn in turns:
                with lock:
                    if sent >= max_messages:
                        return
                    sent += 1
                try:
                    reply = post(stack.url, sender, turn, timeout=30)
                    ms = reply.ms
                    ok = reply.status == 200 and bool(reply.messages)
                except Exception:  # noqa: BLE001 - every failure counts as an error
                    ms, ok = 0.0, False
                with lock:
                    if ok:
                        latencies.append(ms)
                    else:
                        errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(users) as pool:
        list(pool.map(patient, range(users)))
    wall = time.perf_counter() - started
    return {
        "users": users,
        "messages": len(latencies) + errors,
        "errors": errors,
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "msgs_per_s": round(len(latencies) / wall, 1) if wall else 0.0,
        "seconds": round(wall, 1),
    }


def cold_start(stack: Stack) -> float:
    """Seconds from starting both servers to the first answer."""
    stack.stop()
    started = time.perf_counter()
    stack.start()
    while True:
        try:
            reply = post(stack.url, "bench-cold", "what is pernicious anemia?", timeout=30).messages
            if reply:
                return time.perf_counter() - started
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if time.perf_counter() - started > 180:
            raise RuntimeError("the assistant did not answer within 180 s")
        time.sleep(0.1)


def chart(levels: List[Dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    users = [lv["users"] for lv in levels]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(users, [lv["p50_ms"] for lv in levels], "o-", label="p50 latency")
    left.plot(users, [lv["p95_ms"] for lv in levels], "s--", label="p95 latency")
    left.set_xlabel("concurrent patients")
    left.set_ylabel("latency (ms)")
    left.set_xscale("log", base=2)
    right = left.twinx()
    right.plot(users, [lv["msgs_per_s"] for lv in levels], "^-", color="tab:green", label="messages/s")
    right.set_ylabel("messages per second")
    lines = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    left.legend(lines, labels, loc="upper left")
    left.set_title("B12 assistant: latency and throughput against concurrency")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(report: Dict[str, Any]) -> str:
    t = TARGETS
    one = next((lv for lv in report["levels"] if lv["users"] == 1), None)
    eight = next((lv for lv in report["levels"] if lv["users"] == 8), None)

    def row(name: str, value: Any, target: str, ok: bool | None) -> str:
        mark = "n/a" if ok is None else ("met" if ok else "**missed**")
        return f"| {name} | {value} | {target} | {mark} |"

    train = report["train_seconds"]
    lines = [
        "# Benchmark report",
        "",
        f"Run {report['when']} on {report['machine']} ({'quick mode' if report['quick'] else 'full mode'}),"
        " REST channel on localhost.",
        "",
        "| figure | measured | target | |",
        "| --- | --- | --- | --- |",
        row(
            "`rasa train` from clean",
            f"{train} s" if train else "not recorded",
            f"≤ {t['train_s']} s",
            None if train is None else train <= t["train_s"],
        ),
        row(
            "cold start to first answer",
            f"{report['cold_start_s']} s",
            f"≤ {t['cold_start_s']} s",
            report["cold_start_s"] <= t["cold_start_s"],
        ),
    ]
    if one:
        lines.append(
            row(
                "1 user p50 / p95",
                f"{one['p50_ms']} / {one['p95_ms']} ms",
                f"≤ {t['p50_1']} / {t['p95_1']} ms",
                one["p50_ms"] <= t["p50_1"] and one["p95_ms"] <= t["p95_1"],
            )
        )
    if eight:
        lines.append(
            row(
                "8 users msgs/s, p95, errors",
                f"{eight['msgs_per_s']}/s, {eight['p95_ms']} ms, {eight['errors']}",
                f"≥ {t['mps_8']}/s, ≤ {t['p95_8']} ms, 0",
                eight["msgs_per_s"] >= t["mps_8"] and eight["p95_ms"] <= t["p95_8"] and eight["errors"] == 0,
            )
        )
    if report.get("store_failures") is not None:
        f = report["store_failures"]
        ok = f["save"] == f["retrieve"] == 0
        lines.append(row("tracker store failures (saves, reads)", f"{f['save']}, {f['retrieve']}", "0, 0", ok))
    if report.get("worst_case"):
        w = report["worst_case"]
        lines.append(
            row("worst-case message (hostile 10,000 chars)", f"{w['max_ms']} ms", "< 1000 ms", w["max_ms"] < 1000)
        )
    lines += [
        row(
            "Rasa server peak memory",
            f"{report['rasa_peak_mb']:.0f} MB",
            f"≤ {t['rasa_mb']} MB",
            report["rasa_peak_mb"] <= t["rasa_mb"],
        ),
        row(
            "action server peak memory",
            f"{report['actions_peak_mb']:.0f} MB",
            f"≤ {t['actions_mb']} MB",
            report["actions_peak_mb"] <= t["actions_mb"],
        ),
        f"| model size | {report['model_mb']:.1f} MB | | |",
        "",
        "| patients | messages | errors | p50 ms | p95 ms | p99 ms | msgs/s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lv in report["levels"]:
        lines.append(
            f"| {lv['users']} | {lv['messages']} | {lv['errors']} | {lv['p50_ms']} | {lv['p95_ms']} |"
            f" {lv['p99_ms']} | {lv['msgs_per_s']} |"
        )
    if report.get("before"):
        lines += [
            "",
            "Before and after, same run: the same levels with the runtime speed fixes switched off",
            "(`SPEED_FIXES=0`: Rasa's own SQL tracker store, jsonschema checks and action server sessions).",
            "",
            "| patients | fixes | p50 ms | p95 ms | msgs/s | errors |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        after = {lv["users"]: lv for lv in report["levels"]}
        for lv in report["before"]:
            for label, x in (("off (before)", lv), ("on (after)", after.get(lv["users"]))):
                if x:
                    cells = (x["users"], label, x["p50_ms"], x["p95_ms"], x["msgs_per_s"], x["errors"])
                    lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", "![latency and throughput](bench.png)", ""]
    return "\n".join(lines)


def worst_case(stack: Stack) -> Dict[str, Any]:
    """The slowest reply to a hostile 10,000-character message (evaluation/hostile.py), over REST."""
    from evaluation.hostile import HOSTILE

    times = []
    for i, text in enumerate(HOSTILE):
        ms = post(stack.url, f"bench-hostile-{i}", text[:10000]).ms
        times.append((round(ms, 1), i))
    worst = max(times)
    return {"max_ms": worst[0], "shape": f"shape{worst[1]}", "shapes": len(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rasa-port", type=int, default=port(5705))
    parser.add_argument("--actions-port", type=int, default=port(5755))
    args = parser.parse_args()
    levels = [1, 2] if args.quick else [1, 2, 4, 8, 16]
    max_messages = 20 if args.quick else 400
    max_seconds = 15 if args.quick else 60

    import os
    import platform

    stack = Stack(args.rasa_port, args.actions_port, ".run/bench")
    convs = conversations()
    report: Dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "quick": args.quick,
        "train_seconds": float(TRAIN_SECONDS.read_text()) if TRAIN_SECONDS.exists() else None,
        "model_mb": MODEL.stat().st_size / 1e6,
    }
    try:
        report["cold_start_s"] = round(cold_start(stack), 1)
        post(stack.url, "bench-warm", "hi")
        report["levels"] = []
        for users in levels:
            result = run_level(stack, users, max_messages, max_seconds, convs)
            report["levels"].append(result)
            print(
                f"{users:>2} patients: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
                f"{result['msgs_per_s']} msg/s, {result['errors']} errors",
                flush=True,
            )
        report["worst_case"] = worst_case(stack)
        report["store_failures"] = store_failures(stack.url)
        print(f"worst-case message: {report['worst_case']['max_ms']} ms ({report['worst_case']['shape']})", flush=True)
        report["rasa_peak_mb"] = memory_mb(stack.pid("rasa"), "VmHWM") or 0.0
        report["actions_peak_mb"] = memory_mb(stack.pid("actions"), "VmHWM") or 0.0
    finally:
        stack.stop()
    # Before and after in the same run: the same levels with the runtime speed fixes off
    # (SPEED_FIXES=0: Rasa's own SQL tracker store, schema checks and action server sessions).
    before = Stack(args.rasa_port, args.actions_port, ".run/bench-before", env={"SPEED_FIXES": "0"})
    report["before"] = []
    try:
        before.start()
        post(before.url, "bench-warm", "hi")
        for users in [1, 8] if not args.quick else [1]:
            result = run_level(before, users, max_messages, max_seconds, convs)
            report["before"].append(result)
            print(
                f"{users:>2} patients, speed fixes off: p50 {result['p50_ms']} ms, {result['msgs_per_s']} msg/s",
                flush=True,
            )
    finally:
        before.stop()
    write_report("bench", report, markdown(report))
    chart(report["levels"], REPORTS / "bench.png")
    print("reports/bench.md written")
    return 0


if __name__ == "__main__":
    urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({})))
    sys.exit(main())
