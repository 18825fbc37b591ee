"""pix2pix generators: input image -> explanation map, one per (group, method).

Numeric arrays in and out (no colour-mapped PNGs), zero padding to a power-of-two square instead of
resizing, one fixed ``MapScale`` per (group, method) instead of per-map min-max, no flips of dmdt
images (they would reverse time), and deterministic inference (dropout off) unless Monte-Carlo
dropout is asked for.
"""

from pix2pixai.trainers.pix2pix.architecture import (
    GeneratorConfig, build_discriminator, build_generator, layer_seeds, patch_receptive_field,
)
from pix2pixai.trainers.pix2pix.bundle import GeneratorBundle, load_generator
from pix2pixai.trainers.pix2pix.callbacks import GanHealthMonitor, GanHealthWarning
from pix2pixai.trainers.pix2pix.model import Pix2Pix, adversarial_loss
from pix2pixai.trainers.pix2pix.padding import crop, pad_to_pow2, pow2_side, valid_mask
from pix2pixai.trainers.pix2pix.scaling import MapScale
from pix2pixai.trainers.pix2pix.training import GeneratorJob, epoch_batches, train_generator, train_generators

__all__ = [
    "GanHealthMonitor", "GanHealthWarning", "GeneratorBundle", "GeneratorConfig", "GeneratorJob", "MapScale",
    "Pix2Pix", "adversarial_loss", "build_discriminator", "build_generator", "crop", "epoch_batches",
    "layer_seeds", "load_generator", "pad_to_pow2", "patch_receptive_field", "pow2_side", "train_generator",
    "train_generators", "valid_mask",
]
