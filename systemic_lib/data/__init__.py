"""The council folder in: the data contract, loading and checking a council's tables, the one data path every stage
reads through (``stages.Stage``), redaction, the stores a team writes (decisions, conditions, learning log,
council.yaml edits), importers of foreign data, blank capture templates and the sample councils.

Nothing here draws, displays or runs a notebook."""
