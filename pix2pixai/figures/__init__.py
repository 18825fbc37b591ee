"""Figures a person would put in a paper (matplotlib, PNG + PDF, one style).

One module per kind of figure: ``maps`` (drawing one map on true dmdt axes or as an image),
``map_grid`` (any maps beside their inputs: :func:`plot_maps`, returns a ``Figure``), ``lightcurve``
(a light curve coloured by observation importance: :func:`plot_observation_importance`),
``classmaps`` (group x method grids), ``panels`` (per-input and misclassification panels),
``classifier`` (confusion matrices), ``training`` (GAN curves), ``comparison`` (aggregation
metrics), ``cadence`` (time-gap diagnostics), ``gallery`` (every producer on one input per
class); ``all.render_all`` renders a whole run directory. Importing them leaves matplotlib's
backend alone.
"""

from pix2pixai.figures.lightcurve import plot_observation_importance
from pix2pixai.figures.map_grid import plot_maps

__all__ = ["plot_maps", "plot_observation_importance"]
