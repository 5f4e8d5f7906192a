"""Hostile 10,000-character message shapes: repeated prefixes, long runs, many digits. The unit
tests check each is judged well under a second; `make bench` reports the worst over REST."""

HOSTILE = [
    "my b12 is " * 1000,
    "my level " + "is was are " * 900 + "1",
    "how much " * 1100 + "should i take",
    "9" * 10000,
    "1 " * 5000,
    "a" * 10000,
    "chest " * 1600,
    "qwxzv" * 2000,
    " ".join(f"wrd{i}x" for i in range(1400)),
    "i " * 5000,
    "?" * 10000,
    "my b12 results came back " * 400 + "what does this mean",
    "can b12 cause " + "chest pain " * 900 + "?",  # one sentence, hundreds of matches
    "she took thirty " * 700,
]
