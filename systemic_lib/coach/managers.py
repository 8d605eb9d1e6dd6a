"""Step 8, For managers: a summary to print (A4, with its charts, no controls in the printout).

What the team found at each step, with its charts (failure demand by type, each measure's capability chart, the
end-to-end time per case), the council's measures at a glance (every service's, as on its measures page), the system
conditions to act on with who can change them, and what the experiment shows.
Every figure is the stage modules' own (their headlines and tables), so it agrees with the reports. Every chart has a
text alternative (what it shows, in words); everything the team typed (the purpose, the conditions) is shown
redacted, as on the reports.
"""

from __future__ import annotations

import ipywidgets as w

from systemic_lib import words
from systemic_lib.analysis import demand, experiment, flow, measure
from systemic_lib.coach import pictures, stagedata, ui
from systemic_lib.coach.capability import measure_image
from systemic_lib.coach.conditions_step import redacted
from systemic_lib.data import conditions
from systemic_lib.data.council import load_council
from systemic_lib.data.redact import redact
from systemic_lib.display.charts import demand as demand_charts
from systemic_lib.display.charts import flow as flow_charts
from systemic_lib.site.measures import MeasureCell, measures_page


def _section(title: str, body: str) -> str:
    return f"<section><h2>{ui.esc(title)}</h2>{body}</section>"


def _p(text: str) -> str:
    return f"<p>{ui.esc(text)}</p>"


def _read_out(results) -> list:
    """The measures whose reading managers should read in full: end-to-end time (its weekly and per-case views
    weighed) and any measure that shows a change or a special cause."""
    return [
        r
        for r in results
        if r.reading is not None
        and (r.reading.value not in ("no change", "not enough data") or r.id == "end_to_end_days")
        and r.result is not None
    ]


def _cell_html(cell: MeasureCell) -> str:
    """One measure of one service as the measures page shows it (``site.measures``): the latest point and when,
    the variation icon (and assurance where the team set a target), the current limits and its suggestion."""
    if cell.status == "not measured":
        return "<td class='not-measured'>\u2014</td>"
    if cell.status != "charted":
        return f"<td><span class='note'>no chart</span> {ui.esc(cell.sentence)}</td>"
    icons = "".join(
        f"<span class='coach-icon {ui.esc(i.meaning)}'>{ui.esc(i.words)}</span> "
        for i in (cell.icon, cell.assurance)
        if i is not None
    )
    said = "".join(
        f"<div class='note coach-suggested'>{ui.esc(t)}</div>" for k, t in cell.suggestions if k == "suggested"
    )
    return (
        f"<td data-measure='{ui.esc(cell.column)}'><b>{ui.esc(cell.latest)}</b> <span class='note'>"
        f"{ui.esc(cell.latest_when)}</span><br>{icons}<br><span class='note'>limits {ui.esc(cell.limits)} "
        f"({ui.esc(cell.limits_since)})</span>{said}</td>"
    )


def measures_html(council, kept) -> str:
    """The council's measures at a glance, services down and measures across, as on its measures page: each
    service's cells are built by ``site.measures`` from what its measure.json holds (``measure.figures`` of the
    measure stage's own result, the one its charts are drawn from): nothing is computed twice. Never ranked."""
    services: list[tuple[str, str, dict | None, str]] = []
    for sid, svc in council.services.items():
        data = kept.data("measure", sid)
        start, end = measure.period(data)
        figures = measure.figures(data) | {"period": {"start": start, "end": end}}
        services.append((sid, svc.name, figures, "ok"))
    page = measures_page(council.slug, council.name, services)
    head = "".join(f"<th scope='col'>{ui.esc(c.name)}</th>" for c in page.columns)
    rows = "".join(
        f"<tr><th scope='row'>{ui.esc(r.name)}</th>{''.join(_cell_html(c) for c in r.cells)}</tr>" for r in page.rows
    )
    return (
        "<p class='note'>Each cell: the latest point and when, what it is (the icon on its capability chart), the "
        "current process limits and any new phase suggested. Services are listed as in council.yaml, never in order "
        "of a figure.</p>"
        f"<div class='coach-measures-wrap'><table class='coach-measures'><thead><tr><th scope='col'>Service</th>"
        f"{head}</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def summary_html(council_dir, service: str) -> str:
    """The manager summary as escaped HTML: one ``<section>`` per step."""
    council = load_council(council_dir)
    spec = council.service(service)
    sections = []
    better = {"increase": "higher is better", "decrease": "lower is better", "neutral": "neither way is better"}
    measures = "".join(
        f"<li>{ui.esc(redact(m.name))} ({ui.esc(better.get(m.improvement, m.improvement))}"
        + (f", target {ui.esc(words.figure(m.target))}" if m.target is not None else "")
        + ")</li>"
        for m in spec.measures
    )
    sections.append(
        _section(
            "Purpose",
            f"<p class='coach-big'>“{ui.esc(redact(spec.purpose))}”</p>"
            + (
                f"<p>Measures that follow from it:</p><ul>{measures}</ul>"
                if measures
                else _p("No measures chosen yet.")
            ),
        )
    )

    kept = stagedata.of(council_dir)
    d = kept.data("demand", service)
    failing = demand.failure_types(d.contacts) if len(d.contacts) else None
    sections.append(
        _section(
            "Demand",
            _p(demand.headline(d))
            + (
                "<h3>What failed, most often first</h3>"
                + ui.table(
                    failing.head(6).rename(columns={"failure_type": "failure type", "pct": "% of failure demand"}),
                    decimals=0,
                )
                if failing is not None and len(failing)
                else ""
            )
            + (
                kept.image(
                    ("failure types", service),
                    lambda: pictures.img(
                        lambda ax: demand_charts.failure_types_chart(d.contacts, ax=ax), _failing_words(failing)
                    ),
                )
                if failing is not None and len(failing)
                else ""
            ),
        )
    )

    m = kept.data("measure", service)
    summary = measure.measure_summary(m)
    table = summary[summary["Points"] > 0] if len(summary) and (summary["Points"] > 0).any() else None
    not_charted = [r.name for r in m.results if r.result is None]
    sections.append(
        _section(
            "Capability",
            _p(measure.headline(m))
            + "".join(_p(f"{r.name}: {r.reading.sentence}") for r in _read_out(m.results))
            + ui.table(
                table.drop(columns=["Since"]) if table is not None else None,
                empty="No measure has enough data to chart yet.",
            )
            + (
                _p(
                    "Not charted yet, for want of data (the measure report says what is needed): "
                    + ", ".join(not_charted)
                    + "."
                )
                if not_charted
                else ""
            )
            + "".join(measure_image(kept, service, r) for r in m.results if r.result),
        )
    )

    sections.append(_section(f"Measures of every service of {council.name}", measures_html(council, kept)))

    f = kept.data("flow", service)
    sections.append(
        _section(
            "Flow",
            _p(flow.headline(f))
            + "".join(_p(s) for s in flow.summary_sentences(f))
            + kept.image(
                ("end to end", service),
                lambda: pictures.img(lambda ax: flow_charts.end_to_end_chart(f, ax=ax), flow.headline(f)),
            )
            if f.log.n_events
            else _p("No events recorded for this service yet."),
        )
    )

    c = redacted(conditions.conditions(council_dir, service))
    act = conditions.open_conditions(c)
    cols = {
        "system_condition": "system condition",
        "waste_seen": "waste it causes",
        "thinking": "thinking behind it",
        "who_can_change": "who can change it",
        "status": "status",
    }
    sections.append(
        _section(
            "System conditions to act on",
            ui.table(
                act[[k for k in cols if k in act]].rename(columns=cols) if len(act) else None,
                empty="No open system conditions recorded yet.",
            ),
        )
    )

    e = kept.data("experiment", service)
    if e.new_service is not None:  # built by experiment: what it achieves, and the conditions that made it work
        lines = experiment.box(e)
        worked = experiment.made_it_work(e)
        sections.append(
            _section(
                "What the team built",
                _p(experiment.headline(e)) + "<ul>" + "".join(f"<li>{ui.esc(line)}</li>" for line in lines) + "</ul>",
            )
        )
        sections.append(
            _section(
                "What made it work: copy the conditions, not the procedure",
                _p(
                    "Managers who want more of this should roll people in to work this way with these conditions "
                    "kept out, and let them build their own workflows from their demand, rather than copy the hub's "
                    "procedures."
                )
                + (
                    "<ul>"
                    + "".join(
                        f"<li><b>{ui.esc(c['condition'])}</b>: designed out ({ui.esc(c['since'])})"
                        + (f". What the team learned: {ui.esc(c['learned'])}" if c["learned"] else "")
                        + "</li>"
                        for c in worked
                    )
                    + "</ul>"
                    if worked
                    else _p("No condition is marked designed out yet: ask the team which it kept out.")
                ),
            )
        )
    else:
        sections.append(_section("What the experiment shows", _p(experiment.headline(e))))
    title = (
        f"<header><h1>{ui.esc(council.name)}: {ui.esc(spec.name)}</h1><p class='note'>What the team found, for "
        "managers. The system causes most of the waste, not the people: these are the conditions to change."
        "</p></header>"
    )
    return f"<div class='coach-summary'>{title}{''.join(sections)}</div>"


def _failing_words(failing) -> str:
    """The failure-types chart in words: each type with its share of failure demand."""
    parts = [f"{t} {words.percent(p)}" for t, p in zip(failing["failure_type"], failing["pct"])]
    return "Failure demand by type, as a share of failure demand: " + ", ".join(parts) + "."


def build(app) -> w.Widget:
    printer = ui.button(
        "Print this summary",
        key="p",
        primary=True,
        classes=("coach-print-button",),
        tooltip="Print or save as PDF (A4)",
    )
    return w.VBox(
        [
            ui.html(summary_html(app.folder, app.service), "coach-summary-box"),
            w.HBox([printer], layout=w.Layout(margin="12px 0")).add_class("coach-noprint"),
        ]
    )
