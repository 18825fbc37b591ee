"""The run directory: its configs, its file layout, and the readers of what the steps left in it.

The bottom layer of everything that reads a run (the steps, the figures, the report, scripts), so
that none of them imports the orchestrator in :mod:`pix2pixai.pipeline`. ``layout`` names every file
of a run, ``fingerprint`` hashes step inputs by content, ``readers`` loads what the steps wrote,
``config`` and ``surveys`` turn a TOML file into a run's settings and inputs, ``summary`` prints a
finished run's table.
"""
