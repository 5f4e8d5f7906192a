"""The README's layout section matches the tree."""

import re
import subprocess

from b12 import settings

ROOT = settings.ROOT
IGNORED_LINE = "(git-ignored)"


def layout_block() -> list:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1]
    return section.split("```", 2)[1].strip("\n").splitlines()


def tracked_top_level() -> set:
    done = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return {path.split("/", 1)[0] for path in done.stdout.splitlines()}


ENTRY = re.compile(r"(?:^|(?<=\s{3}))([.\w/-]+)\s{2,}")  # a name: at the start or after 3 spaces, then 2 spaces


def entries(line: str) -> list:
    """(name, description) for each entry of a layout line (one or two columns)."""
    found = list(ENTRY.finditer(line))
    return [
        (m.group(1), line[m.end() : nxt.start() if nxt else len(line)]) for m, nxt in zip(found, found[1:] + [None])
    ]


def test_every_folder_the_layout_names_exists():
    named = []
    for line in layout_block():
        if IGNORED_LINE in line:  # made by running it: not in a fresh clone
            continue
        for name, description in entries(line):
            named.append(name)
            if name.endswith("/"):  # the subfolders it names: "channels/", "heldout/", "images/"
                named += [name + sub + "/" for sub in re.findall(r"(?<![\w./])([a-z_]+)/(?![\w])", description)]
    assert len(named) > 15 and "b12/" in named and "extensions/channels/" in named
    missing = [n for n in named if not (ROOT / n).exists()]
    assert missing == []


def test_every_top_level_entry_in_the_repository_is_in_the_layout():
    """Each tracked top-level file or folder has its own entry (a name in the first column, not
    a word in a description)."""
    names = set()
    for line in layout_block():
        if IGNORED_LINE in line:
            names |= {n.strip(",/") for n in line.split("  ")[0].split()}
            continue
        names |= {name.split("/")[0] for name, _ in entries(line)}
    top = tracked_top_level() - {".gitignore", "README.md"}
    missing = [t for t in sorted(top) if t not in names]
    assert len(top) > 10 and missing == []
