"""The functions of the chain's steps, one module per step.

Each ``<step>_step(config, sdir)`` reads its inputs from and writes its outputs to one survey's
folder (``pix2pixai.rundir.layout.SurveyDir``) and returns a small JSON-able summary. What a step
reads, writes and is fingerprinted by is declared once, in ``pix2pixai.pipeline.steps.STEPS``.
"""
