"""`--allowed-origin` over HTTP: the Socket.IO handshake and the widget's routes, per Origin.

(Chromium on a second origin: tests/browser/test_embedding.py.)
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from signaling_server.cli import parse_args
from tests.conftest import ServerFactory
from tests.procs import SignalingServer

SITE = "http://app.example.test:8443"
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def request(url: str, origin: str | None, method: str = "GET") -> tuple[int, dict[str, str]]:
    headers = {} if origin is None else {"Origin": origin}
    req = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


@pytest.fixture
def listed(server_factory: ServerFactory) -> SignalingServer:
    # given un-normalised: trailing slash, upper case
    return server_factory("--allowed-origin", "HTTP://App.Example.test:8443/")


def test_listed_origin_may_connect_and_read_the_widget_routes(listed: SignalingServer) -> None:
    status, headers = request(listed.url + HANDSHAKE, SITE)
    assert status == 200
    assert headers.get("Access-Control-Allow-Origin") == SITE
    for path in ("/config", "/call.js", "/vendor/socket.io.min.js"):
        status, headers = request(listed.url + path, SITE)
        assert status == 200, path
        assert headers.get("Access-Control-Allow-Origin") == SITE, path
    status, headers = request(listed.url + "/config", SITE, method="OPTIONS")
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == SITE
    # operators' routes are not the widget's
    _, headers = request(listed.url + "/metrics", SITE)
    assert "Access-Control-Allow-Origin" not in headers


@pytest.mark.parametrize("with_list", [True, False], ids=["listed-server", "default-server"])
def test_other_origins_are_refused(server_factory: ServerFactory, with_list: bool) -> None:
    server = server_factory(*(["--allowed-origin", SITE] if with_list else []))
    status, _ = request(server.url + HANDSHAKE, "http://evil.example.test")
    assert status == 400
    status, headers = request(server.url + "/config", "http://evil.example.test")
    assert status == 200  # served, but the browser keeps it from the page:
    assert "Access-Control-Allow-Origin" not in headers
    # same origin and no Origin (bots) work as before
    assert request(server.url + HANDSHAKE, server.url)[0] == 200
    assert request(server.url + HANDSHAKE, None)[0] == 200


def test_origins_from_env_and_bad_ones(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGNALING_ALLOWED_ORIGINS", "https://a.example:443, http://b.example:81")
    assert parse_args([]).allowed_origins == ("https://a.example", "http://b.example:81")
    assert parse_args(["--allowed-origin", SITE]).allowed_origins == (SITE,)
    for bad in ("https://app.example/path", "app.example", "ftp://app.example"):
        with pytest.raises(SystemExit) as exc:
            parse_args(["--allowed-origin", bad])
        assert exc.value.code == 2
        assert "argument --allowed-origin" in capsys.readouterr().err
