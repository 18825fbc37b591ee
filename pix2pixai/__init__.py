"""pix2pixai: class-level explanation maps for CNN classifiers via pix2pix generators.

Packages: ``metrics`` (similarity, ranking, faithfulness) <- ``trainers`` (architectures and
training loops) <- ``pix2pixai`` (data, producers, class maps, figures, stores, CLI).
"""

__version__ = "0.1.0"
