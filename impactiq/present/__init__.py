"""The present layer: numbers into text, tables and charts, one way for every page and command.

`formatting.format_estimate` writes every estimate and its interval; `tables` builds the display
tables; `charts` the altair charts; `text.plain` shows text from outside (column names, file
names, link values) literally in markdown; `export` writes every CSV export, safe to open in a
spreadsheet. Nothing here computes a statistic.
"""
