"""``systemic coach``: serve ``notebooks/coach.ipynb`` with Voilà, in this process (widgets run, code never shows).

By default the app listens on 127.0.0.1 only. ``--room`` listens on the network so that the people in the room can
join from their own laptops: it prints (and the first page shows) a join address with a short access code and a QR
code. The server is Voilà's, run here rather than as a child process, so that a killed ``systemic coach`` takes the
server (and, through ipykernel's parent check, its kernels) with it: nothing is left listening with the code valid.

What this module adds to Voilà:

* **The door.** Every request without the code is refused. A person who opens the app without it gets a plain page
  that says "Ask the coach for the room code" and a box to type it in (``Door``), not Jupyter's token page. The code
  is read as people type it: lower case, spaces and all (``normalise_code``).
* **The join address.** ``/join`` opens the demand workshop's join page of the service the coach is on (the app reads
  ``join`` from the page's address); the coach's own address opens where the team stopped.
* **Kernels freed.** Each page has a kernel (about 250-330 MB). A kernel whose page has been closed or reloaded has
  no connection left: ``Culler`` shuts it down once it has had none for ``--cull-after`` seconds (30 by default), so
  a room's reloads and abandoned tabs never pile up.
* **Quiet, safe logs.** Request lines go through jupyter_server's ``log_request``, which scrubs the code from every
  address it logs; a malformed ``/voila/templates/...`` address is a plain 404, not a 500 with a traceback; the only
  address printed is the app's own (not Voilà's banner with its ``?token=...`` placeholder).

Every asset is served by this machine: the Voilà template ``coach`` drops the CDN links of Voilà's lab template, so
citizens' words never leave the room.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

import click

from systemic_lib import config

SHARE = Path(__file__).resolve().parent / "share"
NOTEBOOK = "coach.ipynb"
#: Letters and digits a person cannot misread (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
#: Seconds a kernel may have no page connected before it is shut down.
CULL_AFTER = 30.0


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


def voila_argv(*, port: int, ip: str, token: str) -> list[str]:
    """Voilà's options for the coach notebook: our template, no browser of its own, the code, no port hopping."""
    return [
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


@click.command("coach")
@click.argument("council_dir", required=False, type=click.Path(file_okay=False, exists=True))
@click.option("--service", help="Service id to open on (default: where the team stopped, or the first).")
@click.option("--port", type=int, default=8866, show_default=True, help="Port to listen on.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser; just print the URL.")
@click.option("--room", is_flag=True, help="Listen on the network: people join with a short access code.")
@click.option(
    "--cull-after",
    type=float,
    default=CULL_AFTER,
    show_default=True,
    help="Seconds before the kernel of a closed or reloaded page is shut down (its memory freed).",
)
def coach_command(council_dir, service, port, no_browser, room, cull_after):
    """Walk a team through Check in the browser, no code: the coach app for COUNCIL_DIR (default: the first sample
    council)."""
    folder = Path(council_dir) if council_dir else first_council()
    if folder is None:
        raise click.ClickException(
            f"no council folder given and none under {config.COUNCILS_DIR}: run `make sample`, or give a council folder"
        )
    folder = folder.resolve()
    token = access_code() if room else access_code(40)
    ip = "0.0.0.0" if room else "127.0.0.1"
    local = f"http://127.0.0.1:{port}/?token={token}"
    join = f"http://{room_address()}:{port}/join?token={token}" if room else ""
    os.environ.update(
        {
            "SYSTEMIC_COACH_COUNCIL": str(folder),
            "SYSTEMIC_COACH_SERVICE": service or "",
            "SYSTEMIC_COACH_JOIN_URL": join,
            "JUPYTER_PATH": os.pathsep.join(p for p in (str(SHARE), os.environ.get("JUPYTER_PATH", "")) if p),
        }
    )  # the kernels inherit these
    os.environ.pop("SYSTEMIC_BATCH", None)
    os.chdir(config.NOTEBOOKS_DIR)
    announce = f"Coach app for {folder.name}: {local}"
    if room:
        announce += f"\nPeople in the room join at: {join}\nAccess code: {token}"
    from systemic_lib.coach.room import CoachVoila  # Voilà and tornado: imported only to serve

    server = CoachVoila(cull_after=cull_after, announce=announce, open_browser_at="" if no_browser else local)
    server.initialize(voila_argv(port=port, ip=ip, token=token))
    server.start()
