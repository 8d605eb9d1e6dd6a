"""Report sections: what each stage shows on its page (headlines, tables, notes, charts in order), as escaped HTML.

One module per stage. A section takes the stage's data (``<stage>.load``) and displays; it computes nothing itself.
"""
