"""Every stage module by the notebook it backs, each checked against the stage contract (``contract.StageModule``)
by the type checker with its own data type: a stage module that loses or changes one of its five functions fails
``make test``."""

from __future__ import annotations

from typing import Any

from systemic_lib.analysis import demand, experiment, flow, measure, scan
from systemic_lib.analysis.contract import StageModule

DEMAND: StageModule[demand.DemandData] = demand
FLOW: StageModule[flow.FlowData] = flow
EXPERIMENT: StageModule[experiment.ExperimentData] = experiment
MEASURE: StageModule[measure.MeasureData] = measure
SCAN: StageModule[scan.ScanData] = scan

STAGE_MODULES: dict[str, StageModule[Any]] = {
    "demand": DEMAND,
    "flow": FLOW,
    "experiment": EXPERIMENT,
    "measure": MEASURE,
    "organisation_scan": SCAN,
}
