"""Reference ``threadpool`` echo: 64 pooled threads, each serves one connection until it closes."""

from concurrent.futures import ThreadPoolExecutor

from _listen import blocking_echo, listener

sock = listener()
with ThreadPoolExecutor(64) as pool:
    while True:
        pool.submit(blocking_echo, sock.accept()[0])
