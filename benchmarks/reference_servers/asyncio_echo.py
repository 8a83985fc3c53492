"""Reference ``asyncio`` echo: a Protocol on the standard loop (``uvloop`` argument: on uvloop)."""

import asyncio
import sys

from _listen import listener, nodelay


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        nodelay(transport.get_extra_info("socket"))

    def data_received(self, data):
        self.transport.write(data)


async def main():
    loop = asyncio.get_running_loop()
    sock = listener()
    if sock.family == 1:  # AF_UNIX
        server = await loop.create_unix_server(Echo, sock=sock)
    else:
        server = await loop.create_server(Echo, sock=sock)
    await server.serve_forever()


if sys.argv[2:] == ["uvloop"]:
    import uvloop

    uvloop.run(main())
else:
    asyncio.run(main())
