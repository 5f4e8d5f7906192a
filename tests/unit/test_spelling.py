"""Misspelt words of the subject, read as the words they mean (b12/spelling.py). No Rasa server."""

import pytest

from b12.spelling import MAX_CORRECTIONS, correct


@pytest.mark.parametrize(
    "typed, read",
    [
        ("can cronhs cause dangerously low b12", "can crohns cause dangerously low b12"),
        ("swelling after b12 inejction", "swelling after b12 injection"),
        ("inrtinsic factor antibodies meaning", "intrinsic factor antibodies meaning"),
        ("will b12 help my fatigue and neuropatyh?", "will b12 help my fatigue and neuropathy?"),
        ("Just told I have HASIHMOTOS, is it linked?", "Just told I have hashimotos, is it linked?"),
    ],
)
def test_a_misspelt_word_of_the_subject_is_read_as_that_word(typed, read):
    assert correct(typed) == read


@pytest.mark.parametrize(
    "text",
    [
        "can low b12 make u so knackered u can barely function?",  # slang is not a typo of the subject
        "checking whether tablets or injections suit me",  # real words are never changed ("checking")
        "my daughter's coeliac and she's 12",
        "",
    ],
)
def test_real_words_slang_and_punctuation_are_left_as_they_were(text):
    assert correct(text) == text


def test_the_lookups_per_message_are_bounded():
    # each misspelt-looking word costs one lookup, and a message gets at most MAX_CORRECTIONS
    words = "cronhs " * (MAX_CORRECTIONS + 10)
    assert correct(words).split().count("crohns") == MAX_CORRECTIONS
