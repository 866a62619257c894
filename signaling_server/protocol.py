"""Protocol v1: event names, payload schemas and error codes (see docs/protocol.md).

Pure: no I/O. Shared by the server (validation) and the bot (building payloads).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

MAX_SDP_BYTES = 64 * 1024
MAX_CANDIDATE_BYTES = 1024
MAX_NAME_CHARS = 64
MAX_ID_CHARS = 128
# a signed token (JWT) or the shared agent token: RS256 tokens run to ~1 KB
MAX_TOKEN_CHARS = 4096
# Largest Socket.IO message the server accepts: an SDP at its limit plus envelope.
MAX_MESSAGE_BYTES = MAX_SDP_BYTES + 4 * 1024
# pydantic's error type for a string over its limit: refused as `payload-too-large`
TOO_LONG = "string_too_long"


class Event(StrEnum):
    """Socket.IO event names."""

    # client -> server
    CALL_REQUEST = "call-request"
    CALL_ACCEPT = "call-accept"
    CALL_REJECT = "call-reject"
    HANGUP = "hangup"
    CALL_CONNECTED = "call-connected"
    AGENT_STATUS = "agent-status"
    CALL_TRANSFER = "call-transfer"
    # agent -> server, relayed to the customer (v1.1)
    CALL_HOLD = "call-hold"
    CALL_RESUME = "call-resume"
    # both directions (relayed)
    OFFER = "offer"
    ANSWER = "answer"
    ICE_CANDIDATE = "ice-candidate"
    # server -> client
    INCOMING_CALL = "incoming-call"
    CALL_QUEUED = "call-queued"
    CALL_ACCEPTED = "call-accepted"
    CALL_ENDED = "call-ended"
    QUEUE_UPDATE = "queue-update"
    CALL_TRANSFERRING = "call-transferring"
    CALL_TRANSFER_FAILED = "call-transfer-failed"


class ErrorCode(StrEnum):
    """`error.code` values in a failed acknowledgement."""

    INVALID_PAYLOAD = "invalid-payload"
    PAYLOAD_TOO_LARGE = "payload-too-large"
    UNKNOWN_CALL = "unknown-call"
    NOT_YOUR_PEER = "not-your-peer"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate-limited"
    INVALID_STATE = "invalid-state"
    # call-transfer refused (v1.1)
    UNKNOWN_AGENT = "unknown-agent"
    AGENT_BUSY = "agent-busy"
    AGENT_AWAY = "agent-away"
    UNKNOWN_EVENT = "unknown-event"
    INTERNAL = "internal-error"


class EndReason(StrEnum):
    """`reason` values of `call-ended`."""

    HANGUP = "hangup"
    PEER_DISCONNECTED = "peer-disconnected"
    RING_TIMEOUT = "ring-timeout"
    NO_AGENT = "no-agent"
    TRANSFERRED = "transferred"
    # a party gave up on the call's media (sent as `hangup {reason}`), or the server did
    CONNECT_TIMEOUT = "connect-timeout"
    ICE_FAILED = "ice-failed"
    DTLS_FAILED = "dtls-failed"
    MEDIA_TIMEOUT = "media-timeout"
    ERROR = "error"


HangupReason = Literal["connect-timeout", "ice-failed", "dtls-failed", "media-timeout", "error"]
"""Why a party ended a call itself, when it was not a person hanging up (`hangup.reason`)."""


class AgentState(StrEnum):
    """`agent-status.state` (v1.1): only an available agent is offered calls."""

    AVAILABLE = "available"
    AWAY = "away"
    WRAP_UP = "wrap-up"


TRANSFER_TO_QUEUE = "queue"
"""`call-transfer.to` meaning "back to the head of the queue" rather than an agent's name."""


class Role(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"


Offerer = Literal["customer", "agent"]
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]


class Payload(BaseModel):
    """Base of every schema: unknown fields are an error, values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- connection auth ---------------------------------------------------------------------


class AgentAuth(Payload):
    role: Literal["agent"]
    token: str | None = Field(default=None, max_length=MAX_TOKEN_CHARS)
    name: Name = "agent"
    maxCalls: int = Field(default=1, ge=1, le=1000)
    # the agent sends `call-connected`: the server may end its calls that never connect
    reportsConnected: bool = False
    # the sid this agent had before it reconnected (its node died): it takes over those calls
    replaces: Id | None = None
    # v1.1: the agent wants `queue-update` whenever the queue length changes
    queueUpdates: bool = False


class CustomerAuth(Payload):
    role: Literal["customer"]
    name: Name = "customer"
    # a signed customer token (`--customer-auth`): its name then wins over `name`
    token: str | None = Field(default=None, max_length=MAX_TOKEN_CHARS)


# --- client -> server ---------------------------------------------------------------------


class CallRequest(Payload):
    offerer: Offerer = "customer"


class CallRef(Payload):
    """Payload of `call-accept`, `call-reject` and `call-connected`."""

    callId: Id


class Hangup(CallRef):
    """Payload of `hangup`: no `reason` when a person hung up."""

    reason: HangupReason | None = None


class AgentStatus(Payload):
    """`available` (v1) or `state` (v1.1), or both when they agree."""

    available: bool | None = None
    state: Literal["available", "away", "wrap-up"] | None = None

    def resolved(self) -> AgentState:
        """The state asked for; `ProtocolError` when neither field is given or they disagree."""
        if self.state is None:
            if self.available is None:
                raise ProtocolError(ErrorCode.INVALID_PAYLOAD, "available: Field required")
            return AgentState.AVAILABLE if self.available else AgentState.AWAY
        state = AgentState(self.state)
        if self.available is not None and self.available != (state is AgentState.AVAILABLE):
            raise ProtocolError(ErrorCode.INVALID_PAYLOAD, f"available: contradicts state {state}")
        return state


class CallTransfer(CallRef):
    """Payload of `call-transfer`: an agent's name, or `"queue"`."""

    to: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]


class SessionDescription(Payload):
    type: Literal["offer", "answer"]
    sdp: str = Field(max_length=MAX_SDP_BYTES)

    @field_validator("sdp")
    @classmethod
    def _looks_like_sdp(cls, sdp: str) -> str:
        if len(sdp.encode()) > MAX_SDP_BYTES:
            raise PydanticCustomError(TOO_LONG, f"SDP is longer than {MAX_SDP_BYTES} bytes")
        if not sdp.startswith("v=0"):
            raise ValueError("SDP must start with 'v=0'")
        return sdp


class Candidate(Payload):
    """An `RTCIceCandidateInit`; an empty `candidate` string also means end of candidates."""

    candidate: str = Field(max_length=MAX_CANDIDATE_BYTES)
    sdpMid: str | None = Field(default=None, max_length=32)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)
    usernameFragment: str | None = Field(default=None, max_length=256)


class Relayed(Payload):
    """Common fields of the relayed events; `callId` is optional (the server knows it)."""

    targetUserId: Id
    callId: Id | None = None


class Offer(Relayed):
    offer: SessionDescription


class Answer(Relayed):
    answer: SessionDescription


class IceCandidate(Relayed):
    candidate: Candidate | None


P = TypeVar("P", bound="Payload")

RELAYED: dict[str, type[Relayed]] = {
    Event.OFFER: Offer,
    Event.ANSWER: Answer,
    Event.ICE_CANDIDATE: IceCandidate,
}


class ProtocolError(Exception):
    """A request the server refuses; becomes `{"ok": false, "error": {...}}`."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def ack(self) -> dict[str, Any]:
        return error_ack(self.code, self.message)


def ok_ack(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


def error_ack(code: ErrorCode, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": str(code), "message": message}}


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (int, "number"), (float, "number"), (str, "string")):
        if isinstance(value, kind):
            return name
    return "array" if isinstance(value, list | tuple) else type(value).__name__


def parse(schema: type[P], data: Any) -> P:
    """Validate `data` against `schema`; raise `ProtocolError` naming the field.

    The code is `payload-too-large` for a string over its limit, `invalid-payload` otherwise.
    """
    if data is None and not any(f.is_required() for f in schema.model_fields.values()):
        data = {}
    if not isinstance(data, dict):
        raise ProtocolError(
            ErrorCode.INVALID_PAYLOAD, f"payload must be a JSON object, not {_json_type(data)}"
        )
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "payload"
        code = (
            ErrorCode.PAYLOAD_TOO_LARGE if first["type"] == TOO_LONG else ErrorCode.INVALID_PAYLOAD
        )
        raise ProtocolError(code, f"{field}: {first['msg']}") from None
