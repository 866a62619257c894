"""Browser calls: setup time and audio fidelity, headless Chromium → `agent-bot answer`.

Setup: offer sent (acknowledged by the server) → peer connection `connected`, measured in
the page for `--calls` calls each way (the page offers; `?offerer=agent`: from the offer's
arrival). Baseline in the same run: an aiortc caller (`agent-bot call`) against the same bot,
same milestones. Fidelity: `--content-calls` calls of 8 s; each direction's audio against
what the other side played, median of the normalised correlation of 1-s windows, each window
aligned on its own (tests/browser/similarity.py). Everything runs over loopback.

    ./run bench browser_setup [--calls 10] [--content-calls 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import Browser, async_playwright  # noqa: E402

from tests.bots import Bot  # noqa: E402
from tests.browser.chromium import Launcher, find_chromium, playwright_disable_features  # noqa: E402
from tests.browser.conftest import AGENT_SAMPLE, SPEECH_SAMPLE  # noqa: E402
from tests.browser.customer import CustomerPage  # noqa: E402
from tests.browser.similarity import read_wav, window_correlations  # noqa: E402
from tests.procs import SignalingServer, free_port  # noqa: E402

CONTENT_SECONDS = 8.0


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


async def page_setup_ms(browser: Browser, url: str, offerer: str) -> float:
    """One call from a fresh tab: offer sent (or received) → connected, in ms."""
    customer = await CustomerPage.open(browser, url, raw="1", offerer=offerer)
    await customer.call()
    await customer.wait_state("connected")
    timings = await customer.test_hook("timings")
    await customer.hang_up()
    await customer.wait_state("ended")
    await customer.page.close()
    start = timings["offerSent" if offerer == "customer" else "offerReceived"]
    return float(timings["connected"] - start)


def aiortc_setup_ms(url: str, calls: int, agent_offers: bool, work: Path) -> list[float]:
    """The baseline: `agent-bot call` places `calls` calls one after the other."""
    report = work / f"aiortc-{agent_offers}.json"
    command = [
        sys.executable, "-m", "agent_bot", "call", "--server", url,
        "--play", str(SPEECH_SAMPLE), "--duration", "1", "--calls", str(calls),
        "--concurrency", "1", "--report", str(report),
        *(["--agent-offers"] if agent_offers else []),
    ]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = [c["times"] for c in json.loads(report.read_text())["calls"]]
    return [(t["connected"] - t["offer"]) * 1000 for t in times if t["connected"]]


async def content_call(browser: Browser, url: str, bot: Bot) -> dict[str, float]:
    """One 8-s call: median window correlation each way, and of the wrong pairing."""
    closed = r"recording (\S+) closed"
    done = len(re.findall(closed, bot.text()))
    customer = await CustomerPage.open(browser, url, raw="1", record="1")
    await customer.call()
    await customer.wait_state("connected")
    await customer.wait_received(CONTENT_SECONDS)
    received = await customer.received()
    stats = await customer.receive_stats()
    await customer.hang_up()
    await customer.wait_state("ended")
    await customer.page.close()
    await asyncio.to_thread(bot.wait_log, closed, count=done + 1)
    recording = Path(re.findall(closed, bot.text())[done])
    at_bot = read_wav(recording)[0]
    speech, agent_speech = read_wav(SPEECH_SAMPLE)[0], read_wav(AGENT_SAMPLE)[0]
    return {
        "browser_to_bot": statistics.median(window_correlations(at_bot, speech)),
        "bot_to_browser": statistics.median(window_correlations(received, agent_speech)),
        "wrong_pairing": statistics.median(window_correlations(at_bot, agent_speech)),
        "concealed_ms": stats.get("samples_concealed", 0) / 48,
    }


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<34} n={len(values):<3} median {statistics.median(values):7.1f} ms"
        f"   min {min(values):7.1f}   max {max(values):7.1f}"
    )


async def run(args: argparse.Namespace, work: Path) -> None:
    server = SignalingServer(port=free_port(), log_path=work / "server.log")
    server.start()
    recordings = work / "recordings"
    bot = Bot(
        [
            "answer", "--server", server.url, "--token", server.agent_token, "--name", "Alice",
            "--play", str(AGENT_SAMPLE), "--loop", "--record", str(recordings),
        ],
        work / "bot.log",
    )  # fmt: skip
    try:
        await asyncio.to_thread(bot.wait_log, "agent registered")
        async with async_playwright() as playwright:
            executable = find_chromium()
            flag = await playwright_disable_features(playwright, executable)
            browser = await Launcher(playwright, executable, flag).launch(SPEECH_SAMPLE)
            await page_setup_ms(browser, server.url, "customer")  # warm-up, not counted
            setup = {
                offerer: [
                    await page_setup_ms(browser, server.url, offerer) for _ in range(args.calls)
                ]
                for offerer in ("customer", "agent")
            }
            content = [
                await content_call(browser, server.url, bot) for _ in range(args.content_calls)
            ]
            await browser.close()
        baseline = {
            offerer: await asyncio.to_thread(
                aiortc_setup_ms, server.url, args.calls, offerer == "agent", work
            )
            for offerer in ("customer", "agent")
        }
    finally:
        bot.close()
        server.stop()

    print("offer -> connected (loopback, one call at a time)")
    for offerer in ("customer", "agent"):
        browser_ms, aiortc_ms = setup[offerer], baseline[offerer]
        print(summary(f"  Chromium page, {offerer} offers", browser_ms))
        print(summary(f"  aiortc caller, {offerer} offers", aiortc_ms))
        ratio = statistics.median(browser_ms) / statistics.median(aiortc_ms)
        print(f"  ratio Chromium / aiortc (medians): {ratio:.2f}")
    print(f"1-s window correlation, median per call ({CONTENT_SECONDS:.0f} s calls)")
    for key in ("browser_to_bot", "bot_to_browser", "wrong_pairing"):
        values = ", ".join(f"{c[key]:.3f}" for c in content)
        print(f"  {key:<16} {values}")
    concealed = ", ".join(f"{c['concealed_ms']:.0f}" for c in content)
    print(f"  audio the page concealed (ms, Chromium's jitter buffer): {concealed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=positive, default=10, help="setup calls each way")
    parser.add_argument("--content-calls", type=positive, default=3, help="8-s calls")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as work:
        asyncio.run(run(args, Path(work)))


if __name__ == "__main__":
    main()
