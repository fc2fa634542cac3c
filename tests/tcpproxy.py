"""A TCP proxy on 127.0.0.1 a test can cut: to drop a process's store connections for real."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class TcpProxy:
    """Forwards connections to ``target``; :meth:`cut` drops them and refuses new ones.

    While cut, a connection is accepted and closed at once (the client sees the server hang
    up) and :attr:`refused` is set: the event a test waits on to know a reconnect was tried.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._open = True
        self._sockets: list[socket.socket] = []
        self.refused = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until :meth:`restore`."""
        with self._lock:
            self._open = False
            self.refused.clear()
            dropped, self._sockets = self._sockets, []
        for sock in dropped:
            _hang_up(sock)

    def restore(self) -> None:
        """Forward new connections again."""
        with self._lock:
            self._open = True

    def close(self) -> None:
        """Stop listening and drop everything."""
        self.cut()
        _hang_up(self._server)
        self._acceptor.join(10)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                if not self._open:
                    _hang_up(client)
                    self.refused.set()
                    continue
                try:
                    upstream = socket.create_connection(self._target)
                except OSError:
                    _hang_up(client)
                    continue
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _hang_up(source)
        _hang_up(sink)


def _hang_up(sock: socket.socket) -> None:
    # shutdown wakes a thread blocked in recv on the socket; close alone would not.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
