"""MLLP, the Minimal Lower Layer Protocol that carries HL7 v2 over TCP: each message is sent as
``0x0B`` (start block) + the message bytes + ``0x1C 0x0D`` (end block, then a carriage return).

TCP delivers a stream, not messages: one ``recv`` may hold several messages, part of one, or an end block
split in two. ``frames`` keeps what is not complete yet for the next read. Bytes outside a frame (before a
start block) cannot belong to any message and are skipped. ``Listener`` is a loopback server in a thread for
exercises and tests: it answers each message it receives, optionally in small pieces, or never.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"  # file separator, then carriage return


def encode(message: str) -> bytes:
    """Frame one message (UTF-8); a message holding a framing byte cannot be framed."""
    data = message.encode("utf-8")
    if START_BLOCK in data or b"\x1c" in data:
        raise ValueError("the message contains an MLLP framing byte (0x0B or 0x1C)")
    return START_BLOCK + data + END_BLOCK


def frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Split ``buffer`` into complete message payloads and the remainder to keep for the next read.

    The remainder starts at the start block of an unfinished frame, or is empty. Bytes before a start
    block (garbage, or the tail of a frame whose start was lost) are skipped.
    """
    out: list[bytes] = []
    pos = 0
    while True:
        start = buffer.find(START_BLOCK, pos)
        if start < 0:
            return out, b""
        end = buffer.find(END_BLOCK, start + 1)
        if end < 0:
            return out, buffer[start:]
        out.append(buffer[start + 1 : end])
        pos = end + len(END_BLOCK)


def send_and_receive(host: str, port: int, message: str, timeout: float) -> str:
    """Send one framed message and return the first complete framed reply (the ACK), decoded as UTF-8.

    Raises ``TimeoutError`` (``socket.timeout``) when the peer stays silent for ``timeout`` seconds, and
    ``ConnectionError`` when it closes the connection before a complete reply.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(encode(message))
        pending = b""
        while True:
            data = sock.recv(4096)
            if not data:
                raise ConnectionError(f"{host}:{port} closed the connection before a complete reply")
            got, pending = frames(pending + data)
            if got:
                return got[0].decode("utf-8")


class Listener:
    """An MLLP server on 127.0.0.1 (a free port chosen by the kernel), serving in daemon threads.

    ``reply(message) -> list[str]`` gives the messages to send back for each message received (``[]``:
    never answer). The answer bytes go out in pieces of ``chunk`` bytes (all at once when None), ``pause``
    seconds apart, so the client sees them across several reads. Use as a context manager or call ``close``.
    """

    def __init__(
        self, reply: Callable[[str], list[str]], chunk: int | None = None, pause: float = 0.0
    ) -> None:
        self.reply, self.chunk, self.pause = reply, chunk, pause
        self.received: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self._server.getsockname()[:2]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _addr = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        pending = b""
        with conn:
            while not self._closed.is_set():
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                got, pending = frames(pending + data)
                for payload in got:
                    message = payload.decode("utf-8")
                    self.received.append(message)
                    out = b"".join(encode(m) for m in self.reply(message))
                    step = self.chunk or len(out) or 1
                    try:
                        for i in range(0, len(out), step):
                            conn.sendall(out[i : i + step])
                            if self.pause:
                                time.sleep(self.pause)
                    except OSError:
                        return

    def close(self) -> None:
        self._closed.set()
        self._server.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
