"""A sans-IO SMPP 3.4 core: bytes in, typed events out, and back; no sockets, clock or storage.

Read in the order a frame goes through it: ``constants`` (wire values, header offsets), ``framing``
(a byte stream cut into frames), ``fields`` and ``pdu`` (what a body holds, one dataclass per PDU),
``codec`` (frame <-> PDU), ``splice`` (frames rewritten on their bytes), ``states`` (which requests each
side may send in each bind state), ``events`` and ``connection`` (the session state machine), and
``errors`` (whose fault: the peer's or ours).
"""
