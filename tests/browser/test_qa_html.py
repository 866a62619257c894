"""The HTML report of a real QA run opens in headless Chromium with a row per call and its plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.bots import SAMPLES, Bots
from tests.browser.chromium import CHROMIUM_ARGS

pytestmark = pytest.mark.browser

CALLS = 4


async def test_html_report_of_a_real_run(
    bots: Bots, tmp_path: Path, chromium_executable: str, artifacts: Path
) -> None:
    # two far ends: an echo (passes) and a silent bot (fails: far-end-silent)
    bots.answer("--echo", "--max-calls", "2", name="echo")
    bots.answer("--silence", "--max-calls", "2", name="silent")
    html_path, report_path = tmp_path / "run.html", tmp_path / "run.json"
    caller = bots.call("--play", str(SAMPLES / "hello-48k.wav"), "--duration", "4",
                       "--calls", str(CALLS), "--concurrency", str(CALLS),
                       "--report", str(report_path), "--html", str(html_path))  # fmt: skip
    assert caller.wait(90) == 1, caller.text()  # the silent far end fails its calls
    calls = json.loads(report_path.read_text())["calls"]
    failed = [c["call_id"] for c in calls if not c["verdict"]["passed"]]
    assert 0 < len(failed) < CALLS, [c["verdict"]["failures"] for c in calls]

    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable, args=list(CHROMIUM_ARGS)
        )
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(html_path.as_uri())
        rows = await page.locator("table.calls tbody tr").count()
        failed_rows = await page.locator("table.calls tr.failed").count()
        # every plot decoded (an <img> that failed to load has naturalWidth 0)
        widths = await page.eval_on_selector_all(
            "img.plot", "imgs => imgs.map(i => i.naturalWidth)"
        )
        waveforms = await page.locator("h3[id^=failed-] ~ figure img").count()
        await page.screenshot(path=str(artifacts / "qa-report.png"), full_page=True)
        await browser.close()
    assert errors == []
    assert rows == CALLS
    assert failed_rows == len(failed)
    assert len(widths) >= 3 + len(failed) and all(w > 100 for w in widths), widths
    assert waveforms >= len(failed)
    assert "far-end-silent" in html_path.read_text()
