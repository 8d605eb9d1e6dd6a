"""The process Jupyter starts as a warm kernel: it asks the machine's kernel zygote (``kernels.py``) for a kernel.

Run as a plain script (``python -I -S kernel_client.py SOCKET ASK ARGV...``), importing nothing heavy: it sends its
environment, working folder, the kernel's arguments and ``ASK`` (JSON: the council, and its table cache, the zygote
reads before forking) to the zygote, which forks an already-imported kernel. It then
stands in for that kernel towards Jupyter: it forwards interrupts and termination to it, and lives exactly as long
as it does (the kernel also ends when this process is killed: it watches the same connection). If no zygote answers,
it becomes an ordinary kernel by running the original command line.
"""

import json
import os
import signal
import socket
import sys
import time


def main(argv):
    path, ask, original = argv[1], json.loads(argv[2]), argv[3:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + float(os.environ.get("SYSTEMIC_ZYGOTE_WAIT", "60"))
    while True:
        try:
            sock.connect(path)
            break
        except OSError as exc:
            # no socket yet: the zygote is still importing; refused: it is gone (killed), so do not wait for it
            if time.monotonic() > deadline or isinstance(exc, ConnectionRefusedError):
                os.execv(original[0], original)  # no zygote: start an ordinary kernel instead
            time.sleep(0.05)
    request = {**ask, "argv": original, "env": dict(os.environ), "cwd": os.getcwd()}
    sock.sendall(json.dumps(request).encode() + b"\n")
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            os.execv(original[0], original)
        reply += chunk
    child = int(reply)

    def forward(signum, frame):
        try:
            os.kill(child, signum)
        except OSError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, forward)
    while True:  # until the kernel ends and the zygote closes our connection
        try:
            if not sock.recv(4096):
                break
        except InterruptedError:
            continue
        except OSError:
            break


if __name__ == "__main__":
    main(sys.argv)
