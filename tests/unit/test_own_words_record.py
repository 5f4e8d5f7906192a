"""The count part of the own-words set is only ever counted: what evaluation.own_words writes
down for it names failures and flips by id, never their messages or replies."""

from evaluation.own_words import for_the_record


def test_the_count_part_is_written_down_without_its_texts():
    result = {
        "targets": {"all": {"hits": 1, "of": 2}},
        "failures": [{"id": "c-1", "kind": "emergency", "turns": ["a secret message"], "said": ["a reply"]}],
        "invariance": {"kept": {"hits": 1, "of": 2}, "flips": [{"id": "c-1~typo", "turns": ["x"], "said": ["y"]}]},
    }
    written = str(for_the_record(result, "count"))
    assert "secret" not in written and "a reply" not in written and "'x'" not in written
    assert for_the_record(result, "count")["failures"] == [{"id": "c-1", "kind": "emergency"}]
    assert for_the_record(result, "count")["invariance"]["flips"] == [{"id": "c-1~typo"}]
    assert for_the_record(result, "look") is result  # the look part may be read
