"""The sound engine's scheduling priority: ahead of ordinary processes, as sound servers run.

A sound callback that waits behind busy processes makes the device underflow; on PulseAudio
an underflow can also leave a block more queued for good, i.e. latency that no playout sees
(docs/sound.md, "Drift"). PulseAudio itself asks for nice -11; the engine asks for `NICE` for
its process before it starts any thread (Linux threads inherit the nice value of the thread
that creates them, so PortAudio's and the echo canceller's threads get it). Raising it needs
`CAP_SYS_NICE` or an `RLIMIT_NICE` that allows it (`/etc/security/limits.conf`); without,
the engine runs at the priority it was given and says so once.
"""

from __future__ import annotations

import os
import resource

NICE = -10
"""The engine's nice value: its threads get ~9x the CPU share of an ordinary thread (nice 0)
when both want it."""


def raise_priority(nice: int = NICE) -> str:
    """Sets this thread's (and so its future threads') nice value to `nice` if allowed; says
    what it got, in words for one log line."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if current <= nice:
        return f"nice {current}"
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except PermissionError:
        return f"nice {current}: {nice} not permitted ({_limit()})"
    return f"nice {os.getpriority(os.PRIO_PROCESS, 0)}"


def _limit() -> str:
    soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    if soft in (0, resource.RLIM_INFINITY):
        return "needs CAP_SYS_NICE or RLIMIT_NICE"
    return f"RLIMIT_NICE allows down to {20 - soft}"
