"""systemic: a method workbook for systemic service design.

A small library behind one parameterised notebook per design stage (understand demand, map flow,
experiment, measure). See README.md for the council data contract.
"""

__version__ = "0.1.0"
