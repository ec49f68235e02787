"""Fixtures for the what-if page: a real ``reachplan serve`` process and a real browser.

- ``tiny_plan_dir``: the tiny hand-checkable plan (:func:`tests.conftest.tiny_tables`)
  written as a plan directory once per session (a page on it starts in about a second).
- ``served``: a factory ``served(*args) -> Served`` that starts
  ``python -m reachplan.cli serve --port 0 *args`` in a subprocess, reads the address line
  it prints (with a timeout; the process's stderr in the failure message) and stops the
  process at teardown.
- ``browser_page``: a Playwright page in Debian's headless chromium (``/usr/bin/chromium``,
  nothing downloaded) that records console errors and every request; requests to any
  host but this machine are aborted (and still recorded), so a test can never reach the
  network. Skipped, with the reason, only where ``/usr/bin/chromium`` is absent.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's chromium, driven by Playwright (never ``playwright install``)."""

START_TIMEOUT = 90.0
"""Seconds to wait for the address line (loading the default plan on a busy machine)."""

ADDRESS_PREFIX = "reachplan what-if: "


@dataclass
class Served:
    """A running ``reachplan serve``.

    Attributes
    ----------
    url
        The address exactly as printed (with ``?token=...`` when there is one).
    base_url
        The address without the query: ``http://HOST:PORT/``.
    token
        The access token of the printed address, ``None`` on loopback.
    host_header
        ``HOST:PORT`` of the printed address (the Host header to send).
    port
        The port it listens on.
    process
        The subprocess (stdout and stderr are pipes; stdout after the address line is
        still being read into :attr:`stdout_lines`).
    stderr_path
        The file stderr goes to (read it with :meth:`stderr`).
    """

    url: str
    base_url: str
    token: str | None
    host_header: str
    port: int
    process: subprocess.Popen
    stderr_path: Path
    stdout_lines: list[str] = field(default_factory=list)

    def stderr(self) -> str:
        """What the server wrote to stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``sig`` and wait for the exit code (killed after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def serve_command(*args: str) -> list[str]:
    """The ``reachplan serve`` command line (this interpreter), ``--port 0`` first."""
    return [sys.executable, "-m", "reachplan.cli", "serve", "--port", "0", *args]


@pytest.fixture(scope="session")
def tiny_plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny plan written as a plan directory (CSV files and workbook)."""
    from reachplan.reports.template import write_template
    from tests.conftest import tiny_tables

    directory = tmp_path_factory.mktemp("plans") / "tiny"
    write_template(tiny_tables(), directory)
    return directory


def start_server(*args: str, stderr_path: Path, timeout: float = START_TIMEOUT) -> Served:
    """Start ``reachplan serve --port 0 *args`` and return it once it printed its address.

    Fails the test (with the process's output) when it exits or prints no address within
    ``timeout`` seconds. The caller stops it (:meth:`Served.stop`).
    """
    with stderr_path.open("wb") as err:
        process = subprocess.Popen(
            serve_command(*args),
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    lines: queue.Queue[str | None] = queue.Queue()
    stdout_lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stdout_lines.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    address = None
    while address is None:
        left = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(left, 0.01))
        except queue.Empty:
            line, left = None, 0
        if line is not None and line.startswith(ADDRESS_PREFIX):
            address = line[len(ADDRESS_PREFIX):].strip()
        elif line is None:
            process.kill()
            process.wait(timeout=10)
            why = "exited" if left > 0 else f"printed no address within {timeout:.0f} s"
            pytest.fail(
                f"reachplan serve {' '.join(args)} {why} (exit {process.returncode}); "
                f"stdout: {''.join(stdout_lines)!r}; stderr: "
                f"{stderr_path.read_text(errors='replace')!r}"
            )
    parts = urlsplit(address)
    return Served(
        url=address,
        base_url=f"{parts.scheme}://{parts.netloc}/",
        token=parse_qs(parts.query).get("token", [None])[0],
        host_header=parts.netloc,
        port=int(parts.port or 80),
        process=process,
        stderr_path=stderr_path,
        stdout_lines=stdout_lines,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Factory: ``served(*args)`` starts ``reachplan serve --port 0 *args`` and returns it
    once it printed its address; every process started is stopped at teardown."""
    started: list[Served] = []

    def start(*args: str, timeout: float = START_TIMEOUT) -> Served:
        stderr_path = tmp_path / f"serve-{len(started)}.stderr"
        server = start_server(*args, stderr_path=stderr_path, timeout=timeout)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


_LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@pytest.fixture
def browser_page() -> Iterator[object]:
    """A Playwright page in headless system chromium, recording what a test checks.

    The page (``playwright.sync_api.Page``) gets two lists: ``console_errors`` (console
    messages of type error and uncaught page errors, as text) and ``request_urls``
    (every request the page made, in order). Requests to a host other than this machine
    are aborted, after being recorded.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: the browser tests need Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context()
            page = context.new_page()
            console_errors: list[str] = []
            request_urls: list[str] = []
            page.console_errors = console_errors  # type: ignore[attr-defined]
            page.request_urls = request_urls  # type: ignore[attr-defined]
            page.on("console", lambda m: console_errors.append(m.text)
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: console_errors.append(f"page error: {e}"))
            page.on("request", lambda r: request_urls.append(r.url))

            def only_local(route: object) -> None:
                host = urlsplit(route.request.url).hostname or ""  # type: ignore[attr-defined]
                if host in _LOCAL_HOSTS:
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    route.abort()  # type: ignore[attr-defined]

            context.route("**/*", only_local)
            yield page
        finally:
            browser.close()
