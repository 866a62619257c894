"""The steal share read from /proc/stat's text (pure), and the live file."""

from __future__ import annotations

import pytest

from tests.sound.steal import cpu_times, read_cpu_times, steal_share

BEFORE = "cpu  100 0 50 800 10 0 5 20 40 0\ncpu0 50 0 25 400 5 0 2 10 20 0\nintr 1 2\n"
AFTER = "cpu  160 0 70 880 10 0 5 50 70 0\ncpu0 80 0 35 440 5 0 2 25 35 0\nintr 3 4\n"


def test_the_aggregate_line_is_read_and_guest_time_not_counted_twice() -> None:
    assert cpu_times(BEFORE) == (20, 100 + 50 + 800 + 10 + 5 + 20)
    assert steal_share(cpu_times(BEFORE), cpu_times(AFTER)) == pytest.approx(30 / 190)


def test_an_old_kernel_without_steal_reads_none_stolen() -> None:
    assert cpu_times("cpu 10 0 5 100 1 0 0\n") == (0, 116)


def test_no_cpu_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="no aggregate cpu line"):
        cpu_times("intr 1 2\n")


def test_this_machine_reads() -> None:
    times = read_cpu_times()
    assert times is not None
    stolen, total = times
    assert 0 <= stolen <= total and total > 0
