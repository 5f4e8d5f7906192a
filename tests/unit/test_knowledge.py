"""Provenance and coverage of the vetted knowledge file, and its fail-fast validation."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from b12 import settings
from b12.knowledge import (
    FEATURES,
    KNOWLEDGE_DIR,
    PASSAGES_FILE,
    ROUTES,
    KnowledgeError,
    covered,
    get_knowledge,
    load_knowledge,
    source_sentences,
)
from tests.harness import missing

SHARED_SOURCE = settings.ROOT.parent / "shared" / "source" / "b12-autoimmunity.txt"
DOSE = re.compile(r"\d[\d,.]*\s*(mcg|µg|ug|mg|micrograms?|milligrams?|iu)\b", re.I)


@pytest.fixture(scope="module")
def kb():
    return get_knowledge()


def test_project_copy_matches_shared_source():
    if not SHARED_SOURCE.exists():
        missing("../shared is absent: cannot compare the project's copy of the source")
    assert (KNOWLEDGE_DIR / "b12-autoimmunity.txt").read_text() == SHARED_SOURCE.read_text()


# Whether each quote is verbatim and each cell sits in its own column is the loader's check;
# tests below break a copy of the file and expect the loader to refuse it, naming file and key.


def test_every_source_sentence_is_used_by_a_passage(kb):
    sentences = source_sentences(kb)
    assert len(sentences) >= 30
    missing = [s for s in sentences if not covered(kb, s)]
    assert missing == []


def test_all_fifteen_table_cells_are_passages(kb):
    cells = [kb.cell(r, f) for r in ROUTES for f in FEATURES]
    assert len({c.text for c in cells}) == 15


def source_headings(text: str) -> set:
    """The source's section headings, read from the text alone: short lines that are neither a
    table row nor a sentence."""
    lines = [line.strip() for line in text.splitlines()]
    return {line for line in lines if line and not line.startswith("|") and len(line) < 90 and line[-1] not in ".)"}


def test_every_section_of_the_source_is_reachable_from_an_answer(kb):
    headings = source_headings(kb.source_text)
    assert len(headings) == 8  # the title and seven sections
    quoted = {kb.passages[pid].section for ids in kb.answers.values() for pid in ids}
    assert {p.section for p in kb.passages.values()} <= headings, "a passage names a section the source lacks"
    # the table's section is answered cell by cell (kb.cell), every other one through `answers`
    assert headings - quoted == {"Dietary vs. Supplemented B12"}


def test_citation_is_an_answer(kb):
    assert "hopkinsmedicine.org" in " ".join(p.text for p in kb.answer("source"))


def test_no_passage_states_a_dose(kb):
    for passage in kb.passages.values():
        assert not DOSE.search(passage.text), passage.id


def _copy_knowledge(tmp_path: Path) -> Path:
    shutil.copy(KNOWLEDGE_DIR / "b12-autoimmunity.txt", tmp_path / "b12-autoimmunity.txt")
    target = tmp_path / "passages.yml"
    shutil.copy(PASSAGES_FILE, target)
    return target


def _rewrite(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


def test_a_copy_of_the_file_loads(tmp_path):
    assert len(load_knowledge(_copy_knowledge(tmp_path)).passages) == len(get_knowledge().passages)


def test_an_invented_quote_fails_naming_file_and_key(tmp_path):
    path = _copy_knowledge(tmp_path)
    _rewrite(path, lambda d: d["passages"][0].update(quote="B12 cures lupus."))
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(path)
    assert str(path) in str(err.value) and "passages.link.cause_effect.quote" in str(err.value)


def test_a_cell_in_the_wrong_column_fails(tmp_path):
    path = _copy_knowledge(tmp_path)
    _rewrite(path, lambda d: d["table"]["cells"]["oral"].update(risk="Low risk for most people"))
    with pytest.raises(KnowledgeError, match="table.cells.oral.risk"):
        load_knowledge(path)


def test_a_missing_key_fails(tmp_path):
    path = _copy_knowledge(tmp_path)
    _rewrite(path, lambda d: d.pop("answers"))
    with pytest.raises(KnowledgeError, match="missing key 'answers'"):
        load_knowledge(path)


def test_an_answer_naming_an_unknown_passage_fails(tmp_path):
    path = _copy_knowledge(tmp_path)
    _rewrite(path, lambda d: d["answers"].update(link=["no.such.passage"]))
    with pytest.raises(KnowledgeError, match="answers.link"):
        load_knowledge(path)


def test_an_unused_passage_fails(tmp_path):
    path = _copy_knowledge(tmp_path)
    _rewrite(path, lambda d: d["answers"].update(source=["link.cause_effect"]))
    with pytest.raises(KnowledgeError, match="passages.source.citation"):
        load_knowledge(path)


def test_broken_yaml_fails_with_the_file_name(tmp_path):
    path = _copy_knowledge(tmp_path)
    path.write_text("passages: [unclosed")
    with pytest.raises(KnowledgeError, match="not valid YAML"):
        load_knowledge(path)


def test_the_generated_nlu_variants_are_up_to_date():
    import subprocess
    import sys

    root = settings.ROOT
    done = subprocess.run([sys.executable, str(root / "scripts" / "augment_nlu.py"), "--check"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
