"""ICE gathering with a bound: an unreachable STUN or TURN server costs at most a second.

aioice waits up to 5 s for server-reflexive and relayed candidates
(`Connection.get_component_candidates(timeout=5)`), and aiortc gathers inside
`setLocalDescription` (it does not trickle local candidates), so one unreachable STUN server
would delay every call's setup by 5 s on each side. `bound_gathering()` lowers that default for
this process. It is a patch of a default argument, so it checks the aioice version it was
written against and leaves any other version alone, with a warning.
"""

from __future__ import annotations

import logging

import aioice
from aioice.ice import Connection

logger = logging.getLogger(__name__)

GATHER_TIMEOUT = 1
"""Seconds to wait for candidates from STUN/TURN servers."""
PATCHED_AIOICE = ("0.13.",)


def bound_gathering(timeout: int = GATHER_TIMEOUT) -> bool:
    """Make aioice wait at most `timeout` seconds for STUN/TURN; False if the version is unknown."""
    if not aioice.__version__.startswith(PATCHED_AIOICE):
        logger.warning(
            "aioice %s is not one this bot was checked against: ICE gathering keeps its "
            "own timeout (an unreachable STUN server may delay calls by 5 s)",
            aioice.__version__,
        )
        return False
    Connection.get_component_candidates.__defaults__ = (timeout,)
    return True
