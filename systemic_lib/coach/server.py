"""``systemic coach``: serve ``notebooks/coach.ipynb`` with Voila (widgets run, code never shows).

By default the app listens on 127.0.0.1 only. ``--room`` listens on the network so that the people in the room can
join from their own laptops: it prints (and the first page shows) a join URL with a short access code and a QR
code. Either way the Jupyter server's token mechanism refuses every request without the code (locally the code is
long and random, as Jupyter's own). Every asset is served by this machine: the Voila template ``coach`` drops the
CDN links of Voila's lab template, so citizens' words never leave the room.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import webbrowser
from pathlib import Path

import click

from systemic_lib import config

SHARE = Path(__file__).resolve().parent / "share"
NOTEBOOK = "coach.ipynb"
#: Letters and digits a person cannot misread (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def access_code(n: int = CODE_LENGTH) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(n))


def room_address() -> str:
    """This machine's address on the room's network (no packet is sent), or its host name."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
        except OSError:
            return socket.gethostname()


def first_council() -> Path | None:
    """The first sample council (``make sample`` writes them under data/councils)."""
    folders = sorted(p for p in config.COUNCILS_DIR.glob("*") if (p / "council.yaml").exists())
    return folders[0] if folders else None


def voila_command(*, port: int, ip: str, token: str) -> list[str]:
    """The Voila server for the coach notebook: our template, no browser of its own, the token, no port hopping."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(config.NOTEBOOKS_DIR / NOTEBOOK),
        "--no-browser",
        "--template=coach",
        "--theme=light",
        f"--port={port}",
        f"--Voila.ip={ip}",
        "--Voila.port_retries=0",
        f"--token={token}",
        "--VoilaConfiguration.show_tracebacks=False",
        f"--Voila.root_dir={config.NOTEBOOKS_DIR}",
    ]


def wait_until_up(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> bool:
    """Whether the server at ``url`` answers within ``timeout`` seconds (False at once if ``proc`` has exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        try:
            with urllib.request.urlopen(url, timeout=5):
                return True
        except urllib.error.HTTPError:
            return True  # it answers (the status does not matter here)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.2)
    return False


@click.command("coach")
@click.argument("council_dir", required=False, type=click.Path(file_okay=False, exists=True))
@click.option("--service", help="Service id to open on (default: where the team stopped, or the first).")
@click.option("--port", type=int, default=8866, show_default=True, help="Port to listen on.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser; just print the URL.")
@click.option("--room", is_flag=True, help="Listen on the network: people join with a short access code.")
def coach_command(council_dir, service, port, no_browser, room):
    """Walk a team through Check in the browser, no code: the coach app for COUNCIL_DIR (default: the first sample
    council)."""
    folder = Path(council_dir) if council_dir else first_council()
    if folder is None:
        raise click.ClickException(
            f"no council folder given and none under {config.COUNCILS_DIR}: run `make sample`, or give a council folder"
        )
    folder = folder.resolve()
    token = access_code() if room else secrets.token_hex(24)
    ip = "0.0.0.0" if room else "127.0.0.1"
    local = f"http://127.0.0.1:{port}/?token={token}"
    join = f"http://{room_address()}:{port}/?token={token}" if room else ""
    env = {
        **os.environ,
        "SYSTEMIC_COACH_COUNCIL": str(folder),
        "SYSTEMIC_COACH_SERVICE": service or "",
        "SYSTEMIC_COACH_JOIN_URL": join,
        "JUPYTER_PATH": os.pathsep.join(p for p in (str(SHARE), os.environ.get("JUPYTER_PATH", "")) if p),
    }
    env.pop("SYSTEMIC_BATCH", None)
    proc = subprocess.Popen(voila_command(port=port, ip=ip, token=token), env=env, cwd=config.NOTEBOOKS_DIR)

    def stop(*_):
        if proc.poll() is None:
            proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    if not wait_until_up(f"http://127.0.0.1:{port}/", proc=proc):
        stop()
        raise click.ClickException(f"the coach app did not start on port {port} (is the port in use? try --port)")
    # Printed once the server answers, so the URL works when it appears.
    click.echo(f"Coach app for {folder.name}: {local}")
    if room:
        click.echo(f"People in the room join at: {join}\nAccess code: {token}")
    sys.stdout.flush()
    if not no_browser:
        webbrowser.open(local)
    try:
        sys.exit(proc.wait())
    except KeyboardInterrupt:
        stop()
        sys.exit(proc.wait())
