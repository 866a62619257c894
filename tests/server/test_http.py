"""HTTP routes on the Socket.IO port: health, metrics, ICE config, the page; restarts."""

from __future__ import annotations

import json
import urllib.request

from tests.metrics import Scrape
from tests.procs import SignalingServer
from tests.server.conftest import Clients


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read().decode()


async def test_healthz_counts(clients: Clients) -> None:
    await clients.agent()
    await clients.customer()
    status, content_type, body = get(f"{clients.server.url}/healthz")
    assert status == 200
    assert content_type.startswith("application/json")
    assert json.loads(body) == {
        "status": "ok", "agents": 1, "customers": 1, "calls": 0, "ringing": 0, "queue": 0
    }  # fmt: skip


async def test_metrics_prometheus_text(clients: Clients) -> None:
    agent = await clients.agent()
    customer = await clients.customer()
    call_id = (await customer.call("call-request", {}))["callId"]
    await agent.expect("incoming-call")
    await agent.call("call-accept", {"callId": call_id})
    await customer.call("nonsense", {})
    scrape = Scrape.of(f"{clients.server.url}/metrics")
    assert scrape.content_type.startswith("text/plain")
    # the names scrapers knew before prometheus_client (counters keep their `_total`)
    assert scrape.value("signaling_calls_active") == 1
    assert scrape.value("signaling_calls_total") == 1
    assert scrape.value("signaling_calls_accepted_total") == 1
    assert scrape.value("signaling_connections_total", role="agent") == 1
    assert scrape.value("signaling_errors_total", code="unknown-event") == 1
    assert scrape.family("signaling_queue_length").type == "gauge"
    assert scrape.family("signaling_calls").type == "counter"
    assert scrape.value("signaling_malformed_packets_total") == 0
    assert scrape.value("process_cpu_seconds_total") > 0


def test_config_empty_by_default(signaling_server: SignalingServer) -> None:
    _, _, body = get(f"{signaling_server.url}/config")
    assert json.loads(body) == {"iceServers": []}


def test_serves_the_customer_page(signaling_server: SignalingServer) -> None:
    status, content_type, body = get(f"{signaling_server.url}/")
    assert status == 200
    assert content_type.startswith("text/html")
    assert "<html" in body.lower()


async def test_restart_on_the_same_port_forgets_state(
    signaling_server: SignalingServer, clients: Clients
) -> None:
    await clients.agent()
    signaling_server.kill()
    signaling_server.start()
    _, _, body = get(f"{signaling_server.url}/healthz")
    assert json.loads(body)["agents"] == 0
    agent = await clients.agent()
    assert agent.sid
