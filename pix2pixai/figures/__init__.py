"""Figures a person would put in a paper (matplotlib, PNG + PDF, one style).

One module per kind of figure: ``maps`` (drawing one map on true dmdt axes or as an image),
``classmaps`` (group x method grids), ``panels`` (per-input and misclassification panels),
``classifier`` (confusion matrices), ``training`` (GAN curves), ``comparison`` (aggregation
metrics), ``cadence`` (time-gap diagnostics), ``gallery`` (every producer on one input per
class); ``all.render_all`` renders a whole run directory.
"""
