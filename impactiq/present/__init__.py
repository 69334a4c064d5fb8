"""The present layer: numbers into text, tables and charts, one way for every page and command.

`formatting.format_estimate` writes every estimate and its interval; `tables` builds the display
tables; `charts` the altair charts. Nothing here computes a statistic.
"""
