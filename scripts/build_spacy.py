"""Build the project's own spaCy pipeline from knowledge/entity_patterns.yml.

No pretrained model is downloaded: the pipeline is spacy.blank("en") with a lookup
lemmatizer (tables from spacy-lookups-data, saved into the pipeline) and an entity
ruler whose patterns carry canonical ids. Rasa's SpacyNLP loads it by path.

    python scripts/build_spacy.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import spacy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from b12.entities import load_entity_patterns  # noqa: E402

DEFAULT_OUTPUT = ROOT / "models" / "spacy" / "en_b12"


def build(output: Path = DEFAULT_OUTPUT) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    nlp.initialize()
    # Patterns go in after initialize(): initialize() resets the ruler and would drop them.
    ruler.add_patterns(load_entity_patterns())
    nlp.meta.update(
        {
            "name": "b12",
            "version": "1.0.0",
            "description": "Project-built pipeline for the B12 assistant: lookup lemmas and an entity ruler.",
            "author": "B12 assistant team",
            "license": "MIT",
        }
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    return output


if __name__ == "__main__":
    out = build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT)
    print(f"spaCy pipeline written to {out}")
