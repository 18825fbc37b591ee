"""Similarity, ranking and faithfulness metrics for explanation maps (numpy, scipy, TensorFlow only).

``metrics`` never imports ``trainers`` or ``pix2pixai``: domain knowledge (how to remove a dmdt bin,
how to score a model) comes in as callables. The map similarities are re-exported here; the rest
lives in :mod:`~pix2pixai.metrics.ranking` (ranking and aggregation),
:mod:`~pix2pixai.metrics.faithfulness` (deletion / insertion / ROAD imputation, localisation,
randomisation, stability), :mod:`~pix2pixai.metrics.statistics` (bootstrap intervals, paired tests,
Holm), :mod:`~pix2pixai.metrics.skill` (does a map predictor beat the out-of-fold mean map?) and
:mod:`~pix2pixai.metrics.artefacts` (checkerboard and border-frame artefacts of generated maps).
"""

from pix2pixai.metrics.similarity import cosine, mse, pearson, spearman, ssim, ssim_all_pairs, topk_overlap

__all__ = ["cosine", "mse", "pearson", "spearman", "ssim", "ssim_all_pairs", "topk_overlap"]
