"""The process map drawn: palette fills, labels, escaped backslashes, and the size of the PNG."""

from systemic_lib.display.charts import processmap as map_chart
from systemic_lib.display.charts.flow import STEP_FILLS

from conftest import needs_dot
from test_processmap import T, log


def test_graph_colours_and_labels():
    src = map_chart.process_map(log(), coverage=1.0).source
    assert STEP_FILLS["waste"] in src and STEP_FILLS["value"] in src
    assert STEP_FILLS["unclassified"] in src  # Rare is not in the catalogue
    assert "Ask\n13" in src  # label: name and count
    assert "1.0 days" in src  # median wait Ask -> Fix is 1 day
    for old in ("#9ecae1", "#fdae6b", "#e0e0e0"):  # the map's own second palette is gone
        assert old not in src


def _backslash_log():
    import pandas as pd

    ev = pd.DataFrame(
        {
            "case_id": ["A", "A"],
            "activity": ["Check \\N \\l \\G", 'Say "hi" <b>'],
            "timestamp": [T("2024-01-01"), T("2024-01-02")],
            "service": "s",
        }
    )
    from systemic_lib.analysis import flow

    return flow.FlowLog(ev)


def test_backslashes_in_activity_names_are_not_graphviz_escapes():
    """Hardening 12: 'Check \\N' drew the node's id (a0) in place of \\N; \\l broke the line, \\G drew 'flow'."""
    g = map_chart.process_map(_backslash_log(), coverage=1.0, title="Map of \\G")
    assert '"Check \\\\N \\\\l \\\\G\n1"' in g.source and 'label="Map of \\\\G"' in g.source
    needs_dot()
    svg = g.pipe(format="svg").decode()
    assert "Check \\N \\l \\G" in svg and "Map of \\G" in svg
    assert "Say &quot;hi&quot; &lt;b&gt;" in svg  # quotes and markup in citizens' words stay text


def test_png_is_small():
    needs_dot()
    png = map_chart.render_png(map_chart.process_map(log()))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < map_chart.MAX_BYTES
