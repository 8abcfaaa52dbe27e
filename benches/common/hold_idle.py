# Holds idle TCP connections to HOST:PORT from one source address, as a hostile
# client would: opens COUNT, says how many it holds, then waits. Used by
# benches/common/idle.rs (the soak bench and the listener test).
#
#   python3 hold_idle.py HOST PORT SOURCE COUNT keep|reopen
#
# Prints "held N failed M" once the connections are opened. Each line read
# from stdin is answered "open K" (connections the server has not closed yet).
# With "reopen", connections the server closed are opened again once a second,
# at most REOPEN_PER_SECOND of them: a client that keeps coming back, at a rate
# that leaves this machine's two cores to the server. Ends when stdin closes,
# so it never outlives the process that started it.
import selectors
import socket
import sys
import time

host, port, source, count, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
selector = selectors.DefaultSelector()
REOPEN_PER_SECOND = 1000


def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(5)
        s.connect((host, port))
    except OSError:
        s.close()
        return False
    s.setblocking(False)
    selector.register(s, selectors.EVENT_READ, "connection")
    return True


def close(s):
    selector.unregister(s)
    s.close()


held = sum(connect() for _ in range(count))
print(f"held {held} failed {count - held}", flush=True)
selector.register(sys.stdin, selectors.EVENT_READ, "stdin")
open_now, closed, last_reopen = held, 0, time.monotonic()
while True:
    for key, _ in selector.select(timeout=1.0):
        if key.data == "stdin":
            if not sys.stdin.readline():
                sys.exit(0)
            print(f"open {open_now}", flush=True)
            continue
        try:
            data = key.fileobj.recv(4096)
        except OSError:
            data = b""
        if not data:
            close(key.fileobj)
            open_now -= 1
            closed += 1
    if mode == "reopen" and closed and time.monotonic() - last_reopen >= 1.0:
        opened = sum(connect() for _ in range(min(closed, REOPEN_PER_SECOND)))
        open_now += opened
        closed -= opened
        last_reopen = time.monotonic()
