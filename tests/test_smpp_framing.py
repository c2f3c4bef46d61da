"""Cutting a TCP byte stream into PDU frames (§3.1): any chunking gives the same frames."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.smpp.constants import CommandStatus
from gateway.smpp.errors import RemoteProtocolError
from gateway.smpp.framing import DEFAULT_MAX_PDU_SIZE, FrameBuffer

ENQUIRE_LINK = bytes.fromhex("00000010 00000015 00000000 00000001")
SUBMIT_SM_RESP = bytes.fromhex("00000017 80000004 00000000 00000002 61626331323300")
BIND_RESP_TLV = bytes.fromhex("0000001a 80000002 00000000 00000001 534d534300 0210 0001 34")
SUBMIT_SM = bytes.fromhex(
    "0000003a 00000004 00000000 00000002 00 05 00 53746f706761746500"
    " 01 01 34343737303039303031323300 00 00 00 00 00 01 00 00 00 05 68656c6c6f"
)
STREAM_FRAMES = [ENQUIRE_LINK, SUBMIT_SM, SUBMIT_SM_RESP, BIND_RESP_TLV, ENQUIRE_LINK, SUBMIT_SM]
STREAM = b"".join(STREAM_FRAMES)


def feed_in_pieces(pieces: list[bytes], max_pdu_size: int = DEFAULT_MAX_PDU_SIZE) -> tuple[list[bytes], int]:
    buffer = FrameBuffer(max_pdu_size)
    frames: list[bytes] = []
    for piece in pieces:
        buffer.feed(piece)
        frames += buffer.frames()
    return frames, buffer.pending


def test_whole_stream() -> None:
    assert feed_in_pieces([STREAM]) == (STREAM_FRAMES, 0)


def test_byte_at_a_time() -> None:
    buffer = FrameBuffer()
    frames = []
    boundaries = []
    for i in range(len(STREAM)):
        buffer.feed(STREAM[i : i + 1])
        got = buffer.frames()
        if got:
            boundaries.append(i + 1)
        frames += got
    assert frames == STREAM_FRAMES
    # each frame is released exactly when its last octet arrives
    ends = []
    total = 0
    for frame in STREAM_FRAMES:
        total += len(frame)
        ends.append(total)
    assert boundaries == ends
    assert buffer.pending == 0


def test_frames_are_bytes_and_independent_of_the_buffer() -> None:
    buffer = FrameBuffer()
    buffer.feed(ENQUIRE_LINK + SUBMIT_SM[:5])
    (frame,) = buffer.frames()
    assert type(frame) is bytes
    buffer.feed(SUBMIT_SM[5:])
    assert buffer.frames() == [SUBMIT_SM]
    assert frame == ENQUIRE_LINK


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=30))
def test_random_chunking(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(STREAM)]
    pieces = [STREAM[a:b] for a, b in itertools.pairwise(points)]
    assert feed_in_pieces(pieces) == (STREAM_FRAMES, 0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(max_size=80), min_size=1, max_size=8),
    st.lists(st.integers(1, 50), min_size=1, max_size=40),
)
def test_random_frames_random_chunks(bodies: list[bytes], sizes: list[int]) -> None:
    """Frames of any content and length come out whole, whatever the read sizes."""
    frames = [
        (16 + len(body)).to_bytes(4, "big") + bytes.fromhex("00000004 00000000") + i.to_bytes(4, "big") + body
        for i, body in enumerate(bodies)
    ]
    stream = b"".join(frames)
    pieces, pos, i = [], 0, 0
    while pos < len(stream):
        size = sizes[i % len(sizes)]
        pieces.append(stream[pos : pos + size])
        pos += size
        i += 1
    assert feed_in_pieces(pieces) == (frames, 0)


def test_partial_pending() -> None:
    buffer = FrameBuffer()
    assert buffer.pending == 0
    buffer.feed(SUBMIT_SM[:3])  # not even the length yet
    assert buffer.frames() == []
    assert buffer.pending == 3
    buffer.feed(SUBMIT_SM[3:20])
    assert buffer.frames() == []
    assert buffer.pending == 20
    buffer.feed(SUBMIT_SM[20:] + ENQUIRE_LINK[:7])
    assert buffer.frames() == [SUBMIT_SM]
    assert buffer.pending == 7
    assert buffer.frames() == []
    buffer.feed(ENQUIRE_LINK[7:])
    assert buffer.frames() == [ENQUIRE_LINK]
    assert buffer.pending == 0
    assert buffer.frames() == []


@pytest.mark.parametrize("length", [0, 1, 4, 15])
def test_command_length_below_header_is_fatal(length: int) -> None:
    buffer = FrameBuffer()
    buffer.feed(ENQUIRE_LINK + length.to_bytes(4, "big") + bytes.fromhex("00000004 00000000 0000002a"))
    assert buffer.frames() == [ENQUIRE_LINK]  # frames before the bad one still come out
    with pytest.raises(RemoteProtocolError) as info:
        buffer.frames()
    assert info.value.status == CommandStatus.ESME_RINVCMDLEN
    assert info.value.fatal
    assert info.value.command_id == 0x00000004
    assert info.value.sequence_number == 42


def test_command_length_above_max_is_fatal() -> None:
    buffer = FrameBuffer()
    buffer.feed((DEFAULT_MAX_PDU_SIZE + 1).to_bytes(4, "big") + bytes.fromhex("00000004 00000000 00000007"))
    with pytest.raises(RemoteProtocolError) as info:
        buffer.frames()
    assert info.value.status == CommandStatus.ESME_RINVCMDLEN
    assert info.value.fatal
    assert (info.value.command_id, info.value.sequence_number) == (4, 7)


@pytest.mark.parametrize("length", [0xFFFFFFFF, 0x80000000, 1025])
def test_huge_length_rejected_without_waiting_for_the_body(length: int) -> None:
    buffer = FrameBuffer(max_pdu_size=1024)
    buffer.feed(length.to_bytes(4, "big"))  # only the length field has arrived
    with pytest.raises(RemoteProtocolError) as info:
        buffer.frames()
    assert info.value.status == CommandStatus.ESME_RINVCMDLEN
    assert info.value.fatal
    assert info.value.command_id is None
    assert info.value.sequence_number is None


def test_exactly_max_size_is_accepted() -> None:
    frame = (1024).to_bytes(4, "big") + bytes.fromhex("00000004 00000000 00000001") + bytes(1008)
    buffer = FrameBuffer(max_pdu_size=1024)
    buffer.feed(frame[:1000])
    assert buffer.frames() == []
    buffer.feed(frame[1000:])
    assert buffer.frames() == [frame]


# --- frames(): every complete frame in one call -----------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=30), st.integers(0, 3))
def test_frames_come_out_whole_however_often_they_are_asked_for(cuts: list[int], wait: int) -> None:
    """The same frames and pending octets whatever the chunking (a partial PDU gathered in a
    bytearray included) and however many pieces arrive between two calls."""
    points = [0, *sorted(cuts), len(STREAM)]
    pieces = [STREAM[a:b] for a, b in itertools.pairwise(points)]
    buffer = FrameBuffer()
    got: list[bytes] = []
    fed = 0
    for i, piece in enumerate(pieces):
        buffer.feed(piece)
        fed += len(piece)
        if i % (wait + 1) == 0 or i == len(pieces) - 1:
            frames = buffer.frames()
            assert all(type(frame) is bytes for frame in frames)
            got += frames
            assert buffer.pending == fed - sum(map(len, got))
            if len(got) < len(STREAM_FRAMES):  # nothing complete is left behind
                assert buffer.pending < len(STREAM_FRAMES[len(got)])
    assert got == STREAM_FRAMES
    assert buffer.frames() == []


def test_frames_stop_before_a_bad_length_and_the_next_call_raises() -> None:
    buffer = FrameBuffer()
    bad = (15).to_bytes(4, "big") + bytes.fromhex("00000004 00000000 0000002a")
    buffer.feed(ENQUIRE_LINK + SUBMIT_SM + bad)
    assert buffer.frames() == [ENQUIRE_LINK, SUBMIT_SM]
    with pytest.raises(RemoteProtocolError) as info:
        buffer.frames()
    assert info.value.status == CommandStatus.ESME_RINVCMDLEN and info.value.fatal
    assert (info.value.command_id, info.value.sequence_number) == (4, 42)
