"""Notebook helpers: everything from data is escaped, figures are written atomically with their context."""

import json
import textwrap

import pandas as pd

from systemic_lib.display import report


def test_citizens_words_are_escaped_everywhere(shown):
    said = '<script>alert("x")</script> & <b>'
    report.headline(said)
    report.note(said)
    report.questions([said])
    report.table(pd.DataFrame({"verbatim": [said]}), caption=said)
    html = "".join(shown)
    assert "<script>" not in html and "<b>" not in html
    assert html.count("&lt;script&gt;") == 5


def test_table_formats_numbers_and_percentages(shown):
    report.table(pd.DataFrame({"type": ["a"], "count": [12304], "pct": [41.26], "days": [3.14159]}), percent=("pct",))
    assert "12,304" in shown[0] and "41.3%" in shown[0] and "3.1" in shown[0]


def test_long_tables_say_how_much_is_shown(shown):
    report.table(pd.DataFrame({"n": range(40)}), max_rows=10)
    assert "Showing 10 of 40 rows" in shown[0]


def test_an_empty_table_is_a_plain_note_not_a_bare_header(shown):
    report.table(pd.DataFrame({"path": []}), caption="Most common paths")
    assert "<table" not in shown[0] and "Nothing to show" in shown[0] and "Most common paths" in shown[0]


def test_stage_save_writes_figures_with_their_context(tmp_path):
    folder = tmp_path / "testshire"
    folder.mkdir()
    (folder / "council.yaml").write_text(
        textwrap.dedent("""\
        name: Testshire <Council>
        services:
          - {id: repairs, name: Repairs, purpose: Fix my home}
    """)
    )
    stage = report.Stage(folder, "repairs", "demand", output_dir=tmp_path / "out")
    path = stage.save({"contacts": 3}, period=(pd.Timestamp("2024-01-02 10:00"), pd.Timestamp("2024-03-04")))
    data = json.loads(path.read_text())
    assert data == {
        "council": "Testshire <Council>",
        "council_slug": "testshire",
        "service": "repairs",
        "service_name": "Repairs",
        "stage": "demand",
        "period": {"start": "2024-01-02", "end": "2024-03-04"},
        "contacts": 3,
    }


def test_exploring_in_jupyterlab_writes_no_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("SYSTEMIC_OUTPUT_DIR", str(tmp_path))  # no longer read: the folder is a parameter
    assert report.save_figures("demand", {"contacts": 1}) is None and not list(tmp_path.iterdir())


def test_interactive_is_off_in_the_batch(monkeypatch):
    monkeypatch.setenv("SYSTEMIC_BATCH", "1")
    assert not report.interactive()
    monkeypatch.delenv("SYSTEMIC_BATCH")
    assert report.interactive()


_DRAWS = textwrap.dedent("""
    import base64, hashlib, json, os, sys
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.run_cell("%matplotlib inline")
    shown = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: shown.append(data)
    import matplotlib.figure
    draws, draw = [], matplotlib.figure.Figure.draw
    matplotlib.figure.Figure.draw = lambda self, r: draws.append("draw_path" not in vars(r)) or draw(self, r)
    shell.run_cell("from systemic_lib.display import report; report.setup()")
    shell.run_cell("import matplotlib.pyplot as plt; fig, ax = plt.subplots(layout='constrained'); ax.plot([1, 3, 2])")
    shell.run_cell("pass")
    charts = [d["text/html"] for d in shown if "<figure" in d.get("text/html", "")]
    others = [sorted(d) for d in shown if "<figure" not in d.get("text/html", "")]
    print(json.dumps({"draws": len(draws), "painted": sum(draws), "others": others, "pngs": [hashlib.sha256(c.encode()).hexdigest() for c in charts]}))
""")


def test_a_batch_kernel_draws_each_figure_only_for_its_png(tmp_path):
    """In batch, pyplot's redraw of open figures after each cell (pixels nobody saw) is gone: a figure is laid out
    and painted only for its chart (an SVG figure, nothing else shown), and the chart is the same bytes as with the
    redraw."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(report.__file__).resolve().parents[2])
    got = {}
    for batch in ("1", "0"):
        env = {**os.environ, "SYSTEMIC_BATCH": batch, "PYTHONPATH": root, "MPLBACKEND": "agg"}
        ran = subprocess.run([sys.executable, "-c", _DRAWS], env=env, capture_output=True, text=True, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        got[batch] = json.loads(ran.stdout.strip().splitlines()[-1])
    assert len(got["1"]["pngs"]) == 1 and got["1"]["pngs"] == got["0"]["pngs"]
    assert got["1"]["others"] == [] and got["0"]["others"] == []  # no PNG beside the figure
    # batch: savefig's tight box and the SVG, no redraw; JupyterLab keeps pyplot's redraw after the cell
    assert got["1"]["draws"] == 2 and got["0"]["draws"] == 3
    assert got["0"]["painted"] == got["1"]["painted"] + 1
