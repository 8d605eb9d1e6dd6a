"""Analysis: tables in, figures out. One module (or package) per stage with the stage contract
(``load``, ``headline``, ``questions``, ``figures``, ``period``), and the shared engines beneath them: end-to-end
time, capability charts' statistics (``spc``), narration, demand joined to flow.

Nothing here imports IPython, widgets, matplotlib or seaborn, or writes a file."""
