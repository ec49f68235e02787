"""Serving the what-if page safely: waitress, a Host check and an access token.

The page is a Dash application (:func:`reachplan.web.app.create_app`); this module serves
it with waitress, a pure-Python production WSGI server that runs the same on Linux,
macOS and Windows (Flask's own development server is not meant for serving). Choices
and their reasons: ``docs/whatif.md``.

Safe by default:

- :func:`serve` binds 127.0.0.1 unless told otherwise; any other interface is an explicit
  ``--host`` and then needs an access token (``reachplan serve`` makes one per start
  with :func:`secrets.token_urlsafe` and prints it in the address).
- :func:`guard` refuses a request whose ``Host`` header is not an address of this
  server (a web page on another site that rebinds its DNS name to 127.0.0.1 sends its
  own name: refused, so it cannot read the page), and, with a token, any request that
  does not carry it.
- :func:`harden` turns every error of the page into a short plain-text answer: never a
  traceback, never Flask's debugger, never a script or style from a CDN.

Nothing here prints: :func:`serve` hands the address to its ``echo`` callable.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from reachplan.model.errors import ReachplanError

if TYPE_CHECKING:
    import dash

__all__ = [
    "TOKEN_COOKIE",
    "TOKEN_HEADER",
    "TOKEN_QUERY",
    "PortInUseError",
    "allowed_hosts_for",
    "display_host",
    "guard",
    "harden",
    "is_loopback",
    "listen",
    "page_url",
    "serve",
]

TOKEN_QUERY = "token"
"""The query parameter that carries the token once (the printed address has it)."""

TOKEN_COOKIE = "reachplan_token"
"""The cookie that carries the token after the first visit (``_<port>`` appended by
:func:`serve`: browsers share cookies between ports of one host, so two pages served
side by side keep one cookie each)."""

TOKEN_HEADER = "X-Reachplan-Token"
"""The header a script may send the token in instead (``curl -H``)."""

THREADS = 4
"""Waitress worker threads: a meeting's few browsers, each re-solve on its own thread."""

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)
"""Sent with every answer: no type sniffing, no framing by another site (clickjacking),
no address (with its token) leaked to a link's target."""


class PortInUseError(ReachplanError):
    """The port asked for is taken by another program (pick another with ``--port``)."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} is in use; pick another with --port")
        self.port = port


# ---- addresses ----------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether ``host`` (as given to ``--host``) is this machine only: 127.x, ::1, localhost."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    name = host.strip("[]")
    try:
        return ipaddress.ip_address(name).is_unspecified
    except ValueError:
        return False


def _bracket(host: str) -> str:
    """An IPv6 literal in brackets, as it appears in a URL or a Host header."""
    name = host.strip("[]")
    return f"[{name}]" if ":" in name else name


def display_host(host: str) -> str:
    """The host name the printed address uses.

    ``host`` itself, or this machine's name when bound to every interface (``0.0.0.0``
    or ``::`` is not an address to open).
    """
    if _is_wildcard(host):
        return socket.gethostname().lower() or "localhost"
    return _bracket(host).lower()


def _machine_names() -> set[str]:
    """Names and addresses of this machine (for a server bound to every interface)."""
    names = {socket.gethostname(), socket.getfqdn()}
    with contextlib.suppress(OSError, UnicodeError):
        _, aliases, addresses = socket.gethostbyname_ex(socket.gethostname())
        names.update(aliases)
        names.update(addresses)
    return {name.lower() for name in names if name}


def allowed_hosts_for(host: str, port: int) -> set[str]:
    """The ``Host`` header values a server bound to ``host``:``port`` accepts.

    ``127.0.0.1``, ``localhost``, ``[::1]`` and ``host`` itself, each with the port
    (and without it on port 80, where browsers leave it out). Bound to every interface
    (``0.0.0.0``, ``::``), also this machine's names and addresses: the planners in the
    room open it by one of them. A name an attacker controls is never among them.
    """
    names = {"127.0.0.1", "localhost", "[::1]", _bracket(host).lower()}
    if _is_wildcard(host):
        names |= {_bracket(name) for name in _machine_names()}
        names.add(display_host(host))
    allowed = {f"{name}:{port}" for name in names}
    if port == 80:
        allowed |= names
    return allowed


def page_url(host: str, port: int, token: str | None) -> str:
    """The address to open: ``http://HOST:PORT/``, with ``?token=...`` when there is one."""
    url = f"http://{display_host(host)}:{port}/"
    if token is not None:
        url += "?" + urlencode({TOKEN_QUERY: token})
    return url


# ---- the guard ----------------------------------------------------------------------------


def _plain(
    start_response: Callable[..., Any],
    status: str,
    text: str,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    body = (text + "\n").encode("utf-8")
    start_response(status, [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *_SECURITY_HEADERS,
        *headers,
    ])
    return [body]


def _same_token(given: str | None, token: str) -> bool:
    """Constant-time comparison (:func:`hmac.compare_digest`), any text accepted."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8"))


def _cookie(environ: dict[str, Any], name: str) -> str | None:
    raw = environ.get("HTTP_COOKIE", "")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return None if morsel is None else morsel.value


def guard(
    wsgi_app: WSGIApp,
    *,
    allowed_hosts: set[str],
    token: str | None,
    cookie_name: str = TOKEN_COOKIE,
) -> WSGIApp:
    """``wsgi_app`` behind a Host check and, when ``token`` is set, an access token.

    Parameters
    ----------
    wsgi_app
        The application to protect (a Dash page's ``app.server``).
    allowed_hosts
        The ``Host`` header values to serve (:func:`allowed_hosts_for`), compared without
        regard to case. A request with another Host, or none, gets ``421 Misdirected
        Request`` (``400`` when the header is missing): this is the defence against DNS
        rebinding, where a foreign web page reaches 127.0.0.1 under its own name.
    token
        ``None``: no token (the loopback default). Otherwise every request must carry it,
        compared in constant time, in one of three ways:

        - ``?token=...`` in the query: the answer is a ``303`` redirect to the same
          address without the token, setting an ``HttpOnly``, ``SameSite=Strict`` cookie
          (so the token leaves the address bar, the history and any shared screen);
        - that cookie (``cookie_name``), which the browser then sends by itself;
        - an ``X-Reachplan-Token`` header (scripts).

        A missing or wrong token gets ``403``. Every refusal is short plain text.
    cookie_name
        The cookie's name (:func:`serve` adds the port).

    Every answer, refused or not, also carries ``X-Content-Type-Options: nosniff``,
    ``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer``.
    """
    hosts = {h.lower() for h in allowed_hosts}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST")
        if not host:
            return _plain(start_response, "400 Bad Request", "Bad request: no Host header.")
        if host.lower() not in hosts:
            return _plain(
                start_response,
                "421 Misdirected Request",
                "Refused: this page answers only to its own address "
                "(the Host header names another site).",
            )
        if token is not None:
            query = environ.get("QUERY_STRING", "")
            pairs = parse_qsl(query, keep_blank_values=True)
            given = [value for key, value in pairs if key == TOKEN_QUERY]
            if given:
                if not (len(given) == 1 and _same_token(given[0], token)):
                    return _plain(start_response, "403 Forbidden",
                                  "Refused: wrong access token.")
                rest = urlencode([(k, v) for k, v in pairs if k != TOKEN_QUERY])
                path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "") or "/"
                location = path + ("?" + rest if rest else "")
                cookie = f"{cookie_name}={token}; Path=/; HttpOnly; SameSite=Strict"
                return _plain(
                    start_response,
                    "303 See Other",
                    "Access granted; continue at " + location,
                    [("Location", location), ("Set-Cookie", cookie)],
                )
            header = environ.get("HTTP_" + TOKEN_HEADER.upper().replace("-", "_"))
            if not (_same_token(_cookie(environ, cookie_name), token)
                    or _same_token(header, token)):
                return _plain(
                    start_response,
                    "403 Forbidden",
                    "Refused: this page needs its access token. Open the address "
                    "`reachplan serve` printed (with ?token=...).",
                )

        def forward(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            present = {name.lower() for name, _ in headers}
            extra = [(n, v) for n, v in _SECURITY_HEADERS if n.lower() not in present]
            return start_response(status, [*headers, *extra], *rest)

        return wsgi_app(environ, forward)

    return app


# ---- the page's errors --------------------------------------------------------------------


def harden(app: dash.Dash) -> None:
    """Make ``app`` safe to serve: no debugger, no traceback page, no CDN.

    Every error answers with one line of plain text: an HTTP error (404, 405, ...) with
    its name, anything else with ``500`` and "Internal error" (the traceback goes to the
    ``reachplan.web`` logger, i.e. stderr, never to the browser). Handlers the page
    registers for its own exception types still win (Flask picks the most specific).

    Raises
    ------
    ValueError
        When the page would load a script or style from another site
        (``serve_locally=False``, ``external_scripts``, ``external_stylesheets``): the
        page must open with no network.
    """
    from werkzeug.exceptions import HTTPException

    external = [
        *(app.config.get("external_scripts") or []),
        *(app.config.get("external_stylesheets") or []),
    ]
    if not app.config.serve_locally or external:
        raise ValueError("the what-if page must serve its own scripts and styles "
                         f"(serve_locally=True, no external resources): {external}")
    server = app.server
    server.debug = False
    server.config["PROPAGATE_EXCEPTIONS"] = False
    server.config["DEBUG"] = False
    log = logging.getLogger("reachplan.web")

    def http_error(exc: HTTPException) -> tuple[str, int, dict[str, str]]:
        code = exc.code or 500
        return f"{code} {exc.name}\n", code, {"Content-Type": "text/plain; charset=utf-8"}

    def any_error(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.error("the page failed: %s", exc, exc_info=exc)
        return ("Internal error: the page could not answer this request.\n", 500,
                {"Content-Type": "text/plain; charset=utf-8"})

    server.register_error_handler(HTTPException, http_error)
    server.register_error_handler(Exception, any_error)


# ---- serving ------------------------------------------------------------------------------


def _quiet_waitress() -> None:
    """Waitress logs to the ``waitress`` logger: errors only, on stderr."""
    log = logging.getLogger("waitress")
    log.setLevel(logging.ERROR)
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("waitress: %(message)s"))
        log.addHandler(handler)
    log.propagate = False
    web = logging.getLogger("reachplan.web")
    if not web.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("error: %(message)s"))
        web.addHandler(handler)
        web.setLevel(logging.ERROR)
        web.propagate = False


_IN_USE = {errno.EADDRINUSE, 10048}
"""A port another program listens on (10048: Windows' WSAEADDRINUSE)."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (its first address; port 0: a free one).

    ``reachplan serve`` binds first, before loading the plan, so a port in use is
    reported at once; :func:`serve` binds itself when not given a socket.

    Raises
    ------
    PortInUseError
        When another program listens on ``port``.
    ReachplanError
        When ``host`` is not an address of this machine, or the port cannot be used.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ReachplanError(f"--host {host}: not an address of this machine ({exc})") from exc
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":  # allows a restart right after a stop (TIME_WAIT), not sharing
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno in _IN_USE:
            raise PortInUseError(port) from exc
        raise ReachplanError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def serve(
    app: dash.Dash,
    *,
    host: str,
    port: int,
    token: str | None,
    echo: Callable[[str], None],
    sock: socket.socket | None = None,
) -> None:
    """Serve ``app`` on ``host``:``port`` until Ctrl-C or SIGTERM, then return.

    Parameters
    ----------
    app
        The page (:func:`reachplan.web.app.create_app`); :func:`harden` is applied.
    host, port
        Where to listen; ``port`` 0 picks a free port (the address given to ``echo``
        has the real one).
    token
        The access token every request must carry (:func:`guard`), or ``None``. A
        ``host`` other than loopback without a token is refused (``ValueError``).
    echo
        Called once with the page's address (:func:`page_url`) as soon as the port
        listens, before the first request is answered.
    sock
        A socket already bound to ``host``:``port`` (:func:`listen`); it is closed when
        serving ends. ``None``: bind here.

    Raises
    ------
    PortInUseError
        When another program listens on ``port``.
    ReachplanError
        When ``host`` is not an address of this machine.
    """
    if token is None and not is_loopback(host):
        raise ValueError(f"serving on {host} needs an access token")
    if sock is None:
        sock = listen(host, port)
    try:
        harden(app)
        _quiet_waitress()
        real_port = sock.getsockname()[1]
        guarded = guard(
            app.server,
            allowed_hosts=allowed_hosts_for(host, real_port),
            token=token,
            cookie_name=f"{TOKEN_COOKIE}_{real_port}",
        )
        import waitress

        server = waitress.create_server(
            guarded, sockets=[sock], threads=THREADS, ident="reachplan",
            expose_tracebacks=False,
        )
    except BaseException:
        sock.close()
        raise
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        # run() returns on KeyboardInterrupt (Ctrl-C, or SIGTERM below); one raised before
        # waitress's loop started ends the serving just the same
        with contextlib.suppress(KeyboardInterrupt):
            echo(page_url(host, real_port, token))
            server.run()
    finally:
        with contextlib.suppress(Exception):
            server.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the server as Ctrl-C does."""
    raise KeyboardInterrupt
