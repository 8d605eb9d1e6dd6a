"""The experiment report's sections, in page order: headline (or how to set an experiment up), which cases are
compared, the comparison, how the cases spread, before and after over time, the learning log, the one-page summary
for senior managers and the questions. Each takes ``experiment.load``'s data and displays; it computes nothing."""

from __future__ import annotations

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape

from systemic_lib import config, words
from systemic_lib.analysis import endtoend
from systemic_lib.analysis.experiment import (
    ExperimentData,
    box,
    case_counts,
    change_text,
    comparison_table,
    conditions,
    headline,
    made_it_work,
    over_time,
    phase_mix,
    questions,
)
from systemic_lib.analysis.experiment.comparison import BY_TYPE, CLOSED, MEASURES
from systemic_lib.analysis.experiment.mix import mix_words
from systemic_lib.analysis.experiment.new_service import (
    NewService,
    failure_words,
    timeline,
    types_table,
    workflow_table,
)
from systemic_lib.data.learning_log import by_system_condition, entries_table
from systemic_lib.display import report
from systemic_lib.display.charts.experiment import (
    before_after_chart,
    demand_mix_chart,
    distribution_charts,
    emerging_demand_chart,
    volume_chart,
)
from systemic_lib.display.charts.measure import case_chart
from systemic_lib.errors import SystemicError

__all__ = [
    "show_headline",
    "show_box",
    "show_data_checks",
    "show_demand_mix",
    "show_comparison",
    "show_distributions",
    "show_before_after",
    "show_new_service",
    "show_learning_log",
    "show_summary",
    "summary_html",
    "show_questions",
]

_NAMES = {m.id: m.name for m in MEASURES}


def show_headline(data: ExperimentData) -> None:
    """The headline of what changed and the box of what changed on each measure (``experiment.box``), or, with no
    experiment, that there is none yet and why, in words, with how to set one up in a note for analysts (it names
    the council's files and columns)."""
    report.headline(headline(data))
    if data.has_experiment:
        show_box(data)
        return
    why = (
        "the council's settings name no experiment team for this service"
        if data.start is None
        else "no case is marked as the experiment team's"
    )
    on_file = data.cohorts.cases
    report.html(
        f"<div class='setup'><p>No experiment yet: there is nothing to compare because {report.esc(why)}. "
        f"{words.count(len(on_file), 'case')} of this service are on file; "
        f"{words.number(on_file['cohort'].eq('baseline').sum())} are marked as the old system's.</p>"
        "<details class='for-analysts'><summary>For analysts: how to set up an experiment</summary>"
        "<p>To compare an experiment team's cases with the old system:</p><ol>"
        "<li>In <code>council.yaml</code>, under this service, add <code>experiment:</code> with "
        "<code>start: YYYY-MM-DD</code> (the day the team began) and <code>team: &lt;the team's name&gt;</code>.</li>"
        "<li>In <code>cases.csv</code>, mark each case the experiment team handles with cohort "
        "<code>experiment</code>, and a comparable set of the old system's cases with cohort <code>baseline</code>. "
        "Where the team can judge it, fill <code>demand_returns</code> (yes/no).</li>"
        "<li>Record every step of those cases in <code>events.csv</code>, with worker, hours and face_to_face, and "
        "give each activity a category in <code>activities.csv</code> (assessment, referral, hand-off, ...).</li>"
        "<li>Keep the team's learning log in <code>learning_log.csv</code>: what we tried, what we learned, the "
        "system condition behind the waste and who can change it.</li></ol></details></div>"
    )


def show_box(data: ExperimentData) -> None:
    """What changed, by how much, how sure, on how many cases and how many still open, in six to eight lines."""
    lines = box(data)
    if not lines:
        return
    items = "".join(f"<li>{report.esc(line)}</li>" for line in lines[1:])
    title = "What the team built" if data.new_service is not None else "What changed"
    report.html(f"<div class='findings'><h3>{title}</h3><p>{report.esc(lines[0])}</p><ul>{items}</ul></div>")


def show_data_checks(data: ExperimentData) -> None:
    """Which cases are compared and which are left out, and why; then any data problems."""
    if not data.has_experiment:  # only what may explain a missing experiment cohort: labels the contract blanked
        report.problems([p for p in data.problems if p.column == "cohort" and "no cases in the" not in p.message])
        return
    new = data.new_service is not None
    report.heading("Which cases are measured" if new else "Which cases are compared")
    report.note(
        "Every case of the service is counted once: either measured or left out with the reason."
        if new
        else "Every case of the service is counted once: either in the comparison or left out with the reason."
    )
    report.table(
        case_counts(data.cohorts, new_service=new),
        caption=f"Cases of {data.service_name} on file, {words.period(*data.on_file)}",
    )
    report.problems(data.problems)


def show_demand_mix(data: ExperimentData) -> None:
    """Each cohort's demand mix side by side, with a warning (naming the test) where it differs materially."""
    if not data.has_experiment:
        return
    report.heading("Did both cohorts handle the same demand?")
    mix = data.mix
    if mix.differs:
        report.html(f"<div class='warning'><p><b>Warning:</b> {report.esc(mix.warning)}</p></div>")
    report.note(mix_words(mix, warning=False))
    if len(mix.table):
        demand_mix_chart(mix)
        shown = mix.table.rename(
            columns={
                "demand_type": "Demand type",
                "baseline": "Baseline cases",
                "experiment": "Experiment cases",
                "baseline_pct": "Baseline %",
                "experiment_pct": "Experiment %",
            }
        )
        report.table(
            shown,
            caption=f"Demand mix of the compared cases, {_when(data)}",
            percent=("Baseline %", "Experiment %"),
            decimals=0,
        )


_BASIS_WORDS = {
    "per case": "mean per case",
    "total": "total for each cohort",
    BY_TYPE: "mean per case, like for like: only the demand types both cohorts handled, the baseline "
    "weighted to the experiment's mix of them",
}


def _when(data: ExperimentData) -> str:
    """'opened 1 July 2024 to 28 March 2025; the two ways of working ran alongside from 1 July 2024'."""
    return f"{words.period(*data.period)}; {data.design.sentence}"


def _basis_words(data: ExperimentData) -> str:
    """Which cases counts and hours are compared on, and why, with each cohort's open cases."""
    opened = (
        f"{words.share(data.open_cases('baseline') / data.baseline_cases)} of the baseline's cases are still open "
        f"against {words.share(data.open_cases('experiment') / data.experiment_cases)} of the team's"
        if data.baseline_cases and data.experiment_cases
        else ""
    )
    if data.case_basis == CLOSED:
        return "Counts and hours are compared on closed cases only: an open case's work so far is not its work" + (
            f", and {opened}, so counting them would understate one cohort's work." if opened else "."
        )
    return (
        f"Counts and hours are compared on the work in the {data.case_basis}, open and closed cases alike, so that "
        "each case is given the same time; cases opened too recently to have had it are left out"
        + (f" ({opened})." if opened else ".")
    )


def show_comparison(data: ExperimentData) -> None:
    """The demand mix, then the comparison table, with how to read it (nothing for a new service: no old system)."""
    if not data.has_experiment or data.new_service is not None:
        return
    show_demand_mix(data)
    report.heading("What changed: experiment against baseline")
    report.note(
        "Each row compares the experiment team's cases with the baseline (old system) cases. "
        + _basis_words(data)
        + f" They are compared as the {_BASIS_WORDS.get(data.basis, data.basis)}; "
        "end-to-end time as the median per case (Kaplan–Meier: every case, a case still open counted as open, never "
        'as finished; its open cases are shown beside each cohort\'s figure, and "more than N" where half are still '
        "open); demand expected to return on the cases the team judged; shares in percentage points. The last "
        "column gives the cases behind each row and those it leaves out. The interval shows how far the "
        f"change could move by chance alone (cases resampled {words.number(data.resamples)} times within each "
        "cohort): if it includes no change, the difference could be noise."
    )
    if data.end_to_end is not None:
        report.note(endtoend.definition_sentence(data.end_to_end))
    report.table(
        comparison_table(data.comparison, confidence=data.confidence),
        caption=f"{words.number(data.experiment_cases)} experiment and "
        f"{words.number(data.baseline_cases)} baseline cases, {_when(data)}",
    )


def show_distributions(data: ExperimentData):
    """Per-case spread of every measure for each cohort; returns the Axes (None with no experiment, or for a new
    service: there is no other cohort)."""
    if not data.has_experiment or data.cohorts.included.empty or data.new_service is not None:
        return None
    report.heading("How the cases spread")
    report.note(
        "Each dot is a case; the box holds the middle half of the cases and its line is the median. "
        "Overlapping boxes mean many cases look alike under both ways of working."
    )
    return distribution_charts(data.cohorts)


def show_before_after(data: ExperimentData, *, measures=("end_to_end_days", "people", "total_hours")):
    """Capability charts of per-case measures by completion date, phased at the experiment start; returns the Axes.
    None where no old-system case came before the team began (the two ran alongside): a chart of before and after
    would have no before."""
    if not data.has_experiment or not data.design.has_before or data.new_service is not None:
        return None
    report.heading("Before and after, over time")
    report.note(
        "Each point is one compared case, in the order the cases were completed. The solid line is the "
        "average and the dashed lines the process limits: the range the system predictably produces. A new "
        "phase starts at the first case completed on or after the day the experiment team began. Blue points are special causes in the better direction, orange in the "
        "worse; grey points are common-cause variation."
    )
    axes: list = []
    for measure in measures:
        try:
            result = over_time(data.cohorts, measure=measure)
        except SystemicError as exc:
            report.note(f"No chart of {_NAMES[measure].lower()}: {exc}.")
            continue
        notes = []
        if result.phase_note:
            notes.append(f"No phase is drawn: {result.phase_note}.")
        mix = phase_mix(result)
        if not axes and len(result.phases) > 1 and mix.loc["after", "baseline"]:
            notes.append(
                f"After the start, {words.number(mix.loc['after', 'experiment'])} experiment team case(s) "
                f"(ringed) finished beside {words.number(mix.loc['after', 'baseline'])} baseline case(s) the "
                "old system was still finishing."
            )
        if result.left_out:
            notes.append(
                f"{words.number(result.left_out)} compared case(s) have no completion date or no value for "
                f"{_NAMES[measure].lower()} (a case still open has no end-to-end time) and are not on the "
                "chart."
            )
        if notes:
            report.note(" ".join(notes))
        axes.append(before_after_chart(result))
    return axes


def show_new_service(data: ExperimentData):
    """A new service built by experiment, with the learning log as its spine: what the team tried and learned, in
    date order; demand as it emerged, week by week; the workflow of each main demand type and how it changed at
    each entry; what the service predictably achieves now. Returns the Axes drawn (None for a comparison)."""
    ns = data.new_service
    if ns is None or not data.has_experiment:
        return None
    team = data.team or "team"
    report.heading("How the service was built: the learning log")
    report.note(
        f"There is no old system to compare with: the {team} built {data.service_name} by experiment from "
        f"{words.date(ns.start)}, taking whatever demand came and designing a workflow for each. The learning log is "
        "the record of how: what the team tried, what it learned, and which system conditions it designed out (the "
        "new way of working was built without them) or still has to act on."
    )
    report.table(
        timeline(data.learning_log),
        caption=f"The learning log, {words.count(len(data.learning_log), 'entry', 'entries')} in date order",
        max_rows=100,
    )
    axes = []
    report.heading("Demand as it emerged")
    report.note(
        "Every contact since the start, week by week and by demand type, with the service's own failure demand "
        "(contacts it caused by not doing something, or not doing it right) on top. The table gives the week each "
        "demand type first came and its share of the first and the last weeks: how the mix shifted."
    )
    axes.append(emerging_demand_chart(ns))
    types = types_table(ns)
    report.table(
        types,
        caption=f"Demand types of {data.service_name} as they emerged, {words.period(*ns.period)}",
        percent=tuple(c for c in types.columns if c.startswith("%")),
        decimals=0,
    )
    failure = failure_words(ns)
    if failure:
        report.note(failure)
    _show_workflows(ns)
    axes += _show_capability(ns)
    return axes


def _show_workflows(ns: NewService) -> None:
    report.heading("A workflow for each demand")
    if not ns.workflows:
        report.note("No demand type has five or more cases with steps recorded yet: no workflow to show.")
        return
    report.note(
        "For each main demand type, its cases between one learning-log entry about it and the next: the steps, "
        "people and hands-on hours per closed case, the median end-to-end time (Kaplan–Meier: open cases counted as "
        "open) and the path most of them took. An entry about every demand type counts where it changed the system "
        "(changed or designed out)."
    )
    for wf in ns.workflows:
        report.table(
            workflow_table(wf),
            caption=f"{wf.demand_type}: {words.count(wf.cases, 'case')}; "
            + (
                f"{words.count(len(wf.stretches) - 1, 'change')} recorded in the learning log"
                if wf.changed
                else "no change to its workflow recorded in the learning log"
            ),
            decimals=1,
        )


def _show_capability(ns: NewService) -> list:
    report.heading("Capability since the start")
    now = ns.predictably()
    report.note(
        (now + " " if now else "")
        + "The charts run from the start, with a new phase only at the changes the team recorded (a condition changed "
        "or designed out on a date): each phase's limits say what that way of working predictably did. Every "
        "measure from its purpose is on its measure page."
    )
    if ns.capability.note:
        report.note(ns.capability.note)
    axes = [case_chart(ns.capability), volume_chart(ns)]
    return [ax for ax in axes if ax is not None]


def show_learning_log(data: ExperimentData) -> None:
    """The learning log grouped by system condition, then every entry (for a new service, whose page opens with the
    log in date order, the conditions alone: designed out, kept out and still to act on)."""
    if data.learning_log.empty and not data.has_experiment:
        return
    if data.new_service is not None and not data.learning_log.empty:
        report.heading("System conditions: designed out and still to act on")
        grouped = by_system_condition(data.learning_log)
        report.table(
            grouped.rename(columns=lambda c: c.replace("_", " ").capitalize()),
            caption=f"{words.number(len(grouped))} system condition(s) from the learning log",
        )
        return
    report.heading("Learning log and system conditions")
    if data.learning_log.empty:
        report.note(
            f"No learning log entries for {data.service_name}: the team records what it tried, what it "
            "learned and the system condition behind the waste in learning_log.csv."
        )
        return
    log = data.learning_log
    report.note(
        "The system conditions (rules, targets, IT systems, procedures, structures) the team found causing "
        "waste, with who can change each; open ones first."
    )
    grouped = by_system_condition(log)
    report.table(
        grouped.rename(columns=lambda c: c.replace("_", " ").capitalize()),
        caption=f"{words.number(len(grouped))} system condition(s) from {words.number(len(log))} entries, "
        f"{words.period(log['date'].min(), log['date'].max())}",
    )
    report.table(entries_table(log), caption=f"Every entry ({words.number(len(log))})", max_rows=100)


def _change_words(r) -> str:
    if r["change_unit"] == "points":
        return f"from {words.percent(r['baseline'])} to {words.percent(r['experiment'])}"
    return (
        f"from {words.figure(r['baseline'])} to {words.figure(r['experiment'])} {r['unit']} ({r['compared_as']}), "
        f"{change_text(r)}"
    )


def summary_html(data: ExperimentData) -> str:
    """The one-page summary for senior managers (``templates/summary.html.j2``, autoescaped); "" with no
    experiment."""
    if not data.has_experiment:
        return ""
    env = Environment(
        loader=FileSystemLoader(str(config.TEMPLATES_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    log = data.learning_log
    tried = log.sort_values("date")["what_we_tried"].dropna().tail(5).tolist() if len(log) else []
    changes = [
        {"name": r["name"], "what": _change_words(r), "reading": r["reading"]}
        for _, r in data.comparison.iterrows()
        if np.isfinite(r["change"])
    ]
    act = [
        {
            "condition": r["system_condition"],
            "status": r["status"],
            "waste": r["waste_caused"],
            "who": r["who_can_change"] or "not yet named",
        }
        for _, r in conditions(data).iterrows()
    ]
    return env.get_template("summary.html.j2").render(
        since=words.date(data.start),
        team=data.team or "experiment team",
        experiment_cases=words.number(data.experiment_cases),
        service_name=data.service_name,
        description=data.description,
        baseline_cases=words.number(data.baseline_cases),
        design=data.design.sentence,
        case_basis=data.case_basis,
        log_entries=words.count(len(log), "entry", "entries"),
        tried=tried,
        changes=changes,
        conditions=act,
        new_service=data.new_service is not None,
        built=box(data) if data.new_service is not None else [],
        made_it_work=made_it_work(data),
    )


def show_summary(data: ExperimentData) -> None:
    """One page for senior managers: what the team did, what changed for citizens, what managers must act on."""
    if data.has_experiment:
        report.html(summary_html(data))


def show_questions(data: ExperimentData) -> None:
    """Questions for the team and its managers (none without an experiment)."""
    if data.has_experiment:
        report.questions(questions(data))
