"""Why a call ends, when the bot decides it, and which of those reasons the server hears."""

from __future__ import annotations


class CallEnd:
    """End reasons the bot itself decides (the server's are in `protocol.EndReason`)."""

    LOCAL_HANGUP = "local-hangup"
    ICE_FAILED = "ice-failed"
    DTLS_FAILED = "dtls-failed"
    CONNECT_TIMEOUT = "connect-timeout"
    MEDIA_TIMEOUT = "media-timeout"
    REMOTE_CLOSED = "remote-closed"
    ERROR = "error"


TOLD_REASONS = frozenset(
    {
        CallEnd.ICE_FAILED,
        CallEnd.DTLS_FAILED,
        CallEnd.CONNECT_TIMEOUT,
        CallEnd.MEDIA_TIMEOUT,
        CallEnd.ERROR,
    }
)
"""Ends the bot decides that the server hears as `hangup {reason}` (others: plain `hangup`)."""
