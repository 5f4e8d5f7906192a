"""The reviewed knowledge file: the loader refuses a changed source or a bad review record, naming
the file, the key and what changed; `make review` shows every passage beside the source; signing
rewrites the review block alone."""

import datetime
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from b12 import knowledge, settings
from b12.knowledge import (
    KNOWLEDGE_DIR,
    PASSAGES_FILE,
    KnowledgeError,
    get_knowledge,
    load_knowledge,
    source_sections,
)
from b12.review import block_span, main, nlu_examples, questions, report, sign

SOURCE = "b12-autoimmunity.txt"
IMMUNE = "The Role of B12 in Immune Function"


@pytest.fixture
def copy(tmp_path) -> Path:
    """A copy of the knowledge dir's file and its source; returns the copy's passages.yml."""
    shutil.copy(KNOWLEDGE_DIR / SOURCE, tmp_path / SOURCE)
    shutil.copy(PASSAGES_FILE, tmp_path / "passages.yml")
    return tmp_path / "passages.yml"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def refused(path: Path) -> str:
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(path)
    message = str(err.value)
    assert message.startswith(f"{path}: "), message  # names the file
    return message


def test_the_real_file_is_reviewed_against_its_source_and_every_section():
    review = get_knowledge().review
    sections = source_sections((KNOWLEDGE_DIR / SOURCE).read_text(encoding="utf-8"))
    assert len(sections) == 8 and dict(review.sections) == {s.heading: s.sha256 for s in sections}
    assert review.reviewed_by == "content engineer" and not review.clinical
    # the record says what it is: not a clinician's sign-off
    start, end = block_span(PASSAGES_FILE.read_text(encoding="utf-8"))
    block = PASSAGES_FILE.read_text(encoding="utf-8")[start:end]
    assert "NOT a clinical sign-off" in block and 'SIGN="clinical content lead"' in block


# --- the source changes ------------------------------------------------------------------------


def test_a_changed_sentence_names_its_section_and_the_passages_that_quote_it(copy):
    edit(copy.parent / SOURCE, "Some research suggests that", "Research proves that")
    message = refused(copy)
    assert f"{SOURCE} changed since the last review ('review.source_sha256' is 84b80c2ac58d…" in message
    assert f"changed '{IMMUNE}' (lines 5-6; quoted by immune.essential, immune.balance, immune.restore; " in message
    assert "no longer in the source: immune.balance)" in message
    assert "added" not in message and "removed" not in message
    assert 'make review SIGN="clinical content lead"' in message


def test_a_changed_table_cell_names_the_table_section_and_its_cells(copy):
    edit(copy.parent / SOURCE, "Low risk, excess is excreted", "No risk at all")
    message = refused(copy)
    assert "changed 'Dietary vs. Supplemented B12' (lines 11-18; quoted by diet.benefit," in message
    assert "injection.risk; no longer in the source: oral.risk)" in message


def test_an_added_section_is_named_with_its_lines(copy):
    edit(copy.parent / SOURCE, "Potential Risks and Considerations\n", "Testing\n")
    message = refused(copy)
    # the heading replaced: one section added, one removed, with the passages that quoted it
    assert "added 'Testing' (lines 19-20)" in message
    assert "removed 'Potential Risks and Considerations' (quoted by risks.not_cure_all, risks.high_levels," in message


def test_a_new_section_between_two_is_added_and_nothing_else(copy):
    edit(
        copy.parent / SOURCE,
        "Potential Risks and Considerations\n",
        "Testing\nAsk first.\nPotential Risks and Considerations\n",
    )
    message = refused(copy)
    assert "…): added 'Testing' (lines 19-20). Review it again" in message
    assert "changed" not in message.split("):", 1)[1] and "removed" not in message


def test_a_removed_section_names_the_passages_it_took_with_it(copy):
    source = copy.parent / SOURCE
    lines = source.read_text(encoding="utf-8").split("\n")
    source.write_text("\n".join(lines[:6] + lines[8:]), encoding="utf-8")  # lines 7-8
    message = refused(copy)
    assert (
        "removed 'A Deeper Look into B12's Mechanisms' (quoted by homocysteine.inflammation, homocysteine.cycle; "
        "no longer in the source: homocysteine.inflammation, homocysteine.cycle)"
    ) in message
    assert "changed" not in message.split("):", 1)[1] and "added" not in message


def test_moved_sections_are_named_as_a_new_order(copy):
    source = copy.parent / SOURCE
    lines = source.read_text(encoding="utf-8").split("\n")
    source.write_text("\n".join(lines[2:4] + lines[:2] + lines[4:]), encoding="utf-8")
    assert "the sections are in a new order: 'Autoimmune Conditions that Affect B12 Absorption', " in refused(copy)


def test_only_line_ends_changed_is_said_so(copy):
    source = copy.parent / SOURCE
    source.write_bytes(source.read_bytes().replace(b"\n", b"\r\n"))
    assert "no section's text changed ('review.sections' all match), so only its line ends did" in refused(copy)


# --- the record is tampered with or malformed --------------------------------------------------


def test_a_tampered_file_hash_is_refused(copy):
    edit(copy, 'source_sha256: "84b80c2ac58d', 'source_sha256: "04b80c2ac58d')
    message = refused(copy)
    assert "'review.source_sha256' is 04b80c2ac58d…" in message and "edited by hand" in message


def test_a_tampered_section_hash_is_refused_naming_the_section(copy):
    recorded = get_knowledge().review.sections[IMMUNE]
    edit(copy, recorded, "0" * 64)
    message = refused(copy)
    assert "'review.sections' does not match b12-autoimmunity.txt, though 'review.source_sha256' does" in message
    assert f"changed '{IMMUNE}' (lines 5-6; quoted by immune.essential" in message


@pytest.mark.parametrize(
    "old,new,key",
    [
        ('source_sha256: "84b80c2ac58d', 'source_sha256: "x4b80c2ac58d', "review.source_sha256"),
        ('source_sha256: "84b80c2ac58d', 'source_sha256: "84b80c2ac5', "review.source_sha256"),
        (f'"{IMMUNE}": "', f'"{IMMUNE}": "zz', f"review.sections.{IMMUNE}"),
    ],
)
def test_a_hash_that_is_not_64_hex_characters_is_refused(copy, old, new, key):
    edit(copy, old, new)
    assert f"'{key}' must be a SHA-256: 64 hexadecimal characters, not " in refused(copy)


@pytest.mark.parametrize("name", ["Dr. Jane Smith", "jane smith", "Content Engineer", "", "clinical content lead jane"])
def test_a_reviewer_that_is_not_a_role_is_refused(copy, name):
    edit(copy, 'reviewed_by: "content engineer"', f'reviewed_by: "{name}"')
    message = refused(copy)
    assert "'review.reviewed_by' must be one of the reviewer roles (clinical content lead, " in message
    assert "never a person's name" in message
    assert not name or name not in message  # the name is not repeated into logs


@pytest.mark.parametrize(
    "value,says",
    [
        ((datetime.date.today() + datetime.timedelta(days=3)).isoformat(), "in the future"),
        ("2099-01-01", "in the future"),
        ("2026-02-30", "must be a real date (YYYY-MM-DD), not '2026-02-30'"),
        ("last week", "must be a real date (YYYY-MM-DD), not 'last week'"),
        ("2026-12-01T10:00:00", "must be a real date (YYYY-MM-DD)"),
    ],
)
def test_a_review_date_that_is_not_a_real_past_date_is_refused(copy, value, says):
    text = copy.read_text(encoding="utf-8")
    day = get_knowledge().review.reviewed_on.isoformat()
    copy.write_text(text.replace(f"reviewed_on: {day}", f"reviewed_on: {value}"), encoding="utf-8")
    assert f"'review.reviewed_on' {'is ' if 'future' in says else ''}" in refused(copy)
    assert says in refused(copy)


@pytest.mark.parametrize("key", ["reviewed_by", "reviewed_on", "source_sha256", "sections"])
def test_a_missing_review_key_is_refused(copy, key):
    text = copy.read_text(encoding="utf-8")
    start, end = block_span(text)
    block = "".join(
        line
        for line in text[start:end].splitlines(keepends=True)
        if not line.startswith(f"  {key}:") and not (key == "sections" and line.startswith("    "))
    )
    copy.write_text(text[:start] + block + text[end:], encoding="utf-8")
    assert f"missing key 'review.{key}'" in refused(copy)


def test_a_missing_review_block_is_refused(copy):
    text = copy.read_text(encoding="utf-8")
    start, end = block_span(text)
    copy.write_text(text[:start] + text[end:], encoding="utf-8")
    assert "missing key 'review'" in refused(copy)


# --- the launchers stop at start -------------------------------------------------------------------


def test_the_knowledge_check_stops_a_launcher_with_the_message(copy):
    edit(copy.parent / SOURCE, "Some research suggests that", "Research proves that")
    run = [sys.executable, "-m", "b12.knowledge", "check"]
    done = subprocess.run([*run, str(copy)], capture_output=True, text=True, cwd=settings.ROOT)
    assert done.returncode == 2 and done.stdout == ""
    assert f"The knowledge file is refused: {copy}: {SOURCE} changed since the last review" in done.stderr
    assert f"changed '{IMMUNE}'" in done.stderr
    good = subprocess.run(run, capture_output=True, text=True, cwd=settings.ROOT)
    assert (good.returncode, good.stderr) == (0, "")


def test_the_action_server_refuses_to_start_on_a_refused_file(copy, monkeypatch):
    edit(copy.parent / SOURCE, "Some research suggests that", "Research proves that")
    monkeypatch.setattr(knowledge, "PASSAGES_FILE", copy)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the launcher sets sys.path[0]
    spec = importlib.util.spec_from_file_location("action_server_launch", settings.ROOT / "scripts/action_server.py")
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    get_knowledge.cache_clear()
    try:
        with pytest.raises(SystemExit) as stop:
            launcher.main(["--port", "1"])
    finally:
        get_knowledge.cache_clear()
    assert str(stop.value.code).startswith(f"The knowledge file is refused: {copy}: ")
    assert f"changed '{IMMUNE}'" in str(stop.value.code)


def test_serve_sh_and_training_check_the_knowledge_file_first():
    serve = (settings.ROOT / "scripts" / "serve.sh").read_text()
    load_all = serve[serve.index("load_all() {") :]
    assert load_all.index("-m b12.knowledge check") < load_all.index("\n}")
    makefile = (settings.ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("$(MODEL): $(TRAIN_INPUTS)") :]
    assert recipe.index("-m b12.knowledge check") < recipe.index("$(RASA) train")


# --- make review --------------------------------------------------------------------------------


def test_the_report_shows_every_passage_and_cell_once_beside_its_source_line():
    kb = get_knowledge()
    text = report()
    for pid in kb.passages:
        assert text.count(f"  [{pid}]  line ") == 1, pid
    assert "Recorded review: content engineer, " in text and "NOT a clinical sign-off" in text
    assert f"== {IMMUNE}  (lines 5-6) ==" in text
    # a passage: its line, the quote marked inside the sentences around it
    entry = text[text.index("  [immune.balance]") :].split("\n\n", 1)[0]
    assert entry.startswith("  [immune.balance]  line 6\n")
    flat = " ".join(line.strip() for line in entry.splitlines())
    assert "role in regulating the immune system. >>>Some research suggests" in flat
    assert "autoimmune responses.<<< By restoring" in flat
    assert "topic immune_function: ask_immune_function" in flat
    # a cell: its row, its column, the whole table row with the cell marked
    cell = text[text.index("  [oral.risk]") :].split("\n\n", 1)[0]
    assert "table row 'Risk Profile', column 'Oral Supplements'" in cell
    assert "| >>>Low risk, excess is excreted<<< |" in " ".join(line.strip() for line in cell.splitlines())
    assert "topic risks: ask_risks" in " ".join(cell.split())  # a risk question naming the route
    assert report() == text  # deterministic


def test_the_example_questions_are_the_intents_training_examples():
    examples = nlu_examples()
    asked = questions("immune_function", examples)
    assert len(asked) == 3 and asked == examples["ask_immune_function"][:3]
    # a topic two intents share takes one of each in turn
    both = questions("treatment_route", examples)
    assert both[:2] == [examples["ask_treatment"][0], examples["ask_route"][0]]
    assert all("](" not in q for qs in examples.values() for q in qs)  # entity markup removed
    assert questions("treatment_autoimmune", examples) == []  # the planner's topic, no intent


def test_the_report_works_when_the_source_changed_and_says_why_it_is_refused(copy, tmp_path):
    # the source changed and the content engineer made the quote follow it: only the review is stale
    edit(copy.parent / SOURCE, "It also plays a vital", "It also plays a key")
    edit(copy, "It also plays a vital", "It also plays a key")
    out = tmp_path / "review.txt"
    assert main(["--file", str(copy), "--out", str(out)]) == 0
    text = out.read_text()
    assert f"Recorded review: REFUSED by the loader: {copy}: {SOURCE} changed since the last review" in text
    assert "[immune.essential]  line 6" in text and "It also plays a key" in text


def test_the_report_refuses_quotes_that_left_the_source(copy, capsys):
    edit(copy.parent / SOURCE, "It also plays a vital", "It also plays a key")
    assert main(["--file", str(copy)]) == 2
    assert "'passages.immune.essential.quote' is not quoted verbatim" in capsys.readouterr().err


def test_make_help_lists_review():
    done = subprocess.run(["make", "-s", "help"], capture_output=True, text=True, cwd=settings.ROOT)
    assert "make review " in done.stdout and 'SIGN="clinical content lead"' in done.stdout


# --- signing -----------------------------------------------------------------------------------


def test_the_committed_review_block_is_what_signing_writes(copy):
    review = get_knowledge().review
    before = copy.read_bytes()
    sign(copy, review.reviewed_by, today=review.reviewed_on)
    assert copy.read_bytes() == before


def test_signing_a_changed_source_rewrites_only_the_review_block(copy):
    edit(copy.parent / SOURCE, "Some research suggests that", "Research suggests that")
    edit(copy, "Some research suggests that B12", "Research suggests that B12")  # the passage follows
    text = copy.read_text(encoding="utf-8")
    start, end = block_span(text)
    refused(copy)
    sign(copy, "clinical content lead", today=datetime.date(2026, 11, 30))
    new = copy.read_text(encoding="utf-8")
    new_start, new_end = block_span(new)
    assert (new[:new_start], new[new_end:]) == (text[:start], text[end:])  # byte for byte, comments kept
    review = load_knowledge(copy).review
    assert (review.reviewed_by, review.reviewed_on, review.clinical) == (
        "clinical content lead",
        datetime.date(2026, 11, 30),
        True,
    )
    assert "NOT a clinical sign-off" not in new[new_start:new_end]


@pytest.mark.parametrize("name", ["Jane Smith", "Dr Who", " "])
def test_signing_refuses_a_personal_name_and_changes_nothing(copy, name):
    before = copy.read_bytes()
    with pytest.raises(KnowledgeError, match="'review.reviewed_by' must be one of the reviewer roles"):
        sign(copy, name)
    assert copy.read_bytes() == before
    assert main(["--file", str(copy), "--sign", name]) == 2


def test_signing_refuses_a_file_whose_quotes_left_the_source(copy):
    edit(copy.parent / SOURCE, "Some research suggests that", "Research proves that")
    before = copy.read_bytes()
    with pytest.raises(KnowledgeError, match="passages.immune.balance.quote' is not quoted verbatim"):
        sign(copy, "clinical content lead")
    assert copy.read_bytes() == before and not list(copy.parent.glob("*.signing"))


def test_review_and_knowledge_import_no_rasa():
    code = (
        "import sys, b12.review, b12.knowledge; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('rasa', 'rasa_sdk')]; "
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=settings.ROOT)
    assert done.returncode == 0, done.stderr


def test_signing_keeps_a_crlf_file_byte_for_byte_outside_the_block(copy):
    copy.write_bytes(copy.read_bytes().replace(b"\n", b"\r\n"))
    text = copy.read_bytes().decode()
    start, end = block_span(text)
    sign(copy, "clinical content lead")
    new = copy.read_bytes().decode()
    new_start, new_end = block_span(new)
    assert (new[:new_start], new[new_end:]) == (text[:start], text[end:]) and "\r\n" in new[new_end:]
    assert load_knowledge(copy).review.reviewed_by == "clinical content lead"


def test_serve_sh_starts_nothing_on_a_refused_file(tmp_path):
    """`serve.sh start` on a checkout whose source changed: the loader's message, exit 2, and no
    supervisord, no server, not even its run folder (bash's set -e alone would go on)."""
    from evaluation.stack import port

    tree = tmp_path / "tree"
    for folder in ("scripts", "b12", "knowledge"):
        shutil.copytree(settings.ROOT / folder, tree / folder)
    edit(tree / "knowledge" / SOURCE, "Some research suggests that", "Research proves that")
    run_dir = tmp_path / "run"
    env = {
        "PATH": "/usr/bin:/bin",
        "VENV": str(Path(sys.executable).parent.parent),
        "RUN_DIR": str(run_dir),
        "RASA_PORT": str(port(7905)),
        "ACTIONS_PORT": str(port(7955)),
        "WEB_PORT": str(port(7980)),
    }
    try:
        done = subprocess.run(
            [str(tree / "scripts" / "serve.sh"), "start"], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, done.stderr
        assert f"The knowledge file is refused: {tree}/knowledge/passages.yml: {SOURCE} changed" in done.stderr
        assert not run_dir.exists()
    finally:
        if run_dir.exists():  # a regression started supervisord: stop what it started
            subprocess.run([str(tree / "scripts" / "serve.sh"), "stop"], env=env, capture_output=True, timeout=60)


@pytest.mark.parametrize(
    "old, new, part",
    [
        ("  hashimotos: [thyroid.hashimotos]", "  hashimotos: [thyroid.hashimotos, pa.parietal_cells]", "answers"),
        ('source_title: "Vitamin B12 and Autoimmunity"', 'source_title: "B12 facts"', "source_title"),
    ],
)
def test_a_change_to_what_is_quoted_or_answered_needs_a_new_review(copy, old, new, part):
    """The review covers this file too, not only the source: which passages answer a topic is
    what patients are told was checked."""
    edit(copy, old, new)
    message = refused(copy)
    assert str(copy) in message and "'review.content'" in message and f"changed {part}" in message
    sign(copy, "clinical content lead")  # a new review accepts it
    assert load_knowledge(copy).review.reviewed_by == "clinical content lead"
