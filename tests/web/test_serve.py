"""``itp clinic serve --workers N``: each worker's own TCP socket on one port."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

from intrathecal.web.serve import listening_socket


def test_workers_bind_their_own_sockets_on_one_port() -> None:
    first = listening_socket("127.0.0.1", 0, reuse_port=True)
    port = first.getsockname()[1]
    second = listening_socket("127.0.0.1", port, reuse_port=True)  # no "address in use"
    try:
        assert second.getsockname()[1] == port
    finally:
        first.close()
        second.close()


def test_connections_accepted_from_it_get_tcp_nodelay() -> None:
    # asyncio sets TCP_NODELAY only when the listening socket says it is TCP; without it every
    # response on a kept-alive connection waits for the client's delayed ACK (~40 ms).
    async def accepted_nodelay() -> int:
        sock = listening_socket("127.0.0.1", 0, reuse_port=True)
        sock.listen()
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                conn = transport.get_extra_info("socket")
                accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
            result = await asyncio.wait_for(accepted, 5)
            writer.close()
        return result

    with listening_socket("127.0.0.1", 0, reuse_port=False) as plain:
        assert plain.proto == socket.IPPROTO_TCP
    # A loop of its own in a thread of its own (a browser test's loop may run in this one).
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, accepted_nodelay()).result(timeout=10) != 0
