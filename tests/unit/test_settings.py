"""b12/settings.py: the one module that reads the environment."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from b12 import settings

CODE = [
    p
    for folder in ("b12", "extensions", "actions", "scripts", "evaluation", "reporting")
    for p in (settings.ROOT / folder).rglob("*.py")
    if p.name != "judge.py"  # the vendored judge keeps its own copy unchanged
]


def test_no_other_python_module_reads_the_environment():
    # any use of os.environ but a write for Rasa (setdefault), and getenv
    reads = re.compile(r"os\.environ(?!\.setdefault\()|os\.getenv\(")
    # evaluation/stack.py copies the basics (PATH, HOME, ...) to the servers it starts; it reads no setting
    allowed = {settings.ROOT / "b12" / "settings.py", settings.ROOT / "evaluation" / "stack.py"}
    offenders = [str(p.relative_to(settings.ROOT)) for p in CODE if p not in allowed and reads.search(p.read_text())]
    assert len(CODE) > 20 and offenders == []


def test_every_variable_the_launchers_default_is_a_setting():
    """The shell launchers take their defaults from `python -m b12.settings shell`, not `${X:-...}`."""
    for script in (settings.ROOT / "scripts").glob("*.sh"):
        text = script.read_text()
        # VENV finds the settings module itself; PYENV_ROOT is pyenv's own
        defaults = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):-", text)) - {"VENV", "PYENV_ROOT"}
        # each is a setting; a `${X:-...}` only where X is unset by default, a secret, the cluster's
        # own value of a Rasa setting, or the Python 3.10 the venv is made with
        assert defaults <= set(settings.SETTINGS), (script.name, defaults - set(settings.SETTINGS))
        allowed = {"DB_HOST", "RASA_API_TOKEN", "DB_PASSWORD", "REDIS_PASSWORD", "TICKET_LOCK_LIFETIME", "PYTHON310"}
        assert defaults <= allowed, (script.name, defaults - allowed)
        for names in re.findall(r"b12\.settings shell ([A-Z0-9_ \\\n]+)\)", text):
            for name in names.replace("\\", " ").split():
                assert name in settings.SETTINGS, (script.name, name)


def test_values_are_read_as_their_kind():
    env = {"RASA_PORT": "5999", "ACTION_TIMEOUT": "2.5", "SPEED_FIXES": "0", "CRISIS_REGION": " uk "}
    assert settings.get("RASA_PORT", env) == 5999
    assert settings.get("ACTION_TIMEOUT", env) == 2.5
    assert settings.get("SPEED_FIXES", env) is False and settings.get("SPEED_FIXES", {}) is True
    assert settings.get("CRISIS_REGION", env) == "uk"
    assert settings.get("DB_HOST", {}) is None and settings.get("DB_HOST", {"DB_HOST": "  "}) is None


def test_a_bad_value_names_the_variable_and_what_it_expects():
    with pytest.raises(settings.SettingError, match=r"RASA_PORT='abc': expected a number \(port of the Rasa"):
        settings.get("RASA_PORT", {"RASA_PORT": "abc"})
    with pytest.raises(settings.SettingError, match="ENABLE_API='yes please': expected 0 or 1"):
        settings.get("ENABLE_API", {"ENABLE_API": "yes please"})
    with pytest.raises(KeyError, match="NO_SUCH is not a setting"):
        settings.get("NO_SUCH", {})


def test_paths_are_resolved_from_the_project_root_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert settings.path("TRACKER_DB", {}) == settings.ROOT / "var" / "tracker.db"
    assert settings.path("RUN_DIR", {"RUN_DIR": "somewhere"}) == settings.ROOT / "somewhere"
    assert settings.path("TRACKER_DB", {"TRACKER_DB": str(tmp_path / "t.db")}) == tmp_path / "t.db"


def test_shell_lines_are_quoted_and_derived_values_follow_their_inputs():
    out = settings.shell(["RASA_PORT", "CORS_ORIGINS", "RUN_DIR"], {"WEB_PORT": "8123", "RUN_DIR": "a dir;rm -rf"})
    lines = out.splitlines()
    assert lines[0] == "RASA_PORT=5005"
    assert lines[1] == "CORS_ORIGINS='http://localhost:8123 http://127.0.0.1:8123'"
    assert lines[2] == f"RUN_DIR='{settings.ROOT}/a dir;rm -rf'"
    with pytest.raises(settings.SettingError, match="DB_PASSWORD is a secret"):
        settings.shell(["DB_PASSWORD"], {})


def test_the_command_line_fails_clearly_on_a_bad_value():
    env = dict(os.environ, RASA_PORT="five")
    done = subprocess.run(
        [sys.executable, str(settings.ROOT / "b12" / "settings.py"), "shell", "RASA_PORT"],
        env=env,
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "RASA_PORT='five': expected a number" in done.stderr
    listed = subprocess.run([sys.executable, "-m", "b12.settings"], capture_output=True, text=True, cwd=settings.ROOT)
    assert all(name in listed.stdout for name in settings.SETTINGS)


def test_every_setting_has_a_meaning_and_a_known_kind():
    for name, s in settings.SETTINGS.items():
        assert (
            re.fullmatch(r"[A-Z][A-Z0-9_]+", name)
            and s.meaning
            and s.kind
            in {
                "text",
                "int",
                "float",
                "flag",
                "path",
                "secret",
            }
        ), name
        if s.default is not None and s.kind != "path":
            settings.get(name, {})  # every default reads as its kind
    assert settings.is_loopback("127.0.0.1") and settings.is_loopback("::1") and settings.is_loopback("localhost")
    assert not settings.is_loopback("0.0.0.0") and not settings.is_loopback("example.org")
    assert Path(settings.KNOWLEDGE_DIR, "passages.yml").exists()


def test_servers_listen_on_loopback_unless_told_otherwise():
    """A clinic puts the assistant behind a proxy: Rasa listens on 127.0.0.1 by default
    (RASA_INTERFACE=0.0.0.0 only inside a container), and make shell's Rasa always does."""
    assert settings.is_loopback(settings.get("RASA_INTERFACE", {}))
    assert settings.get("RASA_INTERFACE", {"RASA_INTERFACE": "0.0.0.0"}) == "0.0.0.0"
    serve = (settings.ROOT / "scripts" / "serve.sh").read_text()
    assert '--interface "$RASA_INTERFACE"' in serve
    shell = serve.split("\nshell() {", 1)[1].split("\n}\n", 1)[0]
    assert 'rasa" shell ' in shell and "--interface 127.0.0.1" in shell and '--port "$SHELL_PORT"' in shell
    makefile = (settings.ROOT / "Makefile").read_text()
    assert "\n\t@scripts/serve.sh shell\n" in makefile.split("\nshell:", 1)[1].split("\n\n", 1)[0] + "\n"


def test_the_demo_page_calls_the_assistant_on_rasa_port_unless_told_otherwise():
    assert settings.web_assistant_url({}) == "http://localhost:5005"
    assert settings.web_assistant_url({"RASA_PORT": "6205"}) == "http://localhost:6205"
    env = {"WEB_ASSISTANT_URL": "https://assistant.example.org"}
    assert settings.shell(["WEB_ASSISTANT_URL"], env) == "WEB_ASSISTANT_URL=https://assistant.example.org\n"


def test_a_short_staff_token_is_refused_at_start_without_showing_it():
    short = "letmein"
    with pytest.raises(settings.SettingError) as err:
        settings.check({"STAFF_REPORT_TOKEN": short})
    assert "STAFF_REPORT_TOKEN" in str(err.value) and "at least 32" in str(err.value)
    assert short not in str(err.value)
    assert settings.get("STAFF_REPORT_TOKEN", {"STAFF_REPORT_TOKEN": "s" * 32}) == "s" * 32
