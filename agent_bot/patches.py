"""Version checks for the bot's patches of aiortc and aioice internals."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def checked(package: str, version: str, prefixes: tuple[str, ...], without: str) -> bool:
    """Whether `package` at `version` is one a patch was written against; warns if not.

    `without` says what the bot lacks when the patch is left out.
    """
    if version.startswith(prefixes):
        return True
    logger.warning("%s %s is not one this bot was checked against: %s", package, version, without)
    return False
