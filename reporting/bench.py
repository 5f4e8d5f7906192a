"""How long make report takes over 10,000 conversations (make bench; --quick: 1,000 for make test).

    python -m reporting.bench [--quick] [--conversations N] [--keep FILE]

A seeded generator (the same database every run) writes N conversations over 30 days into a new
SQLite file, in Rasa's `events` table as Rasa's SQLTrackerStore lays it out (the same columns and
index, the same JSON per event: sessions, user turns with parse_data, bot replies, `last_answer`
and `feedback` slots), with names, phone numbers and emails in the questions. Then it times the
whole report (read, count, scrub, group, render, write) and writes reports/report-bench.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List

from reporting import REPORTS, build_report, write_report

UNTIL = date(2026, 11, 30)
DAYS = 30
SEED = 12
KINDS = [  # (kind, intent, share of user turns)
    ("education", "ask_topic", 0.55),
    ("not_covered", "ask_topic", 0.15),
    ("education", "nlu_fallback", 0.04),
    ("off_topic", "out_of_scope", 0.06),
    ("emergency", "emergency", 0.03),
    ("dosing", "ask_dose", 0.04),
    ("diagnosis", "ask_diagnosis", 0.03),
    ("change_treatment", "ask_change", 0.01),
    ("conversation", "greet", 0.09),
]
TOPICS = ["pernicious_anemia", "feature:absorption", "route:oral", "route:injection", "celiac", "hashimoto", "crohns"]
QUESTIONS = [
    "can i drink coffee with my b12 tablets",
    "does b12 help with tinnitus",
    "is b12 safe during ivf treatment",
    "does b12 stop hair loss",
    "can b12 patches replace injections",
    "are b12 nasal sprays any good",
    "does alcohol lower b12 levels",
    "best time of day to take b12 tablets",
    "is nutritional yeast a proper source of b12 for vegans",
    "why do older people get low b12",
    "does metformin lower b12",
    "can b12 make acne worse",
    "is b12 linked to restless legs",
    "do b12 jabs hurt",
    "can my dog have b12",
    "does b12 help with jet lag",
    "is b12 ok with breastfeeding",
    "can b12 deficiency cause hearing loss",
    "does green tea block b12",
    "is methylcobalamin better than cyanocobalamin",
]
RARE = 0.3  # share of unanswered questions that are one person's own (the long tail: hidden groups)
DECORATIONS = [
    "{q}",
    "{q}?",
    "hi, {q}",
    "Hi, I'm {name}. {q}? call me on {phone}",
    "{q}, email me at {email}",
    "my daughter {name} wants to know: {q}",
    "{q} thanks, {name}",
]
NAMES = ["Maria Lopez", "Tom Baker", "Aisha Khan", "Wei Chen", "Olga Petrova", "Sam Jones", "Nia Adeyemi"]


def _ts(rng: random.Random) -> float:
    start = datetime.combine(UNTIL - timedelta(days=DAYS - 1), datetime.min.time(), tzinfo=timezone.utc).timestamp()
    return start + rng.random() * (DAYS * 86400 - 3600)


def _user(rng: random.Random, ts: float, kind: str, intent: str, channel: str) -> Dict:
    if kind == "not_covered" or intent == "nlu_fallback":
        if rng.random() < RARE:
            q = "what about " + " ".join("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=7)) for _ in range(2))
        else:
            q = QUESTIONS[min(int(rng.paretovariate(1.2)) - 1, len(QUESTIONS) - 1)]
        name = rng.choice(NAMES)
        text = rng.choice(DECORATIONS).format(
            q=q,
            name=name,
            phone=f"415-555-{rng.randrange(10000):04d}",
            email=f"{name.split()[0].lower()}@example.com",
        )
    elif kind == "emergency":
        text = "crushing chest pain right now, I'm " + rng.choice(NAMES)
    else:
        text = rng.choice(["what is pernicious anemia", "hello", "how much b12 should i take", "tell me a joke"])
    ranking = [{"name": intent, "confidence": 0.9}] + [{"name": f"intent_{i}", "confidence": 0.01} for i in range(9)]
    parse = {
        "intent": {"name": intent, "confidence": 0.9},
        "entities": [],
        "text": text,
        "message_id": f"{rng.getrandbits(128):032x}",
        "metadata": {},
        "text_tokens": [[i, i + 3] for i in range(0, len(text), 4)],
        "intent_ranking": ranking,
        "message_kind": kind,
    }
    if kind == "emergency":
        parse["emergency_category"] = "chest_pain"
    return {
        "event": "user",
        "timestamp": ts,
        "metadata": {"model_id": "bench", "assistant_id": "b12-autoimmunity"},
        "text": text,
        "parse_data": parse,
        "input_channel": channel,
        "message_id": parse["message_id"],
    }


def rows_of(rng: random.Random, n: int) -> List[Dict]:
    weights = [w for *_, w in KINDS]
    rows: List[Dict] = []
    for _ in range(n):
        channel = "slack" if rng.random() < 0.2 else "rest"
        sender = f"{channel}:{rng.getrandbits(64):016x}"
        ts = _ts(rng)

        def add(event: Dict, intent=None, action=None, sender=sender) -> None:
            rows.append(
                dict(
                    sender_id=sender,
                    type_name=event["event"],
                    timestamp=event["timestamp"],
                    intent_name=intent,
                    action_name=action,
                    data=json.dumps(event),
                )
            )

        meta = {"model_id": "bench", "assistant_id": "b12-autoimmunity"}
        add(
            {"event": "action", "timestamp": ts, "metadata": meta, "name": "action_session_start"},
            action="action_session_start",
        )
        add({"event": "session_started", "timestamp": ts + 0.01, "metadata": meta})
        add(
            {"event": "action", "timestamp": ts + 0.02, "metadata": meta, "name": "action_listen"},
            action="action_listen",
        )
        for _ in range(rng.randint(1, 5)):
            ts += rng.uniform(5, 120)
            kind, intent, _w = rng.choices(KINDS, weights)[0]
            add(_user(rng, ts, kind, intent, channel), intent=intent)
            add(
                {
                    "event": "bot",
                    "timestamp": ts + 0.5,
                    "metadata": {**meta, "utter_action": "utter_caveat"},
                    "text": "A reply.",
                    "data": {},
                }
            )
            if kind == "education" and intent != "nlu_fallback":
                topic = rng.choice(TOPICS)
                value = {"topic": topic, "passages": [f"{topic}_1"], "kind": kind}
                add(
                    {"event": "slot", "timestamp": ts + 0.6, "metadata": meta, "name": "last_answer", "value": value},
                    action="last_answer",
                )
                if rng.random() < 0.3:
                    vote = {"topic": topic, "passages": value["passages"], "helpful": rng.random() < 0.7}
                    add(
                        {"event": "slot", "timestamp": ts + 9, "metadata": meta, "name": "feedback", "value": vote},
                        action="feedback",
                    )
            add(
                {"event": "action", "timestamp": ts + 0.7, "metadata": meta, "name": "action_listen"},
                action="action_listen",
            )
    return rows


def make_database(db: Path, conversations: int) -> int:
    """A new SQLite tracker store at `db` with `conversations` seeded conversations; the rows written."""
    import sqlalchemy as sa

    metadata = sa.MetaData()
    events = sa.Table(  # Rasa's SQLTrackerStore.SQLEvent (tests/unit/test_report.py checks they match)
        "events",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(255), nullable=False, index=True),
        sa.Column("type_name", sa.String(255), nullable=False),
        sa.Column("timestamp", sa.Float),
        sa.Column("intent_name", sa.String(255)),
        sa.Column("action_name", sa.String(255)),
        sa.Column("data", sa.Text),
    )
    engine = sa.create_engine(f"sqlite:///{db}")
    metadata.create_all(engine)
    rows = rows_of(random.Random(SEED), conversations)
    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(events.insert(), rows[i : i + 5000])
    engine.dispose()
    return len(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reporting.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 conversations")
    parser.add_argument("--conversations", type=int)
    parser.add_argument("--keep", type=Path, help="keep the generated database at this path")
    args = parser.parse_args(argv)
    n = args.conversations or (1000 if args.quick else 10000)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.keep or Path(tmp) / "bench-tracker.db"
        db.unlink(missing_ok=True)
        started = time.perf_counter()
        rows = make_database(db, n)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        report = build_report(UNTIL - timedelta(days=DAYS - 1), UNTIL, sqlite_file=db, min_senders=5)
        write_report(report, Path(tmp) / "out")
        seconds = time.perf_counter() - started
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "conversations": n,
        "events": rows,
        "messages": report["messages"]["total"],
        "questions": report["questions"]["considered"],
        "groups_shown": len(report["questions"]["shown"]),
        "groups_hidden": report["questions"]["hidden_groups"],
        "report_seconds": round(seconds, 2),
        "generate_seconds": round(generated, 2),
    }
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "report-bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"make report over {n:,} conversations ({rows:,} events, {result['messages']:,} messages,"
        f" {result['questions']:,} unanswered questions): {seconds:.2f} s"
        f" ({result['groups_shown']} groups shown, {result['groups_hidden']} hidden). reports/report-bench.json"
    )
    return 0


if __name__ == "__main__":
    from reporting.store import quiet

    quiet()
    sys.exit(main())
