"""smpplib's client (the independent third-party ESME) driven from tests.

smpplib is blocking: one thread runs ``listen()`` while the test thread sends. Results are collected
under a condition variable so a test can wait for "the response to this submit" or "a deliver_sm".
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.exceptions


class Esme:
    def __init__(self, port: int, system_id: str = "acme", password: str = "acmepw", *, timeout: float = 5.0):
        self.client = smpplib.client.Client("127.0.0.1", port, timeout=timeout, allow_unknown_opt_params=True)
        self.system_id = system_id
        self.password = password
        self.timeout = timeout
        self._cond = threading.Condition()
        self.responses: dict[int, Any] = {}
        self.delivered: list[Any] = []
        self.deliver_status = 0
        self.listen_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.client.set_message_received_handler(self._on_deliver)
        self.client.set_message_sent_handler(self._on_sent)
        self.client.set_error_pdu_handler(lambda pdu: None)

    # --- handlers (listener thread) ---------------------------------------------------------------

    def _on_deliver(self, pdu: Any, **_: Any) -> int:
        with self._cond:
            self.delivered.append(pdu)
            self._cond.notify_all()
        return self.deliver_status

    def _on_sent(self, pdu: Any, **_: Any) -> None:
        with self._cond:
            self.responses[pdu.sequence] = pdu
            self._cond.notify_all()

    def _listen(self) -> None:
        try:
            self.client.listen(auto_send_enquire_link=True)
        except BaseException as exc:  # the socket closing ends the loop
            with self._cond:
                self.listen_error = exc
                self._cond.notify_all()

    # --- test API (test thread) -------------------------------------------------------------------

    def bind(self, mode: str = "trx") -> Any:
        """Connect and bind; raises smpplib.exceptions.PDUError with the status on refusal."""
        self.client.connect()
        method = {
            "trx": self.client.bind_transceiver,
            "tx": self.client.bind_transmitter,
            "rx": self.client.bind_receiver,
        }[mode]
        resp = method(system_id=self.system_id, password=self.password)
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()
        return resp

    def submit(
        self, destination: str, text: bytes | str = b"Hello", *, wait: bool = True, **fields: Any
    ) -> Any:
        """Send a submit_sm; returns its submit_sm_resp (smpplib PDU) when ``wait``."""
        if isinstance(text, str):
            text = text.encode("ascii")
        fields.setdefault("source_addr_ton", smpplib.consts.SMPP_TON_ALNUM)
        fields.setdefault("source_addr", "ACME")
        fields.setdefault("dest_addr_ton", smpplib.consts.SMPP_TON_INTL)
        fields.setdefault("dest_addr_npi", smpplib.consts.SMPP_NPI_ISDN)
        pdu = self.client.send_message(destination_addr=destination, short_message=text, **fields)
        return self.wait_response(pdu.sequence) if wait else pdu

    def wait_response(self, sequence: int, timeout: float | None = None) -> Any:
        return self._wait(lambda: self.responses.get(sequence), timeout, f"response to #{sequence}")

    def wait_delivered(self, count: int = 1, timeout: float | None = None) -> list[Any]:
        return self._wait(
            lambda: self.delivered[:] if len(self.delivered) >= count else None,
            timeout,
            f"{count} deliver_sm",
        )

    def wait_closed(self, timeout: float | None = None) -> BaseException:
        return self._wait(lambda: self.listen_error, timeout, "connection end")

    def _wait(self, get: Any, timeout: float | None, what: str) -> Any:
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while True:
                value = get()
                if value is not None:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {what} within {timeout or self.timeout}s")
                self._cond.wait(remaining)

    def unbind(self) -> None:
        """Send unbind and let the listener thread see the unbind_resp."""
        pdu = smpplib.smpp.make_pdu("unbind", client=self.client)
        self.client.send_pdu(pdu)

    def leave(self, timeout: float = 5.0) -> None:
        """Unbind, wait for the proxy to close the connection, close: a clean goodbye."""
        try:
            self.unbind()
            self.wait_closed(timeout)
        finally:
            self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        if self._thread is not None:
            self._thread.join(2)
