"""The server's histograms after one call made by real Socket.IO clients, scraped and parsed
with prometheus_client's parser. (Counters and gauges by name: test_http.py.)"""

from __future__ import annotations

from tests.metrics import Scrape
from tests.server.client import SDP
from tests.server.conftest import Clients

HISTOGRAMS: tuple[tuple[str, dict[str, str]], ...] = (
    ("signaling_call_setup_seconds", {"stage": "accepted"}),
    ("signaling_call_setup_seconds", {"stage": "connected"}),
    ("signaling_queue_wait_seconds", {}),
    ("signaling_call_duration_seconds", {}),
    ("signaling_relay_seconds", {"event": "offer"}),
)


async def test_histograms_move_with_a_call(clients: Clients) -> None:
    url = f"{clients.server.url}/metrics"
    before = Scrape.of(url)
    for name, labels in HISTOGRAMS:
        assert before.count(name, **labels) == 0
        assert before.family(name).type == "histogram"
    agent = await clients.agent(reportsConnected=True)
    customer = await clients.customer()
    call_id = (await customer.call("call-request", {}))["callId"]
    await agent.expect("incoming-call")
    await agent.call("call-accept", {"callId": call_id})
    await customer.expect("call-accepted")
    offer = {"offer": {"type": "offer", "sdp": SDP}, "targetUserId": agent.sid}
    assert (await customer.call("offer", offer))["ok"]
    await customer.call("call-connected", {"callId": call_id})
    await agent.call("call-connected", {"callId": call_id})  # a second report: not counted
    await customer.call("hangup", {"callId": call_id})
    after = Scrape.of(url)
    for name, labels in HISTOGRAMS:
        assert after.count(name, **labels) == 1, (name, labels)
    assert after.value("signaling_calls_ended_total", reason="hangup") == 1
    setup = after.value("signaling_call_setup_seconds_sum", stage="connected")
    assert 0 < setup < 10
    assert after.value("signaling_relay_seconds_sum", event="offer") < 1
    assert after.value("process_resident_memory_bytes") > 0
