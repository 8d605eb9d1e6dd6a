"""Warm kernels for the batch: one kernel "zygote" per machine has already imported systemic_lib, pandas,
matplotlib, seaborn and graphviz (and read the council of the job), and forks a fresh kernel from it for every
notebook; each worker starts its next kernel while a notebook runs (``Ahead``).

Every notebook still gets its own kernel process, which has run no code but the imports (so notebooks cannot see
one another), but no notebook pays for starting Python and importing the libraries: that happens once per machine,
while the councils are planned. Jupyter starts ``kernel_client.py`` as the kernel (``WarmKernelManager``); it asks
the zygote for a kernel over a Unix socket and stands in for it. Where fork is unavailable (not Linux or macOS) or
the zygote is not running, the client starts an ordinary kernel, so the batch works the same, only slower.

    python -m systemic_lib.run.kernels SOCKET     # the zygote (the pool starts it: ``Zygote.start()``)
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName

if TYPE_CHECKING:
    from systemic_lib.data.preload import Preloaded

#: imported once by the zygote, before any kernel is forked (what every stage notebook imports)
PRELOAD = (
    "pandas",
    "numpy",
    "matplotlib",
    "matplotlib.pyplot",
    "seaborn",
    "graphviz",
    "IPython",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "matplotlib_inline.backend_inline",
    "systemic_lib.display.report",
    "systemic_lib.data.stages",
    "systemic_lib.analysis.demand",
    "systemic_lib.analysis.flow",
    "systemic_lib.analysis.experiment",
    "systemic_lib.analysis.measure",
    "systemic_lib.analysis.scan",
    "systemic_lib.display.charts",
    "systemic_lib.display.sections",
    "systemic_lib.analysis.processmap",
    "systemic_lib.analysis.spc",
    "systemic_lib.analysis.narrate",
    "systemic_lib.data.classify",
    "systemic_lib.data.cache",
)
CLIENT = Path(__file__).with_name("kernel_client.py")
START_TIMEOUT = 60  #: seconds a kernel started ahead may take to answer


def available() -> bool:
    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX") and sys.platform != "win32"


class Zygote:
    """A kernel zygote: ``start()`` it (it imports in the background), ``stop()`` it when the run ends.

    The local pool starts one for the machine and its workers ``attach`` to it (``address``), so the libraries are
    imported, and each council read, once per machine rather than once per worker; a worker whose shared zygote
    is gone starts its own."""

    def __init__(self) -> None:
        folder = tempfile.mkdtemp(prefix="systemic-zygote-")
        self.folder: str | None = folder
        self.socket = str(Path(folder) / "kernels.sock")
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None  #: of an attached zygote (another process started it)

    @property
    def address(self) -> tuple[str, int]:
        """What a worker needs to ``attach`` to this zygote (a started one)."""
        if self.process is None:
            raise RuntimeError("the zygote was not started here")
        return self.socket, self.process.pid

    @classmethod
    def attach(cls, address: tuple[str, int]) -> Zygote:
        """A zygote another process started (and stops): this one only asks it for kernels."""
        zygote = cls.__new__(cls)
        zygote.socket, zygote.pid = address
        zygote.folder, zygote.process = None, None
        return zygote

    def start(self) -> Zygote:
        from systemic_lib.config import importable

        env = {**os.environ, "PYTHONPATH": importable(os.environ.get("PYTHONPATH"))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "systemic_lib.run.kernels", self.socket],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.folder,
            start_new_session=True,
            env=env,
        )
        return self

    def preload(self, council: str, cache_dir: str | None, *, wait: bool = False):
        """Ask the zygote to read a council now (through the table cache ``cache_dir``, as a job's kernel reads it):
        it does so as soon as its imports are done, while the workers start, so that their first kernels need not.
        ``wait``: return the council folders it then holds (None if it could not be asked); else return at once."""

        def ask():
            deadline = time.monotonic() + 60
            while self.alive() and time.monotonic() < deadline:
                try:
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                        conn.connect(self.socket)
                        ask = {"preload": True, "council": council, "cache_dir": cache_dir}
                        conn.sendall(json.dumps(ask).encode() + b"\n")
                        reply = b""
                        while not reply.endswith(b"\n"):
                            chunk = conn.recv(65536)
                            if not chunk:
                                return None
                            reply += chunk
                    return json.loads(reply)
                except FileNotFoundError:  # still importing
                    time.sleep(0.05)
                except (OSError, ValueError):
                    return None
            return None

        if wait:
            return ask()
        threading.Thread(target=ask, name="systemic-preload", daemon=True).start()
        return None

    def alive(self) -> bool:
        if self.pid is not None:
            try:
                os.kill(self.pid, 0)
            except OSError:
                return False
            return True
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.pid is not None:  # attached: its owner stops it
            return
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        Path(self.socket).unlink(missing_ok=True)
        if self.folder is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self.folder)


class ReadyClient(AsyncKernelClient):
    """A kernel client that skips its readiness check once its kernel has answered (``Ahead`` checked it already:
    nbclient's own check waits 0.2 s for IOPub)."""

    answered = False

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        if not self.answered:
            await super().wait_for_ready(timeout=timeout)


class SystemicKernelManager(AsyncKernelManager):
    """Starts a report's kernel with the job's environment (``env``) and remembers the clients it gave out, so
    that ``Ahead`` can close their channels: nbclient leaves a kernel it was given, and its client, to whoever gave
    it. ``answered``: a client ``Ahead`` already connected and found answering, handed out once."""

    env: dict[str, str] = {}
    client_class = DottedObjectName("systemic_lib.run.kernels.ReadyClient")

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.answered: ReadyClient | None = None
        self.given: list[AsyncKernelClient] = []

    async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
        kw.setdefault("env", self.env)
        await super().start_kernel(**kw)

    def client(self, **kwargs: Any):  # an AsyncKernelClient (jupyter_client types it as the blocking one)
        kc, self.answered = self.answered or super().client(**kwargs), None
        self.given.append(kc)
        return kc


class WarmKernelManager(SystemicKernelManager):
    """Starts ``kernel_client.py`` in place of the kernel's own command: it fetches a forked, warm kernel from the
    zygote at ``socket`` once the zygote has read the council named in ``ask``."""

    socket = ""
    ask = "{}"

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None and str(CLIENT) not in spec.argv:
            spec.argv = [sys.executable, "-I", "-S", str(CLIENT), self.socket, self.ask, *spec.argv]
        return spec


def kernel_manager_class(
    zygote: Zygote | None, env: dict[str, str], council: str | None = None, cache_dir: str | None = None
) -> type[SystemicKernelManager]:
    """The kernel manager class papermill should use for a job: it starts each kernel with ``env``, forked from
    ``zygote`` once the zygote has read ``council`` through the table cache ``cache_dir`` (None: Jupyter's own
    kernel start)."""
    attrs: dict[str, Any] = {"env": env}
    if zygote is None:
        return type("JobKernelManager", (SystemicKernelManager,), attrs)
    ask = json.dumps({"council": council, "cache_dir": cache_dir})
    return type("WarmJobKernelManager", (WarmKernelManager,), {**attrs, "socket": zygote.socket, "ask": ask})


class Ahead:
    """A worker's next kernel, started while its current notebook runs, and its used kernels shut down in the
    background, so that no notebook waits for a kernel to start (about 0.4 s, mostly ZeroMQ connecting) or to stop.

    Everything runs on the event loop papermill and nbclient use in the worker's thread: the work is done while
    nbclient waits on the current notebook's kernel. Each notebook still gets a kernel of its own, fresh from the
    zygote. ``take(key)`` hands over the kernel started for ``key`` (the job's council, cache and kernel name:
    the zygote read that council before forking it), or None; ``start(key, ...)`` starts the next one;
    ``done_with(km)`` shuts a used one down; ``close()`` ends them all when the worker stops.
    """

    def __init__(self, zygote: Zygote):
        self.zygote = zygote
        self.key = None
        self.next = None  #: asyncio task: the started kernel manager, or None if it did not start
        self.closing: set = set()

    @staticmethod
    def loop():
        from jupyter_core.utils import ensure_event_loop

        return ensure_event_loop()

    def take(self, key):
        """The kernel manager started for ``key``, waiting for its start if need be; None if there is none."""
        task, self.next = self.next, None
        if task is None:
            return None
        if key != self.key:
            self._later(self._end_started(task))
            return None
        try:
            return task.result() if task.done() else self.loop().run_until_complete(task)
        except BaseException:
            return None

    def start(self, key, manager: type[SystemicKernelManager], kernel_name: str, cwd: str) -> None:
        self.key = key
        self.next = self.loop().create_task(self._start(manager, kernel_name, cwd))

    async def _start(self, manager: type[SystemicKernelManager], kernel_name: str, cwd: str):
        km = manager(kernel_name=kernel_name)
        try:
            await km.start_kernel(cwd=cwd)
            kc = km.client()
            kc.start_channels(hb=False)  # nbclient starts the heartbeat (a thread, which starts only once)
            await kc.wait_for_ready(timeout=START_TIMEOUT)
        except Exception:
            await _shut(km, now=True)
            return None
        if isinstance(kc, ReadyClient):
            kc.answered = True  # nbclient need not ask again
            km.answered = kc  # connected and answering: nbclient's km.client() gets it
        return km

    def done_with(self, km) -> None:
        self._later(_shut(km))

    def _later(self, coro) -> None:
        task = self.loop().create_task(coro)
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    @staticmethod
    async def _end_started(task) -> None:
        km = await task
        if km is not None:
            await _shut(km, now=True)

    def close(self, timeout: float = 4.0) -> None:
        """Shut down the kernel started ahead and finish every shutdown under way (the worker is stopping), within
        ``timeout``: less than the pool gives a stopping worker (``pool.STOP_GRACE``)."""
        import asyncio

        if self.next is not None:
            self._later(self._end_started(self.next))
            self.next = None
        if self.closing:
            self.loop().run_until_complete(asyncio.wait(list(self.closing), timeout=timeout))


async def _shut(km, *, now: bool = False) -> None:
    """Close the channels of the clients a kernel was given to, then shut the kernel down; never raises."""
    clients, km.given = km.given, []
    for kc in clients:
        try:
            kc.stop_channels()
        except Exception:
            pass
    try:
        if km.has_kernel:
            await km.shutdown_kernel(now=now)
    except Exception:
        pass


# ------------------------------------------------------------------------------------------------ the zygote


def _die_with_parent() -> None:
    """Linux: end the zygote if the worker that started it dies (it is killed, or never says stop)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _kernel(conn: socket.socket, request: dict) -> None:
    """In the forked child: become the kernel the client asked for (never returns)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setsid()
    os.environ.clear()
    os.environ.update(request["env"])  # JPY_PARENT_PID stays the worker's, as for a kernel it starts itself
    os.chdir(request["cwd"])
    argv = request["argv"]
    sys.argv = ["ipykernel_launcher", *argv[argv.index("-f") :]] if "-f" in argv else ["ipykernel_launcher"]
    sys.argv.append("--HistoryManager.enabled=False")  # a report's kernel has no one to recall its input history

    def watch():  # the client is gone (killed by Jupyter): so is this kernel
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    from ipykernel import kernelapp

    try:
        app = kernelapp.IPKernelApp.instance()
        app.initialize()
        _inline_figures()
        app.start()
    finally:
        os._exit(0)


def _inline_figures() -> None:
    """What importing pyplot does in a fresh kernel: hook the inline backend into the now running IPython shell
    (the zygote imported it before there was a shell, so figures would otherwise never be shown)."""
    try:
        from matplotlib_inline.backend_inline import _enable_matplotlib_integration
    except ImportError:
        return
    _enable_matplotlib_integration()


def serve(path: str) -> None:
    """Import everything once, then fork one kernel per request on the socket at ``path``."""
    from systemic_lib.data.preload import Preloaded

    _import_everything()
    preloaded = Preloaded().install()  # load_council in a forked kernel starts from what it holds
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # clients connect only once everything is imported
    listener.listen(16)
    listener.settimeout(0.5)
    children: set[int] = set()
    while not stopping:
        _reap(children)
        got = _request(listener)
        if got is None:
            continue
        conn, request = got
        _preload(preloaded, request)
        if request.get("preload"):  # read the council now, for the kernels to come; no kernel yet
            _reply(conn, json.dumps(preloaded.folders()))
            continue
        gc.freeze()  # what is here now, the kernel's garbage collector never walks (nor copies, on write): ~2% CPU
        pid = os.fork()
        if pid == 0:
            listener.close()
            conn.settimeout(None)
            _kernel(conn, request)
        children.add(pid)
        _reply(conn, str(pid))
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    while children:
        _reap(children, block=True)


def _import_everything() -> None:
    """What a kernel imports, once, in the zygote (``PRELOAD``), set up as ipykernel_launcher would."""
    import importlib

    _die_with_parent()
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as ipykernel sets it
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher does; the kernel adds its own folder back
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:
            pass


def _request(listener: socket.socket) -> tuple[socket.socket, dict] | None:
    """The next client's connection and its request (one line of JSON), or None (no client yet, or it left)."""
    try:
        conn, _ = listener.accept()
    except (TimeoutError, InterruptedError):
        return None
    conn.settimeout(30)
    try:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(1 << 20)
            if not chunk:
                raise ConnectionError("client left")
            data += chunk
        return conn, json.loads(data)
    except (OSError, ValueError):
        conn.close()
        return None


def _reply(conn: socket.socket, text: str) -> None:
    try:
        conn.sendall(text.encode() + b"\n")
    except OSError:
        pass
    conn.close()


def _preload(preloaded: Preloaded, request: dict) -> None:
    """Before forking a kernel for a job of a council, read that council's tables here once (``Preloaded.read``:
    read, cut by service, each service's rows redacted) through the table cache the job uses: the kernels of that
    council then start with them. Never fails the kernel."""
    if not request.get("council"):
        return
    try:
        preloaded.read(request["council"], request.get("cache_dir"))
    except Exception:
        pass


def _reap(children: set[int], *, block: bool = False) -> None:
    """Wait for kernels that ended (so that their CPU time is counted, and no zombie is left)."""
    for pid in list(children):
        try:
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            children.discard(pid)


if __name__ == "__main__":
    serve(sys.argv[1])
