"""The records as figures, no markdown: ``frame`` (a row per record),
``speed_columns`` (a record's speed in depth, as columns of that row),
``cells`` (a configuration's repeats as one row, and its figures as text),
``series`` (a setup's cells by backend and strategy)."""
