"""Load-based admission: hysteresis over smoothed lag and CPU samples."""

from agent_bot.admission import Admission, Limits, LoadSample

IDLE = LoadSample(lag_ms=1.0, cpu_percent=10.0)


def test_stays_available_under_normal_load() -> None:
    admission = Admission()
    assert not any(admission.update(IDLE) for _ in range(100))
    assert admission.available


def test_one_spike_is_smoothed_away() -> None:
    admission = Admission()
    admission.update(LoadSample(lag_ms=120.0, cpu_percent=10.0))
    assert admission.available


def test_sustained_lag_closes_then_recovery_reopens() -> None:
    admission = Admission(Limits(max_lag_ms=50, resume_lag_ms=20))
    changes = [admission.update(LoadSample(lag_ms=200.0, cpu_percent=10.0)) for _ in range(5)]
    assert changes.count(True) == 1
    assert not admission.available
    # Between the resume and the close threshold: stays closed (hysteresis).
    for _ in range(30):
        admission.update(LoadSample(lag_ms=30.0, cpu_percent=10.0))
    assert not admission.available
    for _ in range(30):
        admission.update(IDLE)
    assert admission.available


def test_cpu_over_limit_closes() -> None:
    admission = Admission(Limits(max_cpu_percent=85, resume_cpu_percent=70))
    for _ in range(10):
        admission.update(LoadSample(lag_ms=0.0, cpu_percent=99.0))
    assert not admission.available
    for _ in range(10):
        admission.update(LoadSample(lag_ms=0.0, cpu_percent=80.0))
    assert not admission.available
    for _ in range(20):
        admission.update(LoadSample(lag_ms=0.0, cpu_percent=20.0))
    assert admission.available
