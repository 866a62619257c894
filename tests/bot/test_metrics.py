"""`--metrics-port` on real `agent-bot answer` and `agent-bot call` processes: scraped and
parsed with prometheus_client's parser; the call histograms move once a real call ends."""

from __future__ import annotations

import time

import pytest

from tests.bots import Bot, Bots
from tests.metrics import Scrape
from tests.procs import free_port, wait_http

CALL_HISTOGRAMS = ("agent_bot_call_mos", "agent_bot_call_loss_ratio",
                   "agent_bot_call_jitter_seconds", "agent_bot_call_setup_seconds")  # fmt: skip


def ended_calls(scrape: Scrape) -> float:
    family = scrape.family("agent_bot_calls_ended")
    return sum(s.value for s in family.samples if s.name == "agent_bot_calls_ended_total")


def scrape_when(url: str, bot: Bot, ready: float, timeout: float = 30.0) -> Scrape:
    """Scrape `url` until at least `ready` calls ended there (while `bot` runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bot.proc.poll() is not None:
            pytest.fail(f"{bot.log.name} exited before its metrics showed {ready} calls:\n"
                        + bot.text()[-3000:])  # fmt: skip
        scrape = Scrape.of(url)
        if ended_calls(scrape) >= ready:
            return scrape
        time.sleep(0.2)
    pytest.fail(f"{url} never showed {ready} ended calls:\n{bot.text()[-3000:]}")


def test_both_bots_export_call_metrics(bots: Bots) -> None:
    answer_port, call_port = free_port(), free_port()
    answer_url = f"http://127.0.0.1:{answer_port}/metrics"
    agent = bots.answer("--echo", "--max-calls", "2", "--metrics-port", str(answer_port))
    wait_http(answer_url, proc=agent.proc)
    idle = Scrape.of(answer_url)
    assert idle.value("agent_bot_calls_active") == 0
    assert idle.value("agent_bot_admission_available") == 1
    for name in CALL_HISTOGRAMS:
        assert idle.count(name) == 0
    assert idle.value("process_cpu_seconds_total") > 0

    # two calls one after the other: the caller is scraped during the second
    caller = bots.call("--tone", "440", "--duration", "4", "--calls", "2",
                       "--metrics-port", str(call_port))  # fmt: skip
    call_url = f"http://127.0.0.1:{call_port}/metrics"
    wait_http(call_url, proc=caller.proc)
    during = scrape_when(call_url, caller, ready=1)
    for name in CALL_HISTOGRAMS:
        assert during.count(name) >= 1, name
    assert 1 <= during.value("agent_bot_call_mos_sum") / during.count("agent_bot_call_mos") <= 4.5
    assert during.value("agent_bot_event_loop_lag_seconds") >= 0
    assert during.value("agent_bot_cpu_percent") >= 0
    assert caller.wait(60) == 0, caller.text()[-3000:]

    after = scrape_when(answer_url, agent, ready=2)
    assert after.value("agent_bot_calls_active") == 0
    for name in CALL_HISTOGRAMS:
        assert after.count(name) == 2, name
    assert after.value("agent_bot_playout_underruns_total") == 0  # no speaker: no playout
