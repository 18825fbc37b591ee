"""Similarity, ranking and faithfulness metrics for explanation maps (numpy, scipy, TensorFlow only).

``metrics`` never imports ``trainers`` or ``pix2pixai``: domain knowledge (how to remove a dmdt bin,
how to score a model) comes in as callables. The map similarities are re-exported here; ranking and
faithfulness live in :mod:`pix2pixai.metrics.ranking` and :mod:`pix2pixai.metrics.faithfulness`.
"""

from pix2pixai.metrics.similarity import cosine, mse, pearson, spearman, ssim, ssim_all_pairs, topk_overlap

__all__ = ["cosine", "mse", "pearson", "spearman", "ssim", "ssim_all_pairs", "topk_overlap"]
