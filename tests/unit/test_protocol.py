"""Protocol schemas: what is accepted and how refusals name the field."""

import pytest

from signaling_server.protocol import (
    MAX_SDP_BYTES,
    CallRequest,
    ErrorCode,
    IceCandidate,
    Offer,
    ProtocolError,
    parse,
)

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def test_offer_round_trip() -> None:
    msg = parse(Offer, {"offer": {"type": "offer", "sdp": SDP}, "targetUserId": "abc"})
    assert msg.offer.sdp == SDP
    assert msg.targetUserId == "abc"
    assert msg.callId is None


def test_missing_payload_uses_defaults() -> None:
    assert parse(CallRequest, None).offerer == "customer"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([1, 2], "payload"),
        ("offer", "payload"),
        ({"offer": {"type": "offer", "sdp": SDP}}, "targetUserId"),
        ({"offer": {"type": "offer", "sdp": "hello"}, "targetUserId": "a"}, "offer.sdp"),
        ({"offer": {"type": "offer", "sdp": SDP}, "targetUserId": "a", "x": 1}, "x"),
        ({"offer": {"type": "offer", "sdp": SDP}, "targetUserId": 5}, "targetUserId"),
    ],
)
def test_invalid_offer_names_field(data: object, field: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        parse(Offer, data)
    assert exc.value.code is ErrorCode.INVALID_PAYLOAD
    assert exc.value.message.startswith(field)


@pytest.mark.parametrize("sdp", [SDP + "a" * MAX_SDP_BYTES, SDP + "é" * (MAX_SDP_BYTES // 2)])
def test_oversize_sdp_is_too_large(sdp: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        parse(Offer, {"offer": {"type": "offer", "sdp": sdp}, "targetUserId": "a"})
    assert exc.value.code is ErrorCode.PAYLOAD_TOO_LARGE
    assert exc.value.message.startswith("offer.sdp")


def test_end_of_candidates_is_null() -> None:
    assert parse(IceCandidate, {"candidate": None, "targetUserId": "a"}).candidate is None


def test_candidate_too_long() -> None:
    data = {"candidate": {"candidate": "c" * 2000, "sdpMid": "0"}, "targetUserId": "a"}
    with pytest.raises(ProtocolError) as exc:
        parse(IceCandidate, data)
    assert exc.value.code is ErrorCode.PAYLOAD_TOO_LARGE
