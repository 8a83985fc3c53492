"""Reference ``trio`` echo: ``trio.serve_listeners``, one task per connection."""

import trio
from _listen import listener, nodelay


async def echo(stream):
    nodelay(stream.socket)
    try:
        async for data in stream:
            await stream.send_all(data)
    except trio.BrokenResourceError:  # a client that leaves with a reset
        pass


async def main():
    sock = trio.socket.from_stdlib_socket(listener())
    await trio.serve_listeners(echo, [trio.SocketListener(sock)])


trio.run(main)
