"""The end-to-end chain: config -> data -> classifier -> maps -> generators -> class maps -> report.

Every step reads and writes one run directory (``rundir.RunDir``) so that it can be re-run alone.
"""
