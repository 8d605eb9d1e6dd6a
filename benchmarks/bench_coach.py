"""The coach app as a person meets it, in headless Chromium: start, every step, one workshop decision, memory.

    python benchmarks/bench_coach.py [--repeat 3] [--decisions 5] [--council PATH] [--wait 15]

* start: from running ``systemic coach COUNCIL --no-browser`` to the first step usable in the browser (the step bar
  and the Choose step's table of what the council has), against the same with plain ``voila`` serving a one-button
  notebook (Voilà's own floor: server, kernel, page) in the same run. Target: under 5 s.
* steps: from a click on each step in the step bar to that step drawn (its heading; the managers' summary), first
  straight after the start, then again after ``--wait`` seconds on the first step (as a coach talks the room through
  it while the app computes the later steps in the background). Target: every step under 2 s.
* decision: in the demand workshop, pressing ``v`` to the message that the decision is saved and the next contact
  drawn (browser -> kernel -> SQLite -> browser). Target: under 200 ms.
* memory: the resident memory of the coach's kernel after every step, of a joiner's kernel (the workshop only) and
  of the server: what a room of 12 laptops needs (one coach and 11 joiners).

The council is the first sample council (generated into a temporary folder) unless --council is given. Run it on an
idle machine: every figure is a wall time.
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

STEPS = {
    "purpose": "Purpose",
    "demand": "Demand workshop",
    "capability": "Capability",
    "flow": "Flow",
    "conditions": "System conditions and thinking",
    "experiment": "Experiment and learning",
    "managers": None,
    "choose": "Choose the service",
}


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


def printed(proc: subprocess.Popen, log: Path, pattern: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, log.read_text(errors="replace"))
        if m:
            return m.group(1)
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    raise SystemExit(f"no URL printed:\n{log.read_text()[-2000:]}")


def time_to_usable(browser, cmd: list[str], log: Path, pattern: str, ready: str):
    """Seconds from starting ``cmd`` to ``ready`` (a CSS selector) visible in a fresh page; the server, the page
    and the address it printed."""
    t0 = time.perf_counter()
    out = open(log, "wb")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env(), start_new_session=True)
    url = printed(proc, log, pattern)
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


def open_step(page, step: str) -> float:
    """Seconds from a click on ``step`` in the step bar to the step drawn."""
    t0 = time.perf_counter()
    page.locator(f".coach-step-{step}").click()
    heading = STEPS[step]
    if heading:
        page.locator(".coach-body h2", has_text=re.compile(rf"^{re.escape(heading)}$")).wait_for(timeout=120_000)
    else:
        page.locator(".coach-summary").wait_for(timeout=120_000)
    return time.perf_counter() - t0


def kernel_rss(server_pid: int) -> list[float]:
    """Each kernel's resident memory (MB), children of the server."""
    import psutil

    out = []
    for p in psutil.Process(server_pid).children(recursive=True):
        try:
            if "ipykernel" in " ".join(p.cmdline()):
                out.append(p.memory_info().rss / 2**20)
        except psutil.Error:
            continue
    return out


def decide(page, n: int) -> list[float]:
    """Seconds from pressing v to the next contact drawn, ``n`` times."""
    times = []
    for _ in range(n):
        before = page.locator(".coach-verbatim").get_attribute("data-contact")
        t0 = time.perf_counter()
        page.keyboard.press("v")
        page.wait_for_function(
            """(before) => { const c = document.querySelector('.coach-desk-contact:not([hidden]) .coach-verbatim');
                 return c && c.dataset.contact && c.dataset.contact !== before; }""",
            arg=before,
            polling="raf",
            timeout=60_000,
        )
        times.append(time.perf_counter() - t0)
    return times


def one_run(browser, council: Path, tmp: Path, i: int, args, result: dict) -> None:
    work = tmp / f"run-{i}"
    shutil.copytree(council, work)
    port = free_port()
    secs, proc, page, url = time_to_usable(
        browser,
        [sys.executable, "-m", "systemic_lib.cli", "coach", str(work), "--port", str(port), "--no-browser"],
        tmp / f"coach-{i}.log",
        r"Coach app for \S+: (\S+)",
        ".coach-body table",
    )
    result["start"].append(secs)
    try:
        cold = {step: open_step(page, step) for step in STEPS}
        for step, s in cold.items():
            result["cold"].setdefault(step, []).append(s)
        page.close()  # a fresh page (its own kernel) opens on the first step (the walk ended there)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(url, timeout=120_000)
        page.locator(".coach-body table").first.wait_for(timeout=120_000)
        time.sleep(args.wait)
        for step in STEPS:
            result["warm"].setdefault(step, []).append(open_step(page, step))
        if i == 0:
            result["coach_rss"] = max(kernel_rss(proc.pid))
            open_step(page, "demand")
            page.locator(".coach-join-form input").fill("bench")
            page.keyboard.press("Enter")
            page.locator(".coach-desk-contact:not([hidden]) .coach-verbatim").wait_for(timeout=60_000)
            result["decisions"] += decide(page, args.decisions)
            before = set(kernel_rss(proc.pid))
            joiner = browser.new_page(viewport={"width": 1280, "height": 720})
            joiner.goto(url.replace("/?", "/?join=1&"), timeout=120_000)
            joiner.locator(".coach-join-form input").wait_for(timeout=120_000)
            result["joiner_rss"] = max(set(kernel_rss(proc.pid)) - before or {0.0})
            import psutil

            result["server_rss"] = psutil.Process(proc.pid).memory_info().rss / 2**20
            joiner.close()
    finally:
        page.close()
        stop(proc)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--decisions", type=int, default=5)
    ap.add_argument("--wait", type=float, default=15.0, help="seconds on the first step before the warm walk")
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
    floor: list[float] = []
    result: dict = {"start": [], "cold": {}, "warm": {}, "decisions": []}
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
                one_run(browser, council, tmp, i, args, result)
        finally:
            browser.close()
    shutil.rmtree(tmp, ignore_errors=True)
    report(council, floor, result, args)
    return 0


def report(council: Path, floor: list[float], result: dict, args) -> None:
    o, f = statistics.median(result["start"]), statistics.median(floor)
    print(f"council: {council.name}")
    print(
        f"start to first step usable: {o:.2f} s (median of {len(result['start'])}; target < 5 s) "
        f"vs plain voila, one button: {f:.2f} s -> {o / f:.2f}x the floor"
    )
    for kind, said in (("cold", "straight after the start"), ("warm", f"after {args.wait:.0f} s on the first step")):
        times = {s: statistics.median(v) for s, v in result[kind].items()}
        slowest = max(times, key=times.get)
        print(
            f"each step {said} (median of {args.repeat}; target < 2 s): "
            + ", ".join(f"{s} {t:.2f} s" for s, t in times.items())
            + f"; slowest {slowest} {times[slowest]:.2f} s = {times[slowest] / f:.2f}x the voila floor"
        )
    d = statistics.median(result["decisions"]) * 1000 if result["decisions"] else float("nan")
    print(
        f"one workshop decision, key press to the next contact drawn: {d:.0f} ms (median of {len(result['decisions'])}; target < 200 ms)"
    )
    coach, joiner, server = result.get("coach_rss", 0), result.get("joiner_rss", 0), result.get("server_rss", 0)
    room = server + coach + 11 * joiner
    print(
        f"memory: coach's kernel after every step {coach:.0f} MB; a joiner's kernel {joiner:.0f} MB; the server "
        f"{server:.0f} MB; a room of 12 (1 coach, 11 joiners) {room / 1024:.1f} GB, plus about {joiner:.0f} MB for "
        "each page reloaded in the last 30 s (freed after 30 s)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
