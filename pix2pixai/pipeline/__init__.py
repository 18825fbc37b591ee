"""The orchestrator, on top of everything: the chain's steps (``steps``: one record per step, their
functions in ``stages/``), whole runs with figures, report and manifest (``runner``), and the fan-out
of independent jobs (``fanout``). Every step reads and writes one run directory
(``pix2pixai.rundir.layout.RunDir``), so that it can be re-run alone; nothing below imports this package.
"""
