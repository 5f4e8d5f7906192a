#!/usr/bin/env bash
# Print the path of a working Python 3.10 interpreter, or explain what to install.
# Rasa 3.6 supports Python 3.8-3.10 only; this project pins 3.10.
set -u
candidates=()
[ -n "${PYTHON310:-}" ] && candidates+=("$PYTHON310")
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv /usr/local/pyenv; do
  [ -n "$root" ] || continue
  for p in "$root"/versions/3.10*/bin/python3.10; do
    [ -x "$p" ] && candidates+=("$p")
  done
done
candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10)
for p in "${candidates[@]}"; do
  [ -x "$p" ] || continue
  if "$p" -c 'import sys, venv; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; then
    echo "$p"
    exit 0
  fi
done
cat >&2 <<MSG
No Python 3.10 found. Rasa 3.6 needs Python 3.8-3.10 and this project uses 3.10.
Install one, for example:  pyenv install 3.10.13
or point to one:           make run PYTHON310=/path/to/python3.10
MSG
exit 1
