"""Progress: one rewritten line on a terminal, one JSON line per finished call elsewhere."""

import io
import json

from agent_bot.qa.emodel import estimate
from agent_bot.qa.progress import Progress
from agent_bot.qa.verdict import Failure, Verdict

GOOD = Verdict((), estimate(50, 0), None)
BAD = Verdict((Failure("mos", "MOS 2.00 < 3.50", "low-quality"),), estimate(50, 5), None)
ERROR = Verdict((Failure("call", "no agent answered"),), None, None)


def run(progress: Progress) -> None:
    for call in ("a", "b", "c"):
        progress.started(call)
    progress.connected("a")
    progress.connected("b")
    progress.finished("a", GOOD)
    progress.finished("b", BAD)
    progress.finished("c", ERROR)
    progress.close()


def test_terminal_gets_one_rewritten_status_line() -> None:
    out = io.StringIO()
    run(Progress(3, out, tty=True))
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1].replace("\x1b[K", "")
    assert last.startswith("calls 3/3 started · 2 connected · 3 done: 1 passed, 2 failed")
    assert "MOS min 2." in last and "max 4.3" in last


def test_without_a_terminal_each_finished_call_is_a_json_line() -> None:
    out = io.StringIO()
    run(Progress(3, out, tty=False))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(x["callId"], x["passed"], x["done"]) for x in lines] == [
        ("a", True, 1),
        ("b", False, 2),
        ("c", False, 3),
    ]
    assert lines[1]["failures"] == ["low-quality: MOS 2.00 < 3.50"] and lines[2]["mos"] is None
