"""Real nginx and gunicorn processes for the production tests, on free loopback ports.

nginx's configuration is rendered by scripts/stack.sh from nginx/ (the same templates as
`make stack` and the nginx image), so these tests check the files that are deployed.
Free ports and the test database's URL come from tests/production/servers.py.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conditions import need

ROOT = Path(__file__).resolve().parents[2]
STACK_SCRIPT = ROOT / "scripts" / "stack.sh"


def need_nginx() -> None:
    need(shutil.which("nginx") is not None,
         "nginx is not installed: `apt-get install nginx-light` to run the production tests")
    need(shutil.which("envsubst") is not None,
         "envsubst is not installed: `apt-get install gettext-base` to render nginx's template")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def cookies(self) -> dict[str, str]:
        found = {}
        for line in self.headers.get_all("Set-Cookie") or []:
            name, _, rest = line.partition("=")
            found[name.strip()] = rest.split(";", 1)[0]
        return found


def http_request(port: int, method: str, path: str, *, headers: dict | None = None,
                 body: bytes | None = None, timeout: float = 30) -> Response:
    """One request to 127.0.0.1:port; redirects are not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()


def wait_for_http(port: int, path: str, *, seconds: float, process: subprocess.Popen | None = None,
                  log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}:\n{_tail(log)}")
        try:
            if http_request(port, "GET", path, timeout=5).status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer on port {port}{path} after {seconds} s:\n{_tail(log)}")
        time.sleep(0.1)


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-40:])


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def render_nginx(folder: Path, *, listen_port: int, upstream: str, static_root: Path,
                 media_root: Path, max_body_size: str) -> Path:
    """nginx.conf for the given values, rendered by scripts/stack.sh; returns its path."""
    env = dict(os.environ, LISTEN_PORT=str(listen_port), UPSTREAM=upstream,
               STATIC_ROOT=str(static_root), MEDIA_ROOT=str(media_root), MAX_BODY_SIZE=max_body_size)
    subprocess.run(["bash", str(STACK_SCRIPT), "render-nginx", str(folder)], env=env, check=True,
                   capture_output=True, text=True, timeout=30)
    return folder / "nginx.conf"


def nginx_test(config: Path) -> subprocess.CompletedProcess:
    """`nginx -t` on a rendered configuration."""
    folder = config.parent
    return subprocess.run(["nginx", "-t", "-e", str(folder / "nginx-error.log"), "-p", str(folder),
                           "-c", str(config)], capture_output=True, text=True, timeout=30)


def start_nginx(config: Path) -> subprocess.Popen:
    """nginx in the foreground (its master is this child process)."""
    folder = config.parent
    return subprocess.Popen(
        ["nginx", "-e", str(folder / "nginx-error.log"), "-p", str(folder), "-c", str(config),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def start_gunicorn(*, port: int, env: dict, log: Path) -> subprocess.Popen:
    """gunicorn with the project's configuration file, on 127.0.0.1:port."""
    env = dict(env, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1", GUNICORN_THREADS="4")
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "lesions_project" / "gunicorn.conf.py"),
             "lesions_project.wsgi"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = "----lesions-test-boundary-7f3a9c"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data, content_type) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
