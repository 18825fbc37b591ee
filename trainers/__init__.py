"""Classifier and pix2pix architectures and their training loops (Keras 3)."""
