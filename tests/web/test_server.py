"""Serving the what-if page: Host check, access token, errors, start and stop.

Unit tests drive :func:`reachplan.web.server.guard` with a trivial WSGI application; the
others start the real ``reachplan serve`` in a subprocess (``served`` fixture) and talk
to it with :mod:`http.client`, always connecting to 127.0.0.1 only (bound to every
interface too: the Host header then names the printed host, the connection stays local).
"""

from __future__ import annotations

import hmac
import http.client
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from reachplan.web import server as web_server
from reachplan.web.server import (
    PortInUseError,
    allowed_hosts_for,
    guard,
    harden,
    is_loopback,
    page_url,
)
from tests.web.conftest import Served, serve_command, start_server

# ---- guard() with a trivial application -------------------------------------------------

HOSTS = {"127.0.0.1:8050", "localhost:8050"}
TOKEN = "s3cret-Token_value"


def hello(environ, start_response):
    body = f"hello {environ.get('PATH_INFO', '')}?{environ.get('QUERY_STRING', '')}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Frame-Options", "SAMEORIGIN")])
    return [body]


def call(app, *, host="127.0.0.1:8050", path="/", query="", headers=None):
    """Run one request through a WSGI app: (status code, headers dict of lists, body)."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
               "SCRIPT_NAME": ""}
    if host is not None:
        environ["HTTP_HOST"] = host
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"] = int(status.split()[0])
        seen["headers"] = {}
        for name, value in response_headers:
            seen["headers"].setdefault(name.lower(), []).append(value)

    body = b"".join(app(environ, start_response)).decode()
    return seen["status"], seen["headers"], body


def test_guard_serves_its_own_host_and_adds_the_security_headers():
    app = guard(hello, allowed_hosts=HOSTS, token=None)
    status, headers, body = call(app, host="LOCALHOST:8050", path="/x", query="a=1")
    assert (status, body) == (200, "hello /x?a=1")
    assert headers["x-content-type-options"] == ["nosniff"]
    assert headers["referrer-policy"] == ["no-referrer"]
    assert headers["x-frame-options"] == ["SAMEORIGIN"]  # the app's own header is kept


@pytest.mark.parametrize("host", ["evil.example:8050", "127.0.0.1:8051", "127.0.0.1",
                                  "127.0.0.1:8050.evil.example", "localhost.:8050"])
def test_guard_refuses_a_foreign_host_in_plain_text(host):
    app = guard(hello, allowed_hosts=HOSTS, token=None)
    status, headers, body = call(app, host=host)
    assert status == 421
    assert headers["content-type"] == ["text/plain; charset=utf-8"]
    assert body.startswith("Refused: this page answers only to its own address")
    assert "hello" not in body


def test_guard_refuses_a_request_without_host():
    status, headers, body = call(guard(hello, allowed_hosts=HOSTS, token=None), host=None)
    assert status == 400 and body == "Bad request: no Host header.\n"


def test_guard_checks_the_host_before_the_token():
    app = guard(hello, allowed_hosts=HOSTS, token=TOKEN)
    assert call(app, host="evil.example", query=f"token={TOKEN}")[0] == 421


@pytest.mark.parametrize("query, headers", [
    ("", {}),
    ("token=wrong", {}),
    ("token=", {}),
    (f"token={TOKEN}x", {}),
    (f"token={TOKEN}&token=wrong", {}),
    ("", {"Cookie": "reachplan_token=wrong"}),
    ("", {"Cookie": f"other={TOKEN}"}),
    ("", {"Cookie": "not a cookie;;;=\x00"}),
    ("", {"X-Reachplan-Token": TOKEN[:-1]}),
])
def test_guard_refuses_a_missing_or_wrong_token(query, headers):
    status, response_headers, body = call(
        guard(hello, allowed_hosts=HOSTS, token=TOKEN), query=query, headers=headers)
    assert status == 403
    assert body.startswith("Refused:") and "hello" not in body
    assert "set-cookie" not in response_headers


def test_the_token_in_the_query_sets_the_cookie_and_leaves_the_address():
    app = guard(hello, allowed_hosts=HOSTS, token=TOKEN)
    status, headers, _ = call(app, path="/export/a.csv", query=f"funding=60%25&token={TOKEN}&x=1")
    assert status == 303
    assert headers["location"] == ["/export/a.csv?funding=60%25&x=1"]
    cookie = headers["set-cookie"][0]
    assert cookie == f"reachplan_token={TOKEN}; Path=/; HttpOnly; SameSite=Strict"
    status, headers, _ = call(app, query=f"token={TOKEN}")
    assert (status, headers["location"]) == (303, ["/"])


@pytest.mark.parametrize("headers", [
    {"Cookie": f"theme=dark; reachplan_token={TOKEN}"},
    {"X-Reachplan-Token": TOKEN},
])
def test_the_cookie_or_the_header_carry_the_token(headers):
    app = guard(hello, allowed_hosts=HOSTS, token=TOKEN)
    assert call(app, path="/p", headers=headers)[::2] == (200, "hello /p?")


def test_the_cookie_name_is_the_servers():
    app = guard(hello, allowed_hosts=HOSTS, token=TOKEN, cookie_name="reachplan_token_8050")
    assert call(app, headers={"Cookie": f"reachplan_token={TOKEN}"})[0] == 403
    assert call(app, headers={"Cookie": f"reachplan_token_8050={TOKEN}"})[0] == 200
    assert call(app, query=f"token={TOKEN}")[1]["set-cookie"][0].startswith(
        f"reachplan_token_8050={TOKEN};")


def test_the_token_is_compared_in_constant_time(monkeypatch):
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(web_server.hmac, "compare_digest", spy)
    app = guard(hello, allowed_hosts=HOSTS, token=TOKEN)
    assert call(app, headers={"X-Reachplan-Token": TOKEN})[0] == 200
    assert (TOKEN.encode(), TOKEN.encode()) in compared


# ---- addresses ----------------------------------------------------------------------------


def test_allowed_hosts_of_a_loopback_server():
    assert allowed_hosts_for("127.0.0.1", 8050) == {
        "127.0.0.1:8050", "localhost:8050", "[::1]:8050"}
    assert allowed_hosts_for("::1", 8050) == {"127.0.0.1:8050", "localhost:8050", "[::1]:8050"}
    assert allowed_hosts_for("localhost", 80) == {
        "127.0.0.1:80", "localhost:80", "[::1]:80", "127.0.0.1", "localhost", "[::1]"}


def test_allowed_hosts_of_a_server_on_every_interface():
    hosts = allowed_hosts_for("0.0.0.0", 9000)
    assert f"{socket.gethostname().lower()}:9000" in hosts
    assert {"127.0.0.1:9000", "localhost:9000"} <= hosts
    assert all(h.endswith(":9000") for h in hosts)
    assert allowed_hosts_for("192.0.2.7", 9000) == {
        "127.0.0.1:9000", "localhost:9000", "[::1]:9000", "192.0.2.7:9000"}


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
    ("myhost.example", False),
])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_page_url():
    assert page_url("127.0.0.1", 8050, None) == "http://127.0.0.1:8050/"
    assert page_url("::1", 8050, None) == "http://[::1]:8050/"
    assert page_url("192.0.2.7", 81, "a-b_c") == "http://192.0.2.7:81/?token=a-b_c"
    assert page_url("0.0.0.0", 81, "t") == f"http://{socket.gethostname().lower()}:81/?token=t"


# ---- harden(): no traceback, no CDN --------------------------------------------------------


def _dash_app(**kwargs):
    import dash
    from dash import html

    app = dash.Dash(__name__, **kwargs)
    app.layout = html.Div("x")

    @app.server.route("/boom")
    def boom():
        raise RuntimeError("secret internals /home/planner/plan.xlsx")

    return app


def test_harden_answers_errors_in_plain_text_without_traceback(capsys):
    app = _dash_app()
    harden(app)
    client = app.server.test_client()
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.content_type == "text/plain; charset=utf-8"
    assert response.get_data(as_text=True) == (
        "Internal error: the page could not answer this request.\n")
    response = client.post("/_dash-update-component", data="{not json",
                           content_type="application/json")
    assert response.status_code in (400, 500)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()
    response = client.put("/_dash-layout")
    assert (response.status_code, response.get_data(as_text=True)) == (
        405, "405 Method Not Allowed\n")


@pytest.mark.parametrize("kwargs", [
    {"serve_locally": False},
    {"external_scripts": ["https://cdn.example/x.js"]},
    {"external_stylesheets": ["https://cdn.example/x.css"]},
])
def test_harden_refuses_a_page_that_loads_from_elsewhere(kwargs):
    with pytest.raises(ValueError, match="serve its own scripts"):
        harden(_dash_app(**kwargs))


def test_port_in_use_message():
    assert str(PortInUseError(8050)) == "port 8050 is in use; pick another with --port"


# ---- the real server ---------------------------------------------------------------------


def get(server, path="/", *, host=None, headers=None, method="GET", body=None):
    """One request to ``server`` over 127.0.0.1: (status, headers, body text)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host if host is not None else server.host_header)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        data = body.encode() if body is not None else None
        if data is not None:
            connection.putheader("Content-Length", str(len(data)))
        connection.endheaders(data)
        response = connection.getresponse()
        return response.status, response, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


@pytest.fixture(scope="module")
def tiny_server(tiny_plan_dir, tmp_path_factory) -> Iterator[Served]:
    """One loopback server on the tiny plan for the tests that only read from it."""
    server = start_server(str(tiny_plan_dir),
                          stderr_path=tmp_path_factory.mktemp("serve") / "stderr")
    yield server
    server.stop()


def test_loopback_server_serves_the_page_and_refuses_a_foreign_host(tiny_server):
    server = tiny_server
    assert server.url == f"http://127.0.0.1:{server.port}/"
    assert server.token is None and server.port > 0
    status, response, body = get(server)
    assert status == 200 and "<title>reachplan what-if: Tiny</title>" in body
    assert response.getheader("X-Frame-Options") == "DENY"
    assert get(server, host=f"localhost:{server.port}")[0] == 200
    for foreign in (f"attacker.example:{server.port}", "attacker.example",
                    f"127.0.0.1:{server.port + 1}"):
        status, response, body = get(server, host=foreign)
        assert status == 421, foreign
        assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
        assert "Tiny" not in body
    # Dash's own scripts are served by the package (no CDN)
    status, _, layout = get(server, "/_dash-layout")
    assert status == 200 and "funding-amount" in layout
    assert server.stderr() == ""


def test_bad_input_gets_no_traceback(tiny_server):
    server = tiny_server
    status, response, body = get(
        server, "/_dash-update-component", method="POST", body="{not json",
        headers={"Content-Type": "application/json"})
    assert status in (400, 500)
    assert response.getheader("Content-Type").startswith("text/plain")
    assert "Traceback" not in body and "File \"" not in body
    status, _, body = get(server, "/_dash-update-component", method="POST",
                          body='{"output": "nothing..here", "inputs": []}',
                          headers={"Content-Type": "application/json"})
    assert status >= 400 and "Traceback" not in body and "File \"" not in body


def test_a_server_on_every_interface_needs_the_token(served, tiny_plan_dir):
    server = served(str(tiny_plan_dir), "--host", "0.0.0.0")
    token = server.token
    assert token is not None and len(token) >= 24
    assert server.url == f"http://{server.host_header}/?token={token}"
    assert urlsplit(server.url).hostname == socket.gethostname().lower()
    warning = server.stderr()
    assert "warning: --host 0.0.0.0: the page is reachable from the network" in warning
    assert "access token" in warning
    # the Host check still applies, before the token
    assert get(server, f"/?token={token}", host="attacker.example")[0] == 421
    for path, headers in [
        ("/", {}),
        ("/?token=wrong", {}),
        ("/", {"Cookie": f"reachplan_token_{server.port}=wrong"}),
        ("/_dash-layout", {"X-Reachplan-Token": "wrong"}),
    ]:
        status, _, body = get(server, path, headers=headers)
        assert status == 403, (path, headers)
        assert body.startswith("Refused:") and "Tiny" not in body
    status, response, _ = get(server, f"/?token={token}")
    assert status == 303 and response.getheader("Location") == "/"
    cookie = response.getheader("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    name_value = cookie.split(";")[0]
    assert name_value == f"reachplan_token_{server.port}={token}"
    status, _, body = get(server, headers={"Cookie": name_value})
    assert status == 200 and "reachplan what-if: Tiny" in body
    assert get(server, "/_dash-layout", headers={"X-Reachplan-Token": token})[0] == 200
    # the loopback name works too (same port, same token)
    assert get(server, host=f"127.0.0.1:{server.port}",
               headers={"Cookie": name_value})[0] == 200


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(serve_command(*args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def assert_one_error(done: subprocess.CompletedProcess, *fragments: str) -> None:
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ")
    for fragment in fragments:
        assert fragment in last


def test_a_plan_with_errors_is_refused(tiny_plan_dir, tmp_path):
    from reachplan.reports.template import write_template
    from tests.conftest import tiny_tables

    tables = tiny_tables()
    tables["requirements"].loc[0, "requirements_usd"] = -5.0
    broken = tmp_path / "broken"
    write_template(tables, broken)
    (broken / "plan.xlsx").unlink()
    assert_one_error(run_cli(str(broken)), str(broken), "the plan has")


def test_a_bad_scenario_file_is_refused(tiny_plan_dir, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[funding]\nfunding = "sixty percent"\n', encoding="utf-8")
    assert_one_error(run_cli(str(tiny_plan_dir), "--scenario", str(bad)), "bad.toml")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(
        'name = "unknown"\n[funding]\nfunding = "60%"\n'
        '[[funding.earmarks]]\nname = "x"\namount = "USD 10"\nsectors = ["NOSUCH"]\n',
        encoding="utf-8")
    assert_one_error(run_cli(str(tiny_plan_dir), "--scenario", str(unknown)))


def test_a_port_in_use_is_refused(tiny_plan_dir):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "reachplan.cli", "serve", str(tiny_plan_dir),
             "--port", str(port)],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == f"error: port {port} is in use; pick another with --port\n"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stop_it_cleanly(served, tiny_plan_dir, sig):
    server = served(str(tiny_plan_dir))
    assert get(server)[0] == 200
    assert server.stop(sig) == 0
    assert server.stderr() == "reachplan what-if: stopped\n"
    assert server.stdout_lines == [f"reachplan what-if: http://127.0.0.1:{server.port}/\n"]


def test_the_page_opens_offline_with_no_console_error(tiny_server, browser_page):
    server = tiny_server
    page = browser_page
    page.goto(server.url, wait_until="networkidle")
    page.wait_for_selector("#funding-amount", timeout=30_000)
    page.wait_for_function(
        "document.querySelector('#people-reached') && "
        "document.querySelector('#people-reached').textContent.trim() !== ''",
        timeout=30_000)
    assert page.console_errors == []
    assert page.request_urls, "the page made no request"
    origin = f"http://127.0.0.1:{server.port}/"
    assert [u for u in page.request_urls if not u.startswith(origin)] == []
    # Dash's renderer and component scripts came from the package, not a CDN
    assert any("/_dash-component-suites/" in u for u in page.request_urls)


def test_the_browser_follows_the_token_address_then_keeps_the_cookie(
        served, tiny_plan_dir, browser_page):
    server = served(str(tiny_plan_dir), "--host", "0.0.0.0")
    page = browser_page
    # the printed host is this machine's name: the browser opens the same page on 127.0.0.1
    url = server.url.replace(server.host_header, f"127.0.0.1:{server.port}")
    page.goto(url, wait_until="networkidle")
    page.wait_for_function(
        "document.querySelector('#people-reached') && "
        "document.querySelector('#people-reached').getAttribute('data-value')",
        timeout=30_000)
    # the token has left the address (the page then writes its own state there)
    address = urlsplit(page.url)
    assert (address.scheme, address.netloc, address.path) == (
        "http", f"127.0.0.1:{server.port}", "/")
    assert "token" not in parse_qs(address.query)
    assert server.token not in page.url
    assert page.evaluate("() => window.location.search").startswith("?funding=")
    assert page.console_errors == []
    cookies = page.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
        (f"reachplan_token_{server.port}", True, "Strict")]


def test_serve_help_loads_nothing_heavy():
    """``reachplan serve --help`` answers without importing dash or the solver."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from reachplan.cli import main\n"
        "result = CliRunner().invoke(main, ['serve', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert '--no-open' in result.output\n"
        "print(sorted({n.split('.')[0] for n in sys.modules} & "
        "{'dash', 'flask', 'waitress', 'pandas', 'numpy', 'plotly'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).parent)
    assert done.stdout.strip() == "[]"
