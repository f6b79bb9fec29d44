"""A lean HTTP/1.1 client for POSTing deliveries to one app.

Delivering a message is the hot path of pub/sub, and a general-purpose client
(aiohttp) spends more CPU per request than everything else localdapr does for
the message. Deliveries need little: POST a small body on a keep-alive
connection and read the status and body back (Content-Length, chunked, or
until close). Anything unexpected raises, which the caller treats as an
app-channel error, as daprd does.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import quote

_SAFE_PATH = "/:@!$&'()*+,;=-._~%?"
_MAX_IDLE = 64  # keep-alive connections kept per app (32 deliveries in flight per topic)


class AppChannelError(Exception):
    """The app's reply could not be read as HTTP."""


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class AppChannel:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._idle: list[Connection] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST `body` to `path`; returns the status and the response body."""
        head = self._head(path, body, headers)
        if self._idle:
            conn = self._idle.pop()
            try:
                return await self._exchange(conn, head, body)
            except _Stale:
                pass  # the app closed an idle connection: send again on a fresh one
        conn = await asyncio.open_connection(self.host, self.port)
        try:
            return await self._exchange(conn, head, body)
        except _Stale as exc:
            raise ConnectionResetError("app closed the connection without replying") from exc

    def _head(self, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        target = quote(path if path.startswith("/") else "/" + path, safe=_SAFE_PATH)
        lines = [f"POST {target} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _exchange(self, conn: Connection, head: bytes, body: bytes) -> tuple[int, bytes]:
        reader, writer = conn
        received = False
        try:
            writer.write(head + body)
            await writer.drain()
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError as exc:
                    if not exc.partial and not received:
                        raise _Stale from exc
                    raise
                received = True
                status, version, fields = _parse_head(raw)
                if 100 <= status < 200:
                    continue  # an interim reply (100 Continue): the real one follows
                break
            keep = _keep_alive(version, fields)
            if "chunked" in fields.get("transfer-encoding", "").lower():
                data = await _read_chunked(reader)
            elif "content-length" in fields:
                data = await reader.readexactly(int(fields["content-length"]))
            elif status in (204, 304):
                data = b""
            else:
                data = await reader.read()  # delimited by the app closing the connection
                keep = False
        except (ConnectionResetError, BrokenPipeError) as exc:
            _close(writer)
            if not received:
                raise _Stale from exc
            raise
        except BaseException:
            _close(writer)  # a half-read reply (or a cancelled delivery) spoils the connection
            raise
        if keep and len(self._idle) < _MAX_IDLE:
            self._idle.append(conn)
        else:
            _close(writer)
        return status, data

    def close(self) -> None:
        while self._idle:
            _close(self._idle.pop()[1])


class _Stale(Exception):
    """A reused connection was closed before any reply: safe to resend."""


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


def _parse_head(raw: bytes) -> tuple[int, str, dict[str, str]]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise AppChannelError(f"not an HTTP reply: {lines[0][:80]!r}")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
    return int(parts[1]), parts[0], fields


def _keep_alive(version: str, fields: dict[str, str]) -> bool:
    connection = fields.get("connection", "").lower()
    if version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readline()
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)  # CRLF after each chunk
