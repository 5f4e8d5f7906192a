"""The demo page with the chat widget: web/ on 127.0.0.1, with security headers.

    python scripts/web_server.py [--port WEB_PORT] [--server WEB_ASSISTANT_URL]

Standard library only (`http.server`), one thread per request (a slow visitor does not stall
another). It serves the plain files in web/ (no folders, no dot files, no listing) with a
Content-Security-Policy (scripts and styles from this page's origin only, requests only to the
assistant server, no framing), `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`
and `X-Frame-Options: DENY`. index.html is sent with its widget pointed at the assistant server
(WEB_ASSISTANT_URL, default http://localhost:$RASA_PORT), the same URL the policy allows.

Staff report: with STAFF_REPORT_TOKEN set, GET /staff/report serves the last `make report`
(reports/content.html) to a request with `Authorization: Bearer <token>` (compared in constant
time), never cached; anything else gets 401 and no report. Without the token the URL does not
exist (404, as any unknown path).
"""

from __future__ import annotations

import argparse
import hmac
import html
import mimetypes
import re
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from b12 import settings  # noqa: E402

WEB = settings.ROOT / "web"
STAFF_PATH = "/staff/report"
STAFF_REPORT = settings.ROOT / "reports" / "content.html"
# The report's own policy: inline styles and SVG only, nothing fetched, no script.
STAFF_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'"
)
HOST = "127.0.0.1"
FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}")  # one plain name: no folder, no dot file
NETLOC = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")  # a host and port, nothing else
SERVER_ATTRIBUTE = re.compile(r'data-server="[^"<>]*"')
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


def assistant_origin(url: str) -> str:
    """scheme://host[:port] of the assistant server; only https:, or http: on this machine (the
    widget's own rule: a patient's messages never cross a network unencrypted)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not NETLOC.fullmatch(parts.netloc):
        raise ValueError(f"WEB_ASSISTANT_URL={url!r}: expected an http(s) URL such as https://assistant.example.org")
    if parts.scheme == "http" and not settings.is_loopback(parts.hostname):
        raise ValueError(f"WEB_ASSISTANT_URL={url!r}: use https:// (http:// only on this machine, e.g. localhost)")
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(server: str) -> dict:
    csp = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {assistant_origin(server)}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-cache",
    }


def page(text: str, server: str) -> str:
    """index.html with its one widget tag's data-server set to `server`."""
    found = SERVER_ATTRIBUTE.findall(text)
    if len(found) != 1:
        raise ValueError(f"web/index.html: expected one data-server attribute, found {len(found)}")
    return SERVER_ATTRIBUTE.sub(lambda _: f'data-server="{html.escape(server.rstrip("/"), quote=True)}"', text)


def staff_allowed(authorization: str | None, token: str) -> bool:
    """Whether an Authorization header carries the staff token (constant-time comparison)."""
    given = (authorization or "").encode("utf-8", "replace")
    return hmac.compare_digest(given, f"Bearer {token}".encode("utf-8"))


def handler(server: str, root: Path = WEB, staff_token: str | None = None, staff_report: Path = STAFF_REPORT):
    headers = security_headers(server)

    class Handler(BaseHTTPRequestHandler):
        server_version = "b12-demo"
        sys_version = ""

        def end_headers(self):
            staff = getattr(self, "_staff", False)
            for name, value in headers.items():
                if staff and name in ("Content-Security-Policy", "Cache-Control"):
                    continue
                self.send_header(name, value)
            if staff:
                self.send_header("Content-Security-Policy", STAFF_CSP)
                self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def staff(self, send_body: bool) -> None:
            """The staff report, to the token's holder only."""
            self._staff = True
            if not staff_allowed(self.headers.get("Authorization"), staff_token):
                self.send_response(HTTPStatus.UNAUTHORIZED)
                data = b"<!doctype html><title>Refused</title><h1>Refused: the staff report needs its token.</h1>\n"
                self.send_header("WWW-Authenticate", 'Bearer realm="staff report"')
            elif not staff_report.is_file():
                self.send_response(HTTPStatus.NOT_FOUND)
                data = b"<!doctype html><title>No report</title><h1>No report yet: run make report.</h1>\n"
            else:
                self.send_response(HTTPStatus.OK)
                data = staff_report.read_bytes()
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if send_body:
                self.wfile.write(data)

        def body(self):
            path = self.path.split("?", 1)[0].split("#", 1)[0]  # as sent: no decoding, no folders
            name = "index.html" if path == "/" else path[1:]
            file = root / name
            if not FILE_NAME.fullmatch(name) or not file.is_file():
                return None
            data = file.read_bytes()
            if name == "index.html":
                data = page(data.decode("utf-8"), server).encode("utf-8")
            kind = TYPES.get(file.suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
            return kind, data

        def do_GET(self, send_body=True):  # noqa: N802 - http.server's naming
            if staff_token and self.path.split("?", 1)[0] == STAFF_PATH:
                self.staff(send_body)
                return
            found = self.body()
            if found is None:
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            kind, data = found
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if send_body:
                self.wfile.write(data)

        def do_HEAD(self):  # noqa: N802
            self.do_GET(send_body=False)

    return Handler


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="default: WEB_PORT")
    parser.add_argument("--server", default=None, help="the assistant server (default: WEB_ASSISTANT_URL)")
    args = parser.parse_args(argv)
    try:
        port = settings.get("WEB_PORT") if args.port is None else args.port
        server = args.server or settings.web_assistant_url()
        made = handler(server, staff_token=settings.get("STAFF_REPORT_TOKEN"))
        page((WEB / "index.html").read_text(), server)
    except (ValueError, settings.SettingError) as e:
        print(f"scripts/web_server.py: {e}", file=sys.stderr)
        return 2
    httpd = ThreadingHTTPServer((HOST, port), made)
    httpd.daemon_threads = True
    print(f"Demo page on http://{HOST}:{port}/ (widget -> {server})", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
