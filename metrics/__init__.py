"""Similarity, ranking and faithfulness metrics for explanation maps (numpy, scipy, TensorFlow only)."""
