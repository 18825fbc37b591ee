"""Similarity, ranking and faithfulness metrics for explanation maps (numpy, scipy, TensorFlow only).

``metrics`` never imports ``trainers`` or ``pix2pixai``: domain knowledge (how to remove a dmdt bin,
how to score a model) comes in as callables. The map similarities are re-exported here; ranking and
faithfulness live in :mod:`metrics.ranking` and :mod:`metrics.faithfulness`.
"""

from metrics.similarity import cosine, mse, pearson, spearman, ssim, ssim_all_pairs, topk_overlap

__all__ = ["cosine", "mse", "pearson", "spearman", "ssim", "ssim_all_pairs", "topk_overlap"]
