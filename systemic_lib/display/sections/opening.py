"""The opening of every stage page and the organisation scan: the service's purpose, then "What we found".

The findings are the stage module's ``findings(data)`` (plain sentences built from the page's own figures, each
with its count and period), followed by the system conditions to act on at this step of Check, each beside the
management thinking behind it (``conditions.to_act_on``).
"""

from __future__ import annotations

from systemic_lib.display import report
from systemic_lib.display.sections import conditions

__all__ = ["show"]

#: The step of Check a stage page stands for, as system conditions record where they were raised.
_STEP = {"demand": "demand", "flow": "flow", "measure": "capability", "experiment": "experiment"}


def show(stage, found: list[str]) -> None:
    """Purpose and "What we found" for ``stage`` (a service's stage page, or the organisation scan with every
    service's purpose), then the system conditions still to act on."""
    acting = conditions.to_act_on(stage, _STEP.get(stage.stage))
    if stage.service is not None:
        report.findings([*found, *acting], purpose=stage.service.purpose)
    else:
        services = stage.council.spec.services
        report.findings([*found, *acting], purposes={s.name: s.purpose for s in services})
