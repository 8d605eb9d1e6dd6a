"""Coach mode: a no-code app, served by Voila, that walks a team through Check in the browser.

``notebooks/coach.ipynb`` is one call, ``app.show(council_dir, service)``; ``systemic coach`` serves it
(``server.py``). The steps (``STEPS``) each read from and write to the council folder, so the batch reports show
what the team decided. Nothing here computes a figure: the stage modules do, as for the reports.
"""

from __future__ import annotations

#: The app's steps in order: (id, the words on the step bar).
STEPS = (
    ("choose", "1 Choose"),
    ("purpose", "2 Purpose"),
    ("demand", "3 Demand"),
    ("capability", "4 Capability"),
    ("flow", "5 Flow"),
    ("conditions", "6 System conditions"),
    ("experiment", "7 Experiment"),
    ("managers", "8 For managers"),
)
STEP_IDS = tuple(s for s, _ in STEPS)
#: The steps a system condition can be raised in (the contract's ``raised_in`` values, named as the app's steps).
RAISED_IN = ("demand", "capability", "flow", "experiment")
