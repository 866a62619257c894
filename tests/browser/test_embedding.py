"""The widget on another site: Chromium loads a page from a second origin (a plain static HTTP
server on another port) that imports `call.js` from the signaling server and calls a real
`agent-bot`; allowed when the origin is listed, refused when not. And a customer token the
server refuses is explained on the page."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.bots import Bots
from tests.browser.conftest import LaunchChromium
from tests.browser.customer import CustomerPage
from tests.conftest import ServerFactory
from tests.procs import AGENT_TOKEN, SignalingServer, end_process, free_port, wait_http
from tests.server.test_tokens import AUDIENCE, SECRET, token

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example Corp support</title>
<script src="SERVER/vendor/socket.io.min.js"></script></head>
<body><h1>Example Corp</h1>
<script type="module">
const server = "SERVER";
const result = (window.embedded = { states: [], config: null, importError: null, ended: null });
try {
  result.config = await (await fetch(`${server}/config`)).json();
} catch (err) {
  result.config = `error: ${err.message}`;
}
let widget = null;
try {
  widget = await import(`${server}/call.js`);
} catch (err) {
  result.importError = String(err);
}
window.connectRaw = () => new Promise((resolve) => {
  const socket = io(server, { auth: { role: "customer" }, transports: ["websocket"],
                              reconnection: false });
  socket.on("connect", () => { socket.disconnect(); resolve("connected"); });
  socket.on("connect_error", (err) => resolve(`connect_error: ${err.message}`));
});
window.startCall = async (token) => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const call = new widget.Call({
    offerer: "customer", name: "site visitor", track: stream.getAudioTracks()[0],
    iceServers: await widget.loadIceServers(server), connectTimeoutMs: 20000,
    serverUrl: server, token: async () => token,  // as from the site's own backend
  });
  call.addEventListener("state", (event) => result.states.push(event.detail.state));
  call.addEventListener("ended", (event) => { result.ended = event.detail.reason; });
  call.start();
};
result.ready = true;
</script></body></html>
"""


class Site:
    """A second origin: `python -m http.server` serving one page that uses the server."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def serve(self, server: SignalingServer) -> None:
        (self.folder / "index.html").write_text(PAGE.replace("SERVER", server.url))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1",
             "--directory", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_http(f"{self.origin}/index.html", proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            end_process(self.proc)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    folder = tmp_path / "site"
    folder.mkdir()
    made = Site(folder)
    yield made
    made.stop()


async def open_site(launch_chromium: LaunchChromium, site: Site) -> tuple[Page, Any]:
    page = await (await launch_chromium()).new_page()
    await page.goto(f"{site.origin}/index.html")
    await page.wait_for_function("window.embedded && window.embedded.ready", timeout=15_000)
    return page, await page.evaluate("window.embedded")


async def test_listed_origin_embeds_the_widget_and_calls(
    launch_chromium: LaunchChromium,
    server_factory: ServerFactory,
    site: Site,
    tmp_path: Path,
    bot_factory: Callable[[SignalingServer], Bots],
) -> None:
    server = server_factory("--allowed-origin", site.origin, "--jwt-secret", SECRET,
                            "--jwt-audience", AUDIENCE, "--customer-auth", "required")  # fmt: skip
    site.serve(server)
    agent = bot_factory(server).answer("--echo")
    page, loaded = await open_site(launch_chromium, site)
    assert loaded["config"] == {"iceServers": []}
    assert loaded["importError"] is None
    assert await page.evaluate("connectRaw()") == "connect_error: a customer token is required"
    await page.evaluate("t => startCall(t)", token("customer", "cust-7", name="Ada Lovelace"))
    await page.wait_for_function(
        "window.embedded.states.includes('connected') || window.embedded.ended", timeout=30_000
    )
    result = await page.evaluate("window.embedded")
    assert "connected" in result["states"], result
    agent.wait_log("incoming from Ada Lovelace")  # the token's name, not "site visitor"


async def test_unlisted_origin_is_refused(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer, site: Site
) -> None:
    site.serve(signaling_server)  # a server started without --allowed-origin
    page, loaded = await open_site(launch_chromium, site)
    assert str(loaded["config"]).startswith("error:")  # no CORS header: the fetch fails
    assert loaded["importError"] is not None  # a module script needs CORS too
    assert (await page.evaluate("connectRaw()")).startswith("connect_error:")


async def test_refused_customer_token_is_explained_on_the_page(
    launch_chromium: LaunchChromium, server_factory: ServerFactory
) -> None:
    server = server_factory("--jwt-secret", SECRET, "--jwt-audience", AUDIENCE,
                            "--customer-auth", "required")  # fmt: skip
    expired = token("customer", "cust-7", ttl=-120)
    customer = await CustomerPage.open(await launch_chromium(), server.url, token=expired)
    await customer.call()
    await customer.wait_state("ended")
    await expect(customer.alert).to_contain_text("invalid customer token: expired")
    await expect(customer.alert).to_contain_text("sign in again")


@pytest.fixture
def bot_factory(tmp_path: Path) -> Iterator[Callable[[SignalingServer], Bots]]:
    """`Bots` against any server; all stopped at teardown."""
    made: list[Bots] = []

    def make(server: SignalingServer) -> Bots:
        made.append(Bots(tmp_path, server.url, server.agent_token or AGENT_TOKEN))
        return made[-1]

    yield make
    for bots in made:
        bots.close()
