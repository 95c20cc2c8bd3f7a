#!/usr/bin/env python3
"""A server on loopback that never answers, for tests of cprof's bounds.

usage: stall-server.py hang|drop

hang: accepts every connection, reads the request and never replies.
drop: accepts none, and its accept queue is full, so the kernel drops
      every new SYN: a connect hangs as it does towards an address where
      nothing answers, without a packet leaving the machine.

Prints "port N" once listening; in hang mode, "connection N" at each
connection accepted.  Runs until killed.
"""
import socket
import sys
import time


def main():
    mode = sys.argv[1]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held = []
    if mode == "drop":
        listener.listen(0)
        # A backlog of 0 queues one connection: the first filler fills
        # the queue, and every SYN after it is dropped.
        for _ in range(2):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            held.append(filler)
        print("port %d" % port, flush=True)
        while True:
            time.sleep(3600)
    listener.listen(16)
    print("port %d" % port, flush=True)
    count = 0
    while True:
        conn, _ = listener.accept()
        conn.recv(65536)
        held.append(conn)
        count += 1
        print("connection %d" % count, flush=True)


if __name__ == "__main__":
    main()
