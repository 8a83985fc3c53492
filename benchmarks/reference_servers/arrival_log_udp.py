"""A UDP echo whose arrival stamps are the kernel's (``benchmarks/arrivals.py --server-proto udp``).

    python arrival_log_udp.py udp:PORT OUT

The stream echo (``arrival_log_echo.py``) stamps a request when the read that completes
it returns: its own scheduling and read batching are in the stamps, which at 50 µs
gaps is most of what there is to see. Here each datagram carries the time the kernel
queued it on the socket (``SO_TIMESTAMPNS``), so how late this process reads it does
not move its stamp. The kernel's stamp is in ``CLOCK_REALTIME``; it is moved onto the
monotonic clock the generator's due times use by one offset read at start (a slew over
a run's seconds is far below a gap). On SIGTERM the stamps go to ``OUT`` as native
int64s.
"""

import array
import signal
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
STAMPS = array.array("q")
stopping = False


def _stop(*_):
    global stopping
    stopping = True


def _offset_ns():
    """CLOCK_REALTIME minus CLOCK_MONOTONIC, read between two monotonic reads."""
    before = time.monotonic_ns()
    real = time.clock_gettime_ns(time.CLOCK_REALTIME)
    after = time.monotonic_ns()
    return real - (before + after) // 2


def main():
    signal.signal(signal.SIGTERM, _stop)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", int(sys.argv[1].partition(":")[2])))
    sock.settimeout(0.1)
    offset = _offset_ns()
    print("READY", flush=True)
    while not stopping:
        try:
            data, ancillary, _, peer = sock.recvmsg(65536, 64)
        except TimeoutError:
            continue
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", value[:16])
                STAMPS.append(seconds * 1_000_000_000 + nanoseconds - offset)
        sock.sendto(data, peer)
    with open(sys.argv[2], "wb") as out:
        STAMPS.tofile(out)


main()
