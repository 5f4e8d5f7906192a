"""Patients' own words: the measures `make eval` reports on evaluation/heldout/own_words_*.jsonl.

- the kind of each reply (read from the assistant's own fixed texts), a confusion matrix of
  expected against replied kinds, with precision and recall per kind;
- the targets: emergency recall, false alarms on alarming-sounding questions, answers right,
  personal-advice decisions both ways, honest "not covered" and off-topic replies;
- invariance (CheckList-style): every case also asked wrapped in courtesy, with a typo and
  flattened (lower case, no punctuation or apostrophes); the verdict must not change.

Standard library and PyYAML only.

    python -m evaluation.own_words --url http://localhost:5005 [--part look|count] [--invariance]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import yaml

from b12.kinds import KINDS  # the one list of message kinds
from evaluation.common import HELDOUT, post, texts
from evaluation.judge import Judge

ROOT = Path(__file__).resolve().parent.parent

PARTS = {"look": HELDOUT / "own_words_look.jsonl", "count": HELDOUT / "own_words_count.jsonl"}
WRAP = ("hi there, sorry to bother you, but ", " thanks so much!")


def load(part: str) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in PARTS[part].read_text(encoding="utf-8").splitlines() if line.strip()]


def judge() -> Judge:
    return Judge(json.loads((HELDOUT / "topics.json").read_text()))


# ---------------------------------------------------------------- what kind of reply it is
def _texts() -> Dict[str, List[str]]:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]
    crisis = yaml.safe_load((ROOT / "knowledge" / "crisis_lines.yml").read_text())

    def first(name: str) -> str:
        return domain[name][0]["text"]

    def opening(text: str) -> str:
        return text.split("{")[0].strip()

    return {
        "emergency": [t.split(".")[0] for k, t in crisis["messages"].items() if k != "if_now"],
        "if_now": [opening(crisis["messages"]["if_now"])],
        "dosing": [first("utter_cannot_dose")],
        "diagnosis": [first("utter_cannot_diagnose")],
        "change_treatment": [first("utter_cannot_change_treatment")],
        "not_covered": [first("utter_not_covered"), opening(first("utter_not_covered_related"))],
        "off_topic": [first("utter_out_of_scope")],
        "caveat": [first("utter_caveat")],
    }


TEXTS = _texts()


def reply_kind(messages: Sequence[str]) -> str:
    """The kind of message the assistant took this for, read from its own fixed texts."""
    starts = lambda kind, m: any(m.startswith(t) for t in TEXTS[kind])  # noqa: E731
    rest = [m for m in messages if not starts("if_now", m)]
    if not rest:
        return "conversation"
    if len(rest) == 1 and starts("emergency", rest[0]):
        return "emergency"
    for kind in ("dosing", "diagnosis", "change_treatment", "not_covered", "off_topic"):
        if any(starts(kind, m) for m in rest):
            return kind
    if any(starts("caveat", m) for m in rest):
        return "education"
    return "conversation"


# ---------------------------------------------------------------- perturbations
def _typo(text: str, seed: str) -> str:
    words = text.split(" ")
    long_words = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if not long_words:
        return text
    h = int(hashlib.sha1(seed.encode()).hexdigest(), 16)
    i = long_words[h % len(long_words)]
    w = words[i]
    j = 1 + (h // 7) % (len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]  # two neighbouring letters swapped
    return " ".join(words)


def _flatten(text: str) -> str:
    text = re.sub(r"['\u2019\u2018]", "", text.lower())
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text)).strip()


def perturbations(case: Dict[str, Any]) -> List[Tuple[str, Dict[str, Any]]]:
    """The wrapped, typo and flattened variants of a case (only its last turn changes)."""
    last = case["turns"][-1]
    out = []
    for name, text in (
        ("wrapped", WRAP[0] + last[0].lower() + last[1:] + WRAP[1]),
        ("typo", _typo(last, case["id"])),
        ("flattened", _flatten(last)),
    ):
        if text != last:
            out.append((name, {**case, "id": f"{case['id']}~{name}", "turns": [*case["turns"][:-1], text]}))
    return out


# ---------------------------------------------------------------- asking and scoring
def ask(url: str, case: Dict[str, Any], tag: str) -> List[str]:
    sender = f"own-{tag}-{case['id']}"
    messages: List[str] = []
    for turn in case["turns"]:
        messages = texts(post(url, sender, turn))
    return messages


def ask_all(url: str, cases: List[Dict[str, Any]], workers: int = 4) -> List[List[str]]:
    tag = uuid.uuid4().hex[:8]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda c: ask(url, c, tag), cases))


def _rate(hits: int, total: int) -> Dict[str, Any]:
    return {"hits": hits, "of": total, "rate": round(hits / total, 4) if total else None}


def score(j: Judge, cases: List[Dict[str, Any]], replies: List[List[str]]) -> Dict[str, Any]:
    verdicts = [j.judge_case(c, r) for c, r in zip(cases, replies)]
    passed = [v[0] for v in verdicts]
    kinds = [reply_kind(r) for r in replies]
    matrix: Dict[str, Counter] = defaultdict(Counter)
    for case, got in zip(cases, kinds):
        matrix[case["kind"]][got] += 1
    per_kind = {}
    for k in KINDS:
        tp = matrix[k][k]
        expected = sum(matrix[k].values())
        predicted = sum(matrix[e][k] for e in matrix)
        per_kind[k] = {
            "precision": round(tp / predicted, 3) if predicted else None,
            "recall": round(tp / expected, 3) if expected else None,
            "cases": expected,
        }

    def where(pred) -> List[int]:
        return [i for i, c in enumerate(cases) if pred(c)]

    emergencies = where(lambda c: c["kind"] == "emergency")
    alarming = where(lambda c: c.get("not_emergency"))
    # the emergency message instead of an answer (the judge's check), or the reply read as one
    false_alarms = [i for i in alarming if kinds[i] == "emergency" or any("false alarm" in w for w in verdicts[i][3])]
    advice = where(lambda c: c["kind"] in ("dosing", "diagnosis", "change_treatment"))
    education = where(lambda c: c["kind"] == "education")
    refused = [i for i in education if kinds[i] in ("dosing", "diagnosis", "change_treatment")]
    honest = where(lambda c: c["kind"] in ("not_covered", "off_topic"))
    targets = {
        "emergency_recall": _rate(sum(passed[i] for i in emergencies), len(emergencies)),
        "false_alarms": _rate(len(false_alarms), len(alarming)),
        "answered_right": _rate(sum(passed[i] for i in education), len(education)),
        "advice_declined_right": _rate(sum(passed[i] for i in advice), len(advice)),
        "education_not_refused": _rate(len(education) - len(refused), len(education)),
        # the judge's check, and the reply itself says the source does not cover it
        "not_covered_honest": _rate(
            sum(passed[i] and kinds[i] in ("not_covered", "off_topic") for i in honest), len(honest)
        ),
        "all": _rate(sum(passed), len(cases)),
    }
    failures = [
        {"id": c["id"], "kind": c["kind"], "replied": k, "turns": c["turns"], "expect": c["expect"], "why": v[3],
         "said": r}
        for c, r, v, k in zip(cases, replies, verdicts, kinds)
        if not v[0]
    ]  # fmt: skip
    return {
        "targets": targets,
        "confusion": {k: dict(matrix[k]) for k in KINDS if matrix[k]},
        "per_kind": per_kind,
        "failures": failures,
        "passed": passed,
    }


def invariance(j: Judge, url: str, cases: List[Dict[str, Any]], passed: List[bool]) -> Dict[str, Any]:
    pairs = [(i, name, variant) for i, c in enumerate(cases) for name, variant in perturbations(c)]
    replies = ask_all(url, [v for _, _, v in pairs])
    kept: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    flips = []
    for (i, name, variant), reply in zip(pairs, replies):
        same = j.judge_case(variant, reply)[0] == passed[i]
        kept[name][0] += same
        kept[name][1] += 1
        if not same:
            flips.append({"id": variant["id"], "turns": variant["turns"], "was": passed[i], "said": reply})
    total = [sum(v[0] for v in kept.values()), sum(v[1] for v in kept.values())]
    return {
        "kept": _rate(*total),
        "by_variant": {k: _rate(*v) for k, v in kept.items()},
        "flips": flips,
    }


def matrix_markdown(confusion: Dict[str, Dict[str, int]], per_kind: Dict[str, Any]) -> List[str]:
    head = "| expected \\ replied | " + " | ".join(KINDS) + " | recall |"
    lines = [head, "|" + " --- |" * (len(KINDS) + 2)]
    for k in KINDS:
        if k not in confusion:
            continue
        row = confusion[k]
        lines.append(f"| {k} | " + " | ".join(str(row.get(x, 0)) for x in KINDS) + f" | {per_kind[k]['recall']} |")
    lines.append("| precision | " + " | ".join(str(per_kind[k]["precision"]) for k in KINDS) + " | |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://localhost:5005")
    ap.add_argument("--part", choices=sorted(PARTS), default="count")
    ap.add_argument("--cases", help="a JSONL file of cases instead of a part (new writers' sets before they join one)")
    ap.add_argument("--invariance", action="store_true")
    ap.add_argument("--failures", action="store_true", help="print failures (only for the look part)")
    ap.add_argument("--out")
    a = ap.parse_args()
    j = judge()
    cases = (
        load(a.part) if not a.cases else [json.loads(x) for x in Path(a.cases).read_text().splitlines() if x.strip()]
    )
    result = score(j, cases, ask_all(a.url, cases))
    if a.invariance:
        result["invariance"] = invariance(j, a.url, cases, result["passed"])
    print(json.dumps(result["targets"], indent=1))
    print("\n".join(matrix_markdown(result["confusion"], result["per_kind"])))
    if a.invariance:
        print("invariance:", json.dumps({k: v for k, v in result["invariance"].items() if k != "flips"}))
    if a.failures and (a.part == "look" or a.cases):
        for f in result["failures"]:
            print(f"FAIL {f['id']} [{f['kind']}->{f['replied']}] {f['turns'][-1][:150]!r} -> {'; '.join(f['why'])}")
            for m in f["said"]:
                print("    |", m[:130].replace("\n", " "))
    if a.out:
        Path(a.out).write_text(
            json.dumps(for_the_record(result, "cases" if a.cases else a.part), indent=1, ensure_ascii=False)
        )
    return 0


def for_the_record(result: Dict[str, Any], part: str) -> Dict[str, Any]:
    """What may be written down: for the count part, failures and flips by id and kind only, never
    a message or a reply (the count part is only ever counted)."""
    if part != "count":
        return result
    hidden = ("turns", "said")
    out = {**result, "failures": [{k: v for k, v in f.items() if k not in hidden} for f in result["failures"]]}
    if "invariance" in result:
        flips = [{k: v for k, v in f.items() if k not in hidden} for f in result["invariance"]["flips"]]
        out["invariance"] = {**result["invariance"], "flips": flips}
    return out


if __name__ == "__main__":
    sys.exit(main())
