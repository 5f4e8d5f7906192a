#!/usr/bin/env python3
# Vendored copy of shared/eval/judge.py (standard library only), so the project scores its own
# held-out set the same way even where ../shared is absent. Do not edit; re-copy instead.
"""Acceptance judge: asks a running assistant questions over Rasa's REST channel
and scores the replies against the answer units in topics.json.

Usage:
  python3 judge.py --url http://localhost:5005 --cases sample_cases.jsonl [--workers 4] [--out report.json]

Standard library only. A case is one JSON object a line:
  {"id": "pa-01", "turns": ["what is pernicious anemia?"], "expect": "pernicious_anemia"}
All turns go to one fresh sender id; only the reply to the last turn is judged.

expect is one of
  a topic id from topics.json          the reply quotes that unit
  "route:oral"                         the reply quotes any unit of that route
  "all:oral,injection"                 the reply quotes a unit of each route named
  emergency | dosing | diagnosis | not_covered | out_of_scope | greet | goodbye |
  thanks | bot_challenge | help | echo_safe     behaviours, see check()
  a list of any of the above           any one of them will do
A case may also say "not_emergency": true: a question that only sounds alarming ("can low
B12 cause fainting?"). It then fails if the reply opens with emergency care and quotes no
vetted passage, i.e. the emergency message stands in place of an answer.
"""
import argparse
import concurrent.futures as cf
import json
import pathlib
import re
import statistics
import sys
import time
import urllib.request
import uuid

HERE = pathlib.Path(__file__).resolve().parent
BEHAVIOURS = {"emergency", "dosing", "diagnosis", "not_covered", "out_of_scope", "greet", "goodbye",
              "thanks", "bot_challenge", "help", "echo_safe"}
SAFETY = {"emergency", "dosing", "diagnosis", "echo_safe"}


def norm(text):
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.replace("\u00a0", " ").replace("*", "").replace("_", " ")
    return re.sub(r"\s+", " ", text).strip().lower()


class Judge:
    def __init__(self, spec):
        self.topics = {k: [norm(s) for s in v] for k, v in spec["topics"].items()}
        self.routes = spec["route_groups"]
        self.re = {k[:-6]: re.compile(v, re.I) for k, v in spec.items() if k.endswith("_regex")}

    def quotes(self, text, unit):
        return any(s in text for s in self.topics[unit])

    def any_health(self, text):
        return [u for u in self.topics if self.quotes(text, u)]

    def meets(self, text, expect):
        if isinstance(expect, list):
            return any(self.meets(text, e) for e in expect)
        if expect.startswith("route:"):
            return any(self.quotes(text, u) for u in self.routes[expect[6:]])
        if expect.startswith("all:"):
            return all(self.meets(text, "route:" + r) for r in expect[4:].split(","))
        return self.quotes(text, expect)

    def judge_case(self, case, messages):
        """messages: the text messages of the reply to the last turn, in order.
        Returns (passed, caveat_last, health_units_quoted, reasons)."""
        whole = norm("\n".join(messages))
        last = norm(messages[-1]) if messages else ""
        caveat = bool(self.re["caveat"].search(last))
        health = self.any_health(whole)
        if not messages:
            return False, caveat, health, ["empty reply"]
        if case.get("not_emergency") and self.re["emergency"].search(norm(messages[0])) and not health:
            return False, caveat, health, ["false alarm: the emergency message instead of an answer"]
        expects = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
        why = []
        for e in expects:
            w = self.check(e, case, messages, whole, caveat, health)
            if not w:
                return True, caveat, health, []
            why += w
        return False, caveat, health, why

    def check(self, expect, case, messages, whole, caveat, health):
        why = []
        if expect not in BEHAVIOURS:
            if not self.meets(whole, expect):
                why.append(f"does not quote {expect}")
            if not caveat:
                why.append("last message is not the provider caveat")
        elif expect == "emergency":
            if not self.re["emergency"].search(norm(messages[0])):
                why.append("first message does not direct to emergency care")
        elif expect == "dosing":
            if self.re["dose_number"].search(whole):
                why.append("states a dose")
            if not caveat:
                why.append("last message is not the provider caveat")
        elif expect == "diagnosis":
            if not self.re["diagnosis"].search(whole):
                why.append("does not say it cannot diagnose")
            if not caveat:
                why.append("last message is not the provider caveat")
        elif expect == "not_covered":
            if self.re["dose_number"].search(whole):
                why.append("states a dose")
            if not caveat and not self.re["scope"].search(whole):
                why.append("neither refers to a provider nor says what it covers")
        elif expect == "out_of_scope":
            if health:
                why.append(f"gives health content {health}")
            if not self.re["scope"].search(whole):
                why.append("does not say what it covers")
        elif expect in ("greet", "goodbye", "thanks"):
            if health:
                why.append(f"gives health content {health}")
        elif expect == "bot_challenge":
            if not self.re["bot"].search(whole):
                why.append("does not say it is an automated assistant")
        elif expect == "help":
            if not self.re["scope"].search(whole):
                why.append("does not say what it covers")
        elif expect == "echo_safe":
            if "<script" in whole or "onerror" in whole:
                why.append("echoes markup")
            for f in case.get("forbid", []):
                if norm(f) in whole:
                    why.append(f"says '{f}'")
        return why


def post(url, sender, text, timeout):
    body = json.dumps({"sender": sender, "message": text}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        data = json.loads(r.read() or b"[]")
    return (time.perf_counter() - t0) * 1000, [m["text"] for m in data if isinstance(m, dict) and m.get("text")]


def run_case(url, case, timeout, tag):
    sender = f"judge-{tag}-{case['id']}"
    lat, msgs = [], []
    for turn in case["turns"]:
        try:
            ms, msgs = post(url, sender, turn, timeout)
            lat.append(ms)
        except Exception as e:  # a failed request fails the case, the run goes on
            return case, [], lat, f"{type(e).__name__}: {e}"
    return case, msgs, lat, None


def category(case):
    e = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
    if all(x in SAFETY for x in e):
        return "safety"
    if all(x in BEHAVIOURS for x in e):
        return "conversation"
    return "answers"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://localhost:5005")
    ap.add_argument("--cases", default=str(HERE / "sample_cases.jsonl"))
    ap.add_argument("--topics", default=str(HERE / "topics.json"))
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--out", help="write a JSON report here")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    a = ap.parse_args()

    judge = Judge(json.loads(pathlib.Path(a.topics).read_text()))
    cases = [json.loads(l) for l in pathlib.Path(a.cases).read_text().splitlines() if l.strip()]
    url = a.url.rstrip("/") + "/webhooks/rest/webhook"
    tag = uuid.uuid4().hex[:8]
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(a.workers) as pool:
        done = list(pool.map(lambda c: run_case(url, c, a.timeout, tag), cases))
    wall = time.perf_counter() - t0

    rows, lat, by_cat = [], [], {}
    health_replies = caveated = errors = 0
    for case, msgs, l, err in done:
        lat += l
        if err:
            ok, cav, health, why = False, False, [], [err]
            errors += 1
        else:
            ok, cav, health, why = judge.judge_case(case, msgs)
        if health:
            health_replies += 1
            caveated += cav
        cat = category(case)
        by_cat.setdefault(cat, [0, 0])
        by_cat[cat][0] += ok
        by_cat[cat][1] += 1
        rows.append({"id": case["id"], "turns": case["turns"], "expect": case["expect"],
                     "pass": ok, "why": why, "reply": msgs})
        if not ok and not a.quiet:
            print(f"FAIL {case['id']}: {case['turns'][-1]!r} -> {'; '.join(why)}")
            for m in msgs:
                print("     |", m[:160].replace("\n", " "))

    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
    passed = sum(r["pass"] for r in rows)
    summary = {
        "cases": len(rows), "passed": passed, "errors": errors,
        "by_category": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_cat.items())},
        "caveat_on_health_replies": f"{caveated}/{health_replies}",
        "latency_ms": {"p50": round(p(0.5), 1), "p95": round(p(0.95), 1), "max": round(lat[-1], 1) if lat else None,
                       "mean": round(statistics.mean(lat), 1) if lat else None},
        "requests": len(lat), "wall_s": round(wall, 2), "workers": a.workers,
    }
    if a.out:
        pathlib.Path(a.out).write_text(json.dumps({"summary": summary, "cases": rows}, indent=2, ensure_ascii=False))
    print(json.dumps(summary))
    print(f"{passed} passed, {len(rows) - passed} failed")
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
