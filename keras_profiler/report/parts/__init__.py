"""What several report pages show: ``setups`` (a setup in words),
``backend_tables`` and ``comparison`` (the model pages' tables),
``scaling_plot`` (their plot), ``figures`` (the one figure helper every plot
draws with) and ``marks`` (what tells the tool's files from a user's)."""
