"""An echo that notes when each request arrives (``benchmarks/arrivals.py``'s server side).

    python arrival_log_echo.py tcp:PORT PAYLOAD OUT

uvloop, a Protocol per connection; each request of ``PAYLOAD`` bytes is stamped with
``time.monotonic_ns()`` (the system-wide clock the generator's due times use) when the
read that completes it returns, and echoed. On SIGTERM the stamps go to ``OUT`` as
native int64s. Reads batch: requests completed by one read share its stamp, as the
server saw them.
"""

import array
import asyncio
import signal
import sys
import time

import uvloop
from _listen import listener, nodelay

PAYLOAD = int(sys.argv[2])
STAMPS = array.array("q")


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.pending = 0
        nodelay(transport.get_extra_info("socket"))

    def data_received(self, data):
        now = time.monotonic_ns()
        total = self.pending + len(data)
        for _ in range(total // PAYLOAD):
            STAMPS.append(now)
        self.pending = total % PAYLOAD
        self.transport.write(data)


async def main():
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    server = await loop.create_server(Echo, sock=listener())
    await done.wait()
    server.close()
    with open(sys.argv[3], "wb") as out:
        STAMPS.tofile(out)


uvloop.run(main())
