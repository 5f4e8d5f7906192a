"""Shared by every suite. The project root is on sys.path through pyproject.toml's
`pythonpath`; the harness (tests/harness.py) boots servers for the system tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
