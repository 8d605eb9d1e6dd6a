"""The stage contract, as a type: what every stage module (``demand``, ``flow``, ``experiment``, ``measure`` and the
organisation ``scan``) offers a notebook, checked by the type checker (``modules.STAGE_MODULES``)::

    data = <stage>.load(stage)        # the module's own dataclass: the tables it read, its problems, its period
    <stage>.headline(data) -> str
    <stage>.questions(data) -> list[str]
    <stage>.figures(data) -> dict     # what <stage>.json holds
    <stage>.period(data) -> (first, last)

``StageModule[DemandData]`` is the demand module's contract: ``load`` returns a ``DemandData`` and the other four
take one, so a stage function that loses one of the five, renames it or takes another stage's data fails mypy.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from systemic_lib.data.stages import Stage

D = TypeVar("D")


class StageModule(Protocol[D]):
    """A stage module: tables in (``load``, from a ``Stage``), figures and sentences out. ``D`` is the module's own
    dataclass (``DemandData``, ``FlowData``, ...)."""

    def load(self, stage: Stage) -> D: ...

    def headline(self, data: D) -> str: ...

    def questions(self, data: D) -> list[str]: ...

    def figures(self, data: D) -> dict: ...

    def period(self, data: D) -> tuple: ...
