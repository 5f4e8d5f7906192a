"""The one way to boot the assistant (scripts/serve.sh) or the cluster (scripts/cluster.sh) from
Python: on given ports, in a folder of its own with its own database, from a clean environment.
The system tests use it through tests/harness.py; `make eval` and `make bench` use it directly.

A clean environment: only the basics (PATH, HOME, locale, temp folder, ...) and VENV, CI,
B12_KEEP_TEST_DIR and B12_TEST_PORT_OFFSET pass from the caller's environment, so nothing from
the developer's shell (DB_HOST, REDIS_HOST, ENABLE_API, a TRACKER_DB, SANIC_*, a proxy) reaches
the servers. Standard library only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from b12 import settings
from evaluation.common import webhook

ROOT = settings.ROOT
MODEL = ROOT / "models" / "current.tar.gz"
BASICS = ("PATH", "HOME", "LANG", "LANGUAGE", "TERM", "TMPDIR", "TZ", "USER", "LOGNAME", "SHELL", "PYENV_ROOT")
PASSED_ON = ("VENV", "CI", "B12_KEEP_TEST_DIR", "B12_TEST_PORT_OFFSET")


def port(number: int) -> int:
    """A suite's port, moved by B12_TEST_PORT_OFFSET so that two checkouts can test side by side."""
    return number + settings.get("B12_TEST_PORT_OFFSET")


def clean_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The basics of the caller's environment and the harness's own settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k in BASICS or k in PASSED_ON or k.startswith("LC_")}
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def read_pid(pidfile: Path) -> int:
    return int(pidfile.read_text().split()[0])


def supervised_pid(run_dir: Path, name: str) -> Optional[int]:
    """The pid of server `name` in `run_dir`, from its supervisord (scripts/serve.sh) when that
    runs: the current process even just after a restart, None while it is down. Without a
    supervisord there, the pid file."""
    conf = run_dir / "supervisord.conf"
    if (run_dir / "supervisor.sock").exists() and conf.exists():
        ctl = Path(settings.get("VENV")) / "bin" / "supervisorctl"
        done = subprocess.run([str(ctl), "-c", str(conf), "pid", name], capture_output=True, text=True, timeout=30)
        if done.stdout.strip().isdigit():
            return int(done.stdout) or None
    path = run_dir / f"{name}.pid"
    return read_pid(path) if path.exists() else None


class Stack:
    """The assistant (action server + Rasa server, optionally the demo page) through
    scripts/serve.sh, on `rasa_port` and `actions_port`, in `home` (a new temporary folder when
    None): `home`/run for pid files and logs, `home`/data/tracker.db for the conversations.
    `env` is added to the clean environment of every start and stop."""

    def __init__(
        self,
        rasa_port: int,
        actions_port: int,
        home: Optional[Path | str] = None,
        env: Optional[Mapping[str, str]] = None,
        web_port: Optional[int] = None,
    ) -> None:
        self.temporary = home is None
        self.home = Path(tempfile.mkdtemp(prefix="b12-stack-")) if home is None else settings.resolve(home)
        self.run_dir = self.home / "run"
        self.db = self.home / "data" / "tracker.db"
        self.archive = self.home / "old-logs"
        self.archive.mkdir(parents=True, exist_ok=True)
        self.rasa_port, self.actions_port, self.web_port = rasa_port, actions_port, web_port
        self.extra = dict(env or {})
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def webhook(self) -> str:
        return webhook(self.url)

    def env(self, **extra: str) -> Dict[str, str]:
        base = {
            "RUN_DIR": str(self.run_dir),
            "TRACKER_DB": str(self.db),
            "RASA_PORT": str(self.rasa_port),
            "ACTIONS_PORT": str(self.actions_port),
            "RASA_START_TIMEOUT": "240",
        }
        if self.web_port:
            base.update(WEB_PORT=str(self.web_port), SERVE_WEB="1")
        return clean_env({**base, **self.extra, **extra})

    def serve(self, command: str, *args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
        """scripts/serve.sh `command` `args`; with check, a failure fails the test with the log's end."""
        done = subprocess.run(
            [str(ROOT / "scripts" / "serve.sh"), command, *args],
            cwd=ROOT,
            env=self.env(**extra),
            timeout=300,
            capture_output=True,
            text=True,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"scripts/serve.sh {command} failed ({self.run_dir}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        return done

    def start(self, **extra: str) -> None:
        self.serve("start", **extra)

    def stop(self) -> None:
        self.serve("stop", check=False)

    def stop_one(self, name: str) -> None:
        """Stop one server through its supervisor: it stays down until the next start()."""
        self.serve("stop-one", name)

    def pid(self, name: str) -> Optional[int]:
        """The running process of server `name` (actions, rasa, web): None when it does not run."""
        return supervised_pid(self.run_dir, name)

    def keep_logs(self) -> None:
        """serve.sh starts each server with a fresh log: keep the old one (for the privacy checks)."""
        self.restarts += 1
        for name in ("rasa.log", "actions.log"):
            if (self.run_dir / name).exists():
                shutil.copy(self.run_dir / name, self.archive / f"{self.restarts}-{name}")

    def log_files(self) -> List[Path]:
        return sorted(self.archive.glob("*.log")) + sorted(self.run_dir.glob("*.log"))

    def log(self, name: str = "rasa") -> str:
        path = self.run_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def engine(self):
        import sqlalchemy as sa

        return sa.create_engine(f"sqlite:///{self.db}")

    def remove(self) -> None:
        """Delete a temporary home, unless B12_KEEP_TEST_DIR=1 keeps it to look at a failure."""
        if self.temporary and not settings.get("B12_KEEP_TEST_DIR"):
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> "Stack":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class Cluster:
    """scripts/cluster.sh (nginx, two Rasa processes, one action server, PostgreSQL, Redis) in a
    temporary folder, on the given ports, from a clean environment."""

    def __init__(self, nginx: int, rasa_ports: List[int], actions: int, pg: int, redis: int) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="b12-cluster-"))
        self.home.chmod(0o755)  # PostgreSQL runs as the `postgres` user and must reach its data dir
        self.ports = {"nginx": nginx, "actions": actions, "pg": pg, "redis": redis}
        self.rasa_ports = list(rasa_ports)
        self.env = clean_env(
            {
                "RUN_DIR": str(self.home),
                "NGINX_PORT": str(nginx),
                "RASA_PORTS": " ".join(map(str, rasa_ports)),
                "CLUSTER_ACTIONS_PORT": str(actions),
                "PG_PORT": str(pg),
                "CLUSTER_REDIS_PORT": str(redis),
            }
        )

    def all_ports(self) -> List[int]:
        return [*self.ports.values(), *self.rasa_ports]

    def run(self, command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ROOT / "scripts" / "cluster.sh"), command],
            cwd=ROOT,
            env=self.env,
            check=check,
            timeout=900,
            capture_output=True,
            text=True,
        )

    def secrets(self) -> Dict[str, str]:
        lines = (self.home / "cluster" / "secrets.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def db_env(self) -> Dict[str, str]:
        env = dict(self.env, DB_HOST="127.0.0.1", DB_PORT=str(self.ports["pg"]), DB_NAME="rasa", DB_USER="rasa")
        env["DB_PASSWORD"] = self.secrets()["DB_PASSWORD"]
        return env

    def engine(self):
        import sqlalchemy as sa

        password = self.secrets()["DB_PASSWORD"]
        return sa.create_engine(f"postgresql://rasa:{password}@127.0.0.1:{self.ports['pg']}/rasa")

    def pidfile(self, port: int) -> Path:
        return self.home / "cluster" / f"rasa-{port}" / "rasa.pid"

    def pid(self, name: str, port: Optional[int] = None) -> Optional[int]:
        """The running process of the action server, or of the Rasa process on `port` (each runs
        under a supervisord of its own, scripts/serve.sh): None when it does not run."""
        return supervised_pid(self.home / "cluster" / (f"rasa-{port}" if name == "rasa" else name), name)

    def remove(self) -> None:
        if not settings.get("B12_KEEP_TEST_DIR"):
            shutil.rmtree(self.home, ignore_errors=True)
