"""The coach app's start and one workshop decision, as a person meets them, in headless Chromium.

    python benchmarks/bench_coach.py [--repeat 3] [--decisions 5] [--council PATH]

* start: from running ``systemic coach COUNCIL --no-browser`` to the first step usable in the browser (the step bar
  and the Choose step's table of what the council has), against the same with plain ``voila`` serving a one-button
  notebook (Voila's own floor: server, kernel, page) in the same run. Target: under 5 s.
* decision: in the demand workshop, pressing ``v`` to the message that the decision is saved and the tally redrawn
  (browser -> kernel -> SQLite -> tally -> browser). Target: under 200 ms.

The council is the first sample council (generated into a temporary folder) unless --council is given.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import free_port


def env() -> dict:
    out = {k: v for k, v in os.environ.items() if k != "SYSTEMIC_BATCH"}
    out["PYTHONPATH"] = os.pathsep.join([str(ROOT), out.get("PYTHONPATH", "")])
    out["SYSTEMIC_ROOT"] = str(ROOT)
    return out


def stop(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=15)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def printed_url(proc: subprocess.Popen, log: Path, pattern: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, log.read_text(errors="replace"))
        if m:
            return m.group(1)
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    raise SystemExit(f"no URL printed:\n{log.read_text()[-2000:]}")


def time_to_usable(
    browser, cmd: list[str], log: Path, pattern: str, ready: str
) -> tuple[float, subprocess.Popen, object, str]:
    """Seconds from starting ``cmd`` to ``ready`` (a CSS selector) visible in a fresh page."""
    t0 = time.perf_counter()
    out = open(log, "wb")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env(), start_new_session=True)
    url = printed_url(proc, log, pattern)
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(url, timeout=120_000)
    page.locator(ready).first.wait_for(timeout=120_000)
    return time.perf_counter() - t0, proc, page, url


def baseline_notebook(folder: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('import ipywidgets as w\nw.Button(description="ready")')]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "floor.ipynb"
    nbformat.write(nb, path)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--decisions", type=int, default=5)
    ap.add_argument("--council", type=Path)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from systemic_lib.data.sample import write_sample_councils

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("Chromium is not installed: `make browser`")
    tmp = Path(tempfile.mkdtemp(prefix="bench-coach-"))
    council = args.council or sorted(write_sample_councils(tmp / "councils"))[0]
    floor_nb = baseline_notebook(tmp)
    ours, floor, decisions = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            for i in range(args.repeat):
                port = free_port()
                secs, proc, page, _ = time_to_usable(
                    browser,
                    [
                        sys.executable,
                        "-m",
                        "voila",
                        str(floor_nb),
                        "--no-browser",
                        f"--port={port}",
                        "--Voila.ip=127.0.0.1",
                        "--Voila.port_retries=0",
                    ],
                    tmp / f"floor-{i}.log",
                    r"(http://127\.0\.0\.1:\d+/)",
                    "button.jupyter-button",
                )
                floor.append(secs)
                page.close()
                stop(proc)

                work = tmp / f"run-{i}"
                shutil.copytree(council, work)
                port = free_port()
                secs, proc, page, _ = time_to_usable(
                    browser,
                    [sys.executable, "-m", "systemic_lib.cli", "coach", str(work), "--port", str(port), "--no-browser"],
                    tmp / f"coach-{i}.log",
                    r"Coach app for \S+: (\S+)",
                    ".coach-body table",
                )
                ours.append(secs)
                if i == 0:  # one workshop decision after another, timed from the key press to the tally
                    page.locator(".coach-step-demand").click()
                    page.locator(".coach-person input").wait_for(timeout=120_000)
                    page.locator(".coach-person input").fill("bench")
                    page.locator(".coach-start").click()
                    page.locator(".coach-verbatim").wait_for(timeout=60_000)
                    last = ""
                    for _ in range(args.decisions):
                        t0 = time.perf_counter()
                        page.keyboard.press("v")
                        last = page.wait_for_function(
                            """(before) => { const m = document.querySelector('.coach-said [role=status]');
                                 return m && m.innerText !== before ? m.innerText : false; }""",
                            arg=last,
                            polling="raf",
                            timeout=60_000,
                        ).json_value()
                        decisions.append(time.perf_counter() - t0)
                page.close()
                stop(proc)
        finally:
            browser.close()
    shutil.rmtree(tmp, ignore_errors=True)
    o, f = statistics.median(ours), statistics.median(floor)
    d = statistics.median(decisions) * 1000 if decisions else float("nan")
    print(f"council: {council.name}")
    print(
        f"start to first step usable: {o:.2f} s (median of {len(ours)}; target < 5 s) "
        f"vs plain voila, one button: {f:.2f} s -> {o / f:.2f}x the floor"
    )
    print(f"one workshop decision, key press to tally: {d:.0f} ms (median of {len(decisions)}; target < 200 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
