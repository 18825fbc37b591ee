"""Looking inside a classifier: activation maps, first-layer filters, max-activating patches, feature space.

* :mod:`~pix2pixai.inspection.activations` -- ``activation_maps``, ``first_layer_filters``.
* :mod:`~pix2pixai.inspection.patches` -- ``receptive_field``, ``max_activating_patches``.
* :mod:`~pix2pixai.inspection.feature_space` -- ``penultimate_features``, ``tsne_embedding``,
  ``nearest_neighbours``.

Figures of all of these are in :mod:`pix2pixai.figures.inspection`.
"""

from __future__ import annotations

from pix2pixai.inspection.activations import (
           activation_maps,
           first_layer_filters,
           spatial_layers,
)
from pix2pixai.inspection.feature_space import (
           nearest_neighbours,
           penultimate_features,
           tsne_embedding,
)
from pix2pixai.inspection.patches import (
           ReceptiveField,
           max_activating_patches,
           receptive_field,
)

__all__ = ["ReceptiveField", "activation_maps", "first_layer_filters", "max_activating_patches",
           "nearest_neighbours", "penultimate_features", "receptive_field", "spatial_layers", "tsne_embedding"]
