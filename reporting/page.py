"""The report as one self-contained HTML page (charts as inline SVG, no script, nothing fetched:
its own Content-Security-Policy says so) and as JSON. Every text goes through html.escape."""

from __future__ import annotations

import json
from html import escape
from typing import Any, Dict, List, Sequence, Tuple

TITLE = "What patients asked: content report"
STYLE = """
body{font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#fff;max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-top:1px solid #ccc;padding-top:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}
caption{text-align:left;font-weight:600;padding:.25rem 0;white-space:nowrap}
th,td{border:1px solid #999;padding:.25rem .5rem;text-align:left}td.n{text-align:right}
figure{margin:1rem 0}figcaption{font-style:italic}svg text{font:12px system-ui,sans-serif;fill:#1a1a1a}
.note{color:#333;background:#f3f3f3;padding:.5rem .75rem;border-left:4px solid #4a4a4a}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
BAR = "#1f5f8b"


def e(value: Any) -> str:
    return escape(str(value), quote=True)


def bar_chart(chart_id: str, title: str, rows: Sequence[Tuple[str, float]], unit: str = "", maximum: float = 0) -> str:
    """Horizontal bars, as inline SVG with a title and a text alternative listing every value."""
    alt = "; ".join(f"{label}: {value:g}{unit}" for label, value in rows) or "no data"
    if not rows:
        return f'<p id="{e(chart_id)}">{e(title)}: no data in this period.</p>'
    top = maximum or max(v for _, v in rows) or 1
    label_w, bar_w, row_h = 230, 420, 22
    height = row_h * len(rows) + 10
    parts = [
        f'<figure><svg id="{e(chart_id)}" role="img" aria-labelledby="{e(chart_id)}-t {e(chart_id)}-d"'
        f' width="{label_w + bar_w + 80}" height="{height}" viewBox="0 0 {label_w + bar_w + 80} {height}"'
        ">",
        f'<title id="{e(chart_id)}-t">{e(title)}</title><desc id="{e(chart_id)}-d">{e(alt)}</desc>',
    ]
    for i, (label, value) in enumerate(rows):
        y = 5 + i * row_h
        width = bar_w * value / top
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{e(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row_h - 6}" fill="{BAR}"/>'
            f'<text x="{label_w + width + 4:.1f}" y="{y + 15}">{e(f"{value:g}{unit}")}</text>'
        )
    parts.append(f"</svg><figcaption>{e(title)}. Text alternative: {e(alt)}.</figcaption></figure>")
    return "".join(parts)


def table(caption: str, headers: Sequence[str], rows: List[Sequence[Any]]) -> str:
    if not rows:
        return f"<p>{e(caption)}: none in this period.</p>"
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="n">{e(c)}</td>' if isinstance(c, (int, float)) else f"<td>{e(c)}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(report: Dict[str, Any]) -> str:
    period, k = report["period"], report["min_senders"]
    msgs = report["messages"]
    channels = msgs["channels"]
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(TITLE)}</title><style>{STYLE}</style></head><body><main>",
        f"<h1>{e(TITLE)}</h1>",
        f"<p>From {e(period['since'])} to {e(period['until'])} (UTC, both days included):"
        f" {e(msgs['total'])} patient messages.</p>",
        '<p class="note">Private by design: no sender ids; no text of emergency or personal-advice messages;'
        f" a question is listed only when at least {e(k)} different people asked something like it, with"
        " names, emails, phone numbers, dates and numbers replaced by placeholders.</p>",
        "<h2>Messages</h2>",
        bar_chart("chart-channels", "Messages per channel", [(c, msgs["per_channel"][c]) for c in channels]),
        bar_chart(
            "chart-days", "Messages per day", [(d["day"], sum(d.get(c, 0) for c in channels)) for d in msgs["per_day"]]
        ),
        table(
            "Messages per day and channel",
            ["Day", *channels, "Total"],
            [[d["day"], *(d.get(c, 0) for c in channels), sum(d.get(c, 0) for c in channels)] for d in msgs["per_day"]],
        ),
        "<h2>Answers per topic</h2>",
        bar_chart(
            "chart-topics", "Answers per topic", [(t["topic"], t["answers"]) for t in report["answers_per_topic"]]
        ),
        table(
            "Answers per topic", ["Topic", "Answers"], [[t["topic"], t["answers"]] for t in report["answers_per_topic"]]
        ),
        "<h2>Was it helpful?</h2>",
        bar_chart(
            "chart-helpful",
            "Share of helpful votes per topic",
            [
                (f"{t['topic']} ({t['votes']} vote{'' if t['votes'] == 1 else 's'})", round(100 * t["rate"]))
                for t in report["helpful_per_topic"]
            ],
            unit="%",
            maximum=100,
        ),
        table(
            "Helpful votes per topic",
            ["Topic", "Votes", "Helpful", "Helpful rate"],
            [[t["topic"], t["votes"], t["helpful"], f"{100 * t['rate']:.0f}%"] for t in report["helpful_per_topic"]],
        ),
        "<h2>Replies that did not answer from the source</h2>",
        bar_chart(
            "chart-replies",
            "Share of messages, by reply",
            [(r["label"], round(100 * r["share"], 1)) for r in report["unanswered_replies"]],
            unit="%",
        ),
        table(
            "Replies that did not answer from the source",
            ["Reply", "Messages", "Share of all messages"],
            [[r["label"], r["count"], f"{100 * r['share']:.1f}%"] for r in report["unanswered_replies"]],
        ),
        "<h2>Emergencies and personal advice (counts only)</h2>",
        table(
            "Emergency messages by kind",
            ["Kind", "Messages"],
            [[r["category"], r["count"]] for r in report["emergencies"]],
        ),
        table(
            "Requests for personal advice by kind",
            ["Kind", "Messages"],
            [[r["kind"].replace("_", " "), r["count"]] for r in report["personal_advice"]],
        ),
    ]
    q = report["questions"]
    out.append("<h2>Questions the source did not answer</h2>")
    out.append(
        f"<p>{e(q['considered'])} questions were not covered by the source or not understood. Grouped by"
        " similarity, ranked by how many different people asked. This is what to vet next.</p>"
    )
    rows = [
        [
            g["rank"],
            g["senders"],
            g["messages"],
            " / ".join(g["wordings"]) or "(worded differently by each person)",
            ", ".join(g["terms"]) or "-",
        ]
        for g in q["shown"]
    ]
    out.append(
        table(
            f"Question groups asked by at least {k} people",
            [
                "Rank",
                "People",
                "Messages",
                f"Wording sent by at least {k} people",
                f"Words used by at least {k} people",
            ],
            rows,
        )
    )
    out.append(
        f"<p>{e(q['hidden_groups'])} smaller groups ({e(q['hidden_messages'])} messages) are not shown:"
        f" fewer than {e(k)} people asked.</p>"
    )
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


def as_json(report: Dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
