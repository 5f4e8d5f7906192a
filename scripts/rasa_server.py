"""Run `rasa run ...` the way this project needs it:

    python scripts/rasa_server.py run --model ... [other `rasa run` arguments]

- From the project root: relative paths in config.yml (the spaCy pipeline) and endpoints.yml
  mean the project's, whatever the working directory. Relative arguments are read from the
  caller's working directory first.
- RASA_API_TOKEN: with --enable-api, added as `--auth-token` after the process has started,
  so the token never appears in the process's command line (`ps`, /proc/PID/cmdline).
  --enable-api without a token (or --jwt-secret) is refused.
- Log redaction (extensions/redaction.py) and the runtime fixes (extensions/fixes.py:
  ACTION_TIMEOUT, pool_pre_ping, and the two speed fixes unless SPEED_FIXES=0).
- RASA_TELEMETRY_ENABLED defaults to false: Rasa's telemetry and its Sentry error reports,
  whose exception messages can quote a user's data, stay off unless explicitly enabled.
Settings: b12/settings.py (`python -m b12.settings` lists them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Every `rasa run` option that names a file or folder.
PATH_OPTIONS = (
    "--model",
    "-m",
    "--endpoints",
    "--credentials",
    "--log-file",
    "--ssl-certificate",
    "--ssl-keyfile",
    "--ssl-ca-file",
)


def absolute_paths(argv: list[str], cwd: Path) -> list[str]:
    """`argv` with the values of path options made absolute from `cwd`, in both the
    `--option value` and the `--option=value` forms."""
    out = list(argv)
    for i, arg in enumerate(out):
        name, eq, value = arg.partition("=")
        if eq and name in PATH_OPTIONS and value and not Path(value).is_absolute():
            out[i] = f"{name}={cwd / value}"
        elif arg in PATH_OPTIONS and i + 1 < len(out) and not Path(out[i + 1]).is_absolute():
            out[i + 1] = str(cwd / out[i + 1])
    return out


def main() -> None:
    # The project root first, so credentials.yml's `extensions.channels.*` and the config's
    # `extensions.components.*` import, instead of scripts/, whose file names could shadow modules.
    sys.path[0] = str(ROOT)
    from b12 import settings
    from extensions import fixes, redaction
    from extensions.channels import check_rate_limit

    try:
        settings.check()  # a bad value stops here, naming the variable
        check_rate_limit()
    except settings.SettingError as e:
        sys.exit(f"b12/settings.py: {e}")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", settings.raw("RASA_TELEMETRY_ENABLED"))
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    argv = absolute_paths(sys.argv[1:], Path.cwd())
    if "--enable-api" in argv and "--jwt-secret" not in argv:
        token = settings.raw("RASA_API_TOKEN") or ""
        if not token:
            sys.exit("--enable-api needs RASA_API_TOKEN in the environment (the HTTP API is never open).")
        if "--auth-token" in argv or "-t" in argv:
            sys.exit("Pass the API token as RASA_API_TOKEN, not on the command line.")
        argv += ["--auth-token", token]
    sys.argv = ["rasa", *argv]
    os.chdir(ROOT)

    redaction.install()
    fixes.apply_rasa_fixes()

    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
