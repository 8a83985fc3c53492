"""TLS over a non-blocking socket, sans-IO: an ``ssl.SSLObject`` over two memory BIOs.

:class:`TlsSocket` looks like the socket it wraps to the drivers (``send``,
``recv_into``, ``fileno``, ``close``), so the pump and the task drivers move bytes
through it as through a socket: the exchange sees plaintext, the socket carries
ciphertext. The trade-off is in two places. A ``send`` takes the whole request into
TLS records at once; when the socket does not take all of the records, it reports one
byte fewer than it took, so the driver waits for the socket to be writable and calls
again with that last byte, which then only flushes what is left (no record is cut,
none is sent twice). And a ``recv_into`` may leave decrypted bytes behind when the
caller's buffer is full; those are in no socket, so no readiness wait would see them:
the connection says so (:attr:`TlsSocket.buffered`, the pump's ``tls_backlog``).

A stream's end (``--mode stream``) is TLS's ``close_notify`` where TCP's is the
half-close (:func:`half_close`): the client reads on after sending it, for the sink's or
the source's report (:func:`sockbench.core.tls.closing_step` says why in that order).
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import cast

import trio

from sockbench.core import tls as decide
from sockbench.core.spec.tls import TlsSettings
from sockbench.endpoints import Endpoint
from sockbench.engine.io import sockio
from sockbench.engine.io.error_kinds import TlsFailed, error_kind
from sockbench.servers.certs import client_context

READ_SIZE = 65536  # ciphertext read from the socket at a time (4 full records)


def failure(exc: BaseException) -> TlsFailed:
    """``exc`` from the ssl module, as the kind :mod:`sockbench.core.tls` says it is."""
    return exc if isinstance(exc, TlsFailed) else TlsFailed(error_kind(exc))


@dataclass
class TlsClient:
    """A worker's TLS: its context, the name it asks for, and each client's last session
    (``--tls-resume``), offered again on that client's next connection."""

    settings: TlsSettings
    context: ssl.SSLContext
    sessions: dict[int, ssl.SSLSession] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: TlsSettings) -> TlsClient:
        return cls(settings, client_context(settings))

    def keep(self, client: int, obj: ssl.SSLObject) -> None:
        """At a connection's close, keep its session for the client's next one.

        Trade-off: reading ``obj.session`` costs about 0.2 ms (CPython copies the session
        through its DER form, OpenSSL 3's decoder is slow), a fifth of a resumed
        connection's whole cycle. So it is read only with ``--tls-resume``, and not after
        a handshake that resumed the session held (as ``openssl s_time -reuse`` offers its
        first session on every connection); a server that will not resume it again gives
        a full handshake, whose new session is kept.
        """
        if decide.fetch_session(self.settings.resume, obj.session_reused, client in self.sessions):
            session = obj.session
            if session is not None:
                self.sessions[client] = session


class TlsSocket:
    """A connected socket speaking TLS, with a socket's methods the drivers use."""

    __slots__ = (
        "_held", "_kept", "_out", "backlog", "client", "incoming", "obj", "outgoing", "raw", "tls",
    )  # fmt: skip

    def __init__(
        self,
        raw: socket.socket,
        obj: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        tls: TlsClient,
        client: int,
    ) -> None:
        self.raw = raw
        self.obj = obj
        self.incoming = incoming
        self.outgoing = outgoing
        self.tls = tls
        self.client = client
        self._out = b""  # records the socket did not take yet
        self._held = False  # the last byte of the last send was reported unsent (taken)
        self._kept = bytearray()  # decrypted before our close_notify, not read yet
        # The pump's list of connections with decrypted bytes left (None: a task driver,
        # which asks :attr:`buffered` before it waits).
        self.backlog: list[TlsSocket] | None = None

    def fileno(self) -> int:
        return self.raw.fileno()

    @property
    def buffered(self) -> bool:
        """Whether bytes wait in TLS (decrypted, or records not decrypted yet), where no
        readiness wait on the socket would see them."""
        return bool(self.obj.pending() or self.incoming.pending)

    @property
    def held(self) -> bool:
        """Whether the last send's last byte was reported unsent though TLS took it (it
        goes out with the records still waiting)."""
        return self._held

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """Take ``data`` into records and send them; how many bytes were taken (see the
        module's docstring for the last byte). BlockingIOError: nothing taken."""
        if self._out and not self._flush():
            raise BlockingIOError
        if self._held:  # the byte reported unsent went out with the records just flushed
            self._held = False
            return 1
        if not data:
            return 0
        try:
            self.obj.write(data)
        except ssl.SSLError as exc:
            raise failure(exc) from None
        self._out = self.outgoing.read()
        if self._flush():
            return len(data)
        self._held = True
        return len(data) - 1

    def _flush(self) -> bool:
        """Send what records are waiting; True once none is."""
        try:
            sent = self.raw.send(self._out)
        except BlockingIOError:
            return False
        self._out = self._out[sent:]
        return not self._out

    def recv_into(self, buffer: memoryview | bytearray) -> int:
        """Decrypted bytes into ``buffer``; 0 once the peer closed. BlockingIOError: none
        yet (a partial record, or only a session ticket came)."""
        if self._kept:
            return self._take_kept(buffer)
        try:
            n = self._read(buffer)
        except ssl.SSLWantReadError:
            raw = self.raw.recv(READ_SIZE)  # BlockingIOError: nothing came
            if raw:
                self.incoming.write(raw)
            else:
                self.incoming.write_eof()
            try:
                n = self._read(buffer)
            except ssl.SSLWantReadError:
                self._answer()
                raise BlockingIOError from None
        self._answer()
        if self.backlog is not None and n and self.buffered:
            self.backlog.append(self)
        return n

    def _take_kept(self, buffer: memoryview | bytearray) -> int:
        n = min(len(buffer), len(self._kept))
        buffer[:n] = self._kept[:n]
        del self._kept[:n]
        return n

    async def close_notify(self) -> None:
        """End what this side sends with TLS's ``close_notify`` and go on reading: TCP's
        half-close (``shutdown(SHUT_WR)``), with the records still waiting sent first.

        The decrypted bytes TLS holds are read out first and kept for :meth:`recv_into`:
        ``unwrap`` reads on after it sent the alert, and OpenSSL then fails on application
        data (TLS 1.2) or drops it (1.3). Bounded in time by the caller."""
        while decide.closing_step(bool(self.incoming.pending or self.obj.pending())) is (
            decide.Closing.READ_FIRST
        ):
            try:
                chunk = self.obj.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break  # a partial record: OpenSSL holds it, unwrap reads no further
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break  # the peer closed first: recv_into says so once the kept are read
            except ssl.SSLError as exc:
                raise failure(exc) from None
            if not chunk:
                break
            self._kept += chunk
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass  # the alert is written; the peer's own close_notify comes later, or never
        except ssl.SSLError as exc:
            raise failure(exc) from None
        self._out += self.outgoing.read()
        self._held = False  # the held byte goes out with these records
        out, self._out = self._out, b""
        await sockio.send_all(self.raw, out)

    def _read(self, buffer: memoryview | bytearray) -> int:
        try:
            return cast(int, self.obj.read(len(buffer), buffer))  # with a buffer: a count
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return 0  # closed (with or without close_notify): the exchange says what it cut
        except ssl.SSLWantReadError:
            raise
        except ssl.SSLError as exc:
            raise failure(exc) from None

    def _answer(self) -> None:
        """Send what reading produced (a key update's answer), after any records waiting."""
        if self.outgoing.pending:
            self._out += self.outgoing.read()
            self._flush()

    def negotiated(self) -> str:
        """The version, cipher and ALPN protocol its handshake agreed on."""
        cipher = self.obj.cipher()
        return decide.negotiated(
            self.obj.version(), cipher[0] if cipher else None, self.obj.selected_alpn_protocol()
        )

    def close(self) -> None:
        self.tls.keep(self.client, self.obj)
        self.raw.close()


async def handshake(
    raw: socket.socket, tls: TlsClient, endpoint: Endpoint, client: int
) -> tuple[TlsSocket, int, bool]:
    """A TLS connection over the connected ``raw``: it, its handshake's time (ns) and
    whether the handshake resumed a session. TlsFailed (by kind) if it failed; the
    caller bounds it in time and closes ``raw`` on any error."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls.context.wrap_bio(
        incoming, outgoing, server_hostname=tls.settings.name_for(endpoint.host),
        session=tls.sessions.get(client),
    )  # fmt: skip
    start = time.monotonic_ns()
    while True:
        try:
            obj.do_handshake()
            finished = True
        except ssl.SSLWantReadError:
            finished = False
        except ssl.SSLError as exc:
            _send_alert(raw, outgoing)
            raise failure(exc) from None
        step = decide.handshake_step(finished, outgoing.pending)
        if step == decide.Step.SEND:
            await sockio.send_all(raw, outgoing.read())
            step = decide.handshake_step(finished, 0)
        if step == decide.Step.DONE:
            break
        await trio.lowlevel.wait_readable(raw)
        try:
            data = raw.recv(READ_SIZE)
        except BlockingIOError:
            continue
        if data:
            incoming.write(data)
        else:
            incoming.write_eof()
    elapsed = time.monotonic_ns() - start
    return TlsSocket(raw, obj, incoming, outgoing, tls, client), elapsed, obj.session_reused


def _send_alert(raw: socket.socket, outgoing: ssl.MemoryBIO) -> None:
    """The alert OpenSSL wrote on a failure goes to the peer, if the socket takes it now."""
    if outgoing.pending:
        try:
            raw.send(outgoing.read())
        except OSError:
            pass


async def half_close(sock: socket.socket | TlsSocket) -> None:
    """End what ``sock`` sends and keep reading: TCP's ``shutdown(SHUT_WR)``, TLS's
    ``close_notify``."""
    if isinstance(sock, TlsSocket):
        await sock.close_notify()
    else:
        sock.shutdown(socket.SHUT_WR)


async def wait_readable(sock: socket.socket | TlsSocket) -> None:
    """Wait until ``sock`` has bytes to read: at once when TLS holds some already."""
    if isinstance(sock, TlsSocket) and sock.buffered:
        await trio.lowlevel.checkpoint()
        return
    await trio.lowlevel.wait_readable(sock)
