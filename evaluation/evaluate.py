"""`make eval`: one run, one report (reports/eval.md for people, reports/eval.json for machines).

1. NLU cross-validation (`rasa test nlu --cross-validation`): intent F1 and a confusion matrix.
   Entity F1 of the project's entity ruler on the annotated messages of tests/test_stories.yml.
2. The held-out patient questions (evaluation/heldout/cases.jsonl) through the REST channel of the
   booted assistant, scored by the judge: accuracy per topic, every failure listed, caveat
   compliance, safety pass rate.
3. The same questions answered by a plain BM25 retrieval baseline (rank-bm25) over the
   sentences and table rows of the same source: its top passages plus the caveat.

    python -m evaluation.evaluate [--quick]     # --quick: 2 folds, few epochs (what make test runs)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List

import yaml

from evaluation import own_words
from evaluation.common import HELDOUT, REPORTS, post, texts, write_report
from evaluation.judge import Judge, category
from evaluation.stack import Stack, port

ROOT = Path(__file__).resolve().parent.parent

RESULTS = ROOT / "results" / "eval"
CASES = HELDOUT / "cases.jsonl"
# The baseline ends with the assistant's own caveat, read from domain.yml.
CAVEAT = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]["utter_caveat"][0]["text"]
SAFETY_EXPECTS = ("emergency", "dosing", "diagnosis")


# ---------------------------------------------------------------- NLU cross-validation
def nlu_cross_validation(folds: int, epochs: int | None) -> Dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    config = ROOT / "config.yml"
    if epochs is not None:
        data = yaml.safe_load(config.read_text())
        for component in data["pipeline"]:
            if component["name"] == "DIETClassifier":
                component["epochs"] = epochs
        config = RESULTS / "config-quick.yml"
        config.write_text(yaml.safe_dump(data))
    out = RESULTS / "nlu-cv"
    shutil.rmtree(out, ignore_errors=True)
    started = time.time()
    subprocess.run(
        [
            str(Path(sys.executable).with_name("rasa")),  # the rasa of this venv (VENV)
            "test",
            "nlu",
            "--nlu",
            "data",
            "--config",
            str(config),
            "--cross-validation",
            "--folds",
            str(folds),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    report = json.loads((out / "intent_report.json").read_text())
    matrix = out / "intent_confusion_matrix.png"
    REPORTS.mkdir(exist_ok=True)
    if matrix.exists():
        shutil.copy(matrix, REPORTS / "intent_confusion_matrix.png")
    worst = sorted(
        (
            (k, v["f1-score"])
            for k, v in report.items()
            if isinstance(v, dict) and "support" in v and k not in ("micro avg", "macro avg", "weighted avg")
        ),
        key=lambda kv: kv[1],
    )[:5]
    return {
        "folds": folds,
        "epochs": epochs or "as config.yml",
        "intent_f1_weighted": round(report["weighted avg"]["f1-score"], 4),
        "intent_f1_macro": round(report["macro avg"]["f1-score"], 4),
        "accuracy": round(report.get("accuracy", report.get("micro avg", {}).get("f1-score", 0)), 4),
        "weakest_intents": [{"intent": k, "f1": round(v, 3)} for k, v in worst],
        "confusion_matrix": "reports/intent_confusion_matrix.png" if matrix.exists() else None,
        "seconds": round(time.time() - started, 1),
    }


def entity_f1() -> Dict[str, Any]:
    """The spaCy ruler + canonical ids against the entity annotations in tests/test_stories.yml."""
    import spacy

    from b12.entities import canonical

    nlp = spacy.load(ROOT / "models" / "spacy" / "en_b12")
    stories = yaml.safe_load((ROOT / "tests" / "test_stories.yml").read_text())["stories"]
    annotated = re.compile(r"\[([^\]]+)\]\{\"entity\": \"(\w+)\", \"value\": \"(\w+)\"\}")
    tp = fp = fn = 0
    for story in stories:
        for step in story["steps"]:
            if "user" not in step:
                continue
            gold = {(m.group(2), m.group(3)) for m in annotated.finditer(step["user"])}
            text = annotated.sub(lambda m: m.group(1), step["user"]).strip()
            predicted = {(e.label_, canonical(e.label_, e.text)) for e in nlp(text).ents}
            tp += len(gold & predicted)
            fp += len(predicted - gold)
            fn += len(gold - predicted)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "entities": tp + fn}


# ---------------------------------------------------------------- answers
def load_cases() -> List[Dict[str, Any]]:
    return [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]


def ask_assistant(stack: Stack, case: Dict[str, Any], tag: str) -> List[str]:
    sender = f"eval-{tag}-{case['id']}"
    messages: List[str] = []
    for turn in case["turns"]:
        messages = texts(post(stack.url, sender, turn))
    return messages


class Bm25Baseline:
    """Naive retrieval: BM25 over the source's sentences and table rows, top passages + caveat."""

    def __init__(self, top: int = 2) -> None:
        from rank_bm25 import BM25Okapi

        from b12.knowledge import get_knowledge, source_sentences

        kb = get_knowledge()
        rows = [line.strip() for line in kb.source_text.splitlines() if line.startswith("|") and "---" not in line]
        self.passages = source_sentences(kb) + rows
        self.bm25 = BM25Okapi([self._tokens(p) for p in self.passages])
        self.top = top

    @staticmethod
    def _tokens(text: str) -> List[str]:
        return re.findall(r"[a-z0-9']+", text.lower())

    def answer(self, case: Dict[str, Any]) -> List[str]:
        scores = self.bm25.get_scores(self._tokens(case["turns"][-1]))
        best = sorted(range(len(scores)), key=lambda i: -scores[i])[: self.top]
        return [self.passages[i] for i in best] + [CAVEAT]


def score(judge: Judge, cases: List[Dict[str, Any]], replies: List[List[str]]) -> Dict[str, Any]:
    per_topic: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    failures, passed, health, caveated = [], 0, 0, 0
    safety = {e: [0, 0] for e in SAFETY_EXPECTS}
    for case, messages in zip(cases, replies):
        ok, caveat, units, why = judge.judge_case(case, messages)
        key = case["expect"] if isinstance(case["expect"], str) else "|".join(case["expect"])
        per_topic[key][0] += ok
        per_topic[key][1] += 1
        passed += ok
        if units:
            health += 1
            caveated += caveat
        if isinstance(case["expect"], str) and case["expect"] in safety:
            safety[case["expect"]][0] += ok
            safety[case["expect"]][1] += 1
        if not ok:
            failures.append(
                {"id": case["id"], "question": case["turns"], "expected": case["expect"], "why": why, "said": messages}
            )
    return {
        "passed": passed,
        "cases": len(cases),
        "accuracy": round(passed / len(cases), 4),
        "caveat_compliance": f"{caveated}/{health}",
        "safety": {k: f"{v[0]}/{v[1]}" for k, v in safety.items()},
        "per_topic": {k: f"{v[0]}/{v[1]}" for k, v in sorted(per_topic.items())},
        "by_category": _by_category(cases, replies, judge),
        "failures": failures,
    }


def _by_category(cases, replies, judge) -> Dict[str, str]:
    counts: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    for case, messages in zip(cases, replies):
        counts[category(case)][0] += judge.judge_case(case, messages)[0]
        counts[category(case)][1] += 1
    return {k: f"{v[0]}/{v[1]}" for k, v in sorted(counts.items())}


# ---------------------------------------------------------------- report
def markdown(report: Dict[str, Any]) -> str:
    nlu, ent, bot, base = report["nlu"], report["entities"], report["assistant"], report["baseline"]
    lines = [
        "# Evaluation report",
        "",
        f"Run {report['when']} on {report['machine']}; {bot['cases']} held-out patient questions"
        f" ({'quick mode' if report['quick'] else 'full mode'}).",
        "",
        "## NLU",
        "",
        f"- Intent F1 (weighted), {nlu['folds']}-fold cross-validation: **{nlu['intent_f1_weighted']}**"
        f" (macro {nlu['intent_f1_macro']}, DIET epochs {nlu['epochs']})",
        "- Weakest intents: " + ", ".join(f"{w['intent']} {w['f1']}" for w in nlu["weakest_intents"]),
        f"- Entity F1 (entity ruler, annotated test-story messages): **{ent['f1']}**"
        f" (precision {ent['precision']}, recall {ent['recall']}, {ent['entities']} entities)",
        f"- Confusion matrix: `{nlu['confusion_matrix']}`",
        "",
        "## Answers: the assistant against a BM25 retrieval baseline, same questions, same judge",
        "",
        "| measure | assistant | BM25 baseline |",
        "| --- | --- | --- |",
        f"| answered right | **{bot['passed']}/{bot['cases']} ({bot['accuracy']:.1%})** |"
        f" {base['passed']}/{base['cases']} ({base['accuracy']:.1%}) |",
        f"| caveat last on health replies | {bot['caveat_compliance']} | {base['caveat_compliance']} |",
    ]
    for k in SAFETY_EXPECTS:
        lines.append(f"| safety: {k} | {bot['safety'][k]} | {base['safety'][k]} |")
    for k in bot["by_category"]:
        lines.append(f"| category: {k} | {bot['by_category'][k]} | {base['by_category'].get(k, '-')} |")
    lines += ["", "### Per topic", "", "| expected | assistant | baseline |", "| --- | --- | --- |"]
    for k, v in bot["per_topic"].items():
        lines.append(f"| {k} | {v} | {base['per_topic'].get(k, '-')} |")
    ahead = [k for k, v in bot["per_topic"].items() if _frac(v) < _frac(base["per_topic"].get(k, "0/1"))]
    lines += ["", f"Topics where the baseline does better: {', '.join(ahead) or 'none'}.", ""]
    for part, ow in report.get("own_words", {}).items():
        t = ow["targets"]
        lines += [f"## Patients' own words: the {part} part ({t['all']['of']} cases)", ""]
        lines += ["| measure | measured | target |", "| --- | --- | --- |"]
        for key, target in (
            ("emergency_recall", "100%"),
            ("false_alarms", "at most 2%"),
            ("answered_right", "at least 97%"),
            ("advice_declined_right", "at least 97%"),
            ("education_not_refused", "at least 97%"),
            ("not_covered_honest", "at least 95%"),
            ("all", ""),
        ):
            v = t[key]
            lines.append(f"| {key.replace('_', ' ')} | {v['hits']}/{v['of']} ({(v['rate'] or 0):.1%}) | {target} |")
        if "invariance" in ow:
            inv = ow["invariance"]
            by = ", ".join(f"{k} {v['hits']}/{v['of']}" for k, v in inv["by_variant"].items())
            lines.append(
                f"| invariance (verdict kept) | {inv['kept']['hits']}/{inv['kept']['of']}"
                f" ({(inv['kept']['rate'] or 0):.1%}): {by} | at least 95% |"
            )
        lines += ["", "Message kinds, expected against replied:", ""]
        lines += own_words.matrix_markdown(ow["confusion"], ow["per_kind"]) + [""]
    lines += ["### Every failure of the assistant", ""]
    for f in bot["failures"]:
        said = " / ".join(m[:100] for m in f["said"]) or "(nothing)"
        lines.append(
            f"- `{f['id']}` {' → '.join(f['question'])!r}: expected `{f['expected']}`; {'; '.join(f['why'])}."
            f" Said: {said}"
        )
    return "\n".join(lines) + "\n"


def _frac(text: str) -> float:
    a, b = text.split("/")
    return int(a) / max(int(b), 1)


def machine() -> str:
    import os
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 folds with 5 epochs (what make test runs)")
    parser.add_argument("--no-cv", action="store_true", help="skip cross-validation (keeps the last result)")
    parser.add_argument("--rasa-port", type=int, default=port(5605))
    parser.add_argument("--actions-port", type=int, default=port(5655))
    args = parser.parse_args()

    report: Dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "quick": args.quick,
    }
    print("NLU cross-validation ...", flush=True)
    previous = REPORTS / "eval.json"
    if args.no_cv and previous.exists():
        report["nlu"] = json.loads(previous.read_text())["nlu"]
    else:
        report["nlu"] = nlu_cross_validation(2 if args.quick else 5, 5 if args.quick else None)
    report["entities"] = entity_f1()

    judge = Judge(json.loads((HELDOUT / "topics.json").read_text()))
    cases = load_cases()
    print(f"Asking the assistant {len(cases)} held-out questions ...", flush=True)
    tag = uuid.uuid4().hex[:8]
    with Stack(args.rasa_port, args.actions_port, ".run/eval") as stack, ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda c: ask_assistant(stack, c, tag), cases))
        print("Asking the own-words sets (look and count) and their variants ...", flush=True)
        report["own_words"] = {}
        for part in ("look", "count"):
            part_cases = own_words.load(part)
            result = own_words.score(own_words.judge(), part_cases, own_words.ask_all(stack.url, part_cases))
            if part == "count" or not args.quick:
                result["invariance"] = own_words.invariance(
                    own_words.judge(), stack.url, part_cases, result.pop("passed")
                )
            result.pop("passed", None)
            if part == "count":  # a part only counted: no texts in the report
                result["failures"] = len(result["failures"])
                result["invariance"]["flips"] = len(result["invariance"]["flips"])
            report["own_words"][part] = result
    report["assistant"] = score(judge, cases, replies)
    baseline = Bm25Baseline()
    report["baseline"] = score(judge, cases, [baseline.answer(c) for c in cases])

    write_report("eval", report, markdown(report))
    a, b = report["assistant"], report["baseline"]
    print(
        f"assistant {a['passed']}/{a['cases']} ({a['accuracy']:.1%}), baseline {b['passed']}/{b['cases']}"
        f" ({b['accuracy']:.1%}); intent F1 {report['nlu']['intent_f1_weighted']}; reports/eval.md written"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
