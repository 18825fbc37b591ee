"""pix2pix generators floored at the mean map: input image -> explanation map, per group or class-conditional.

G(x) = clip(floor + residual, unit_low, 1), ``floor`` the mean training map of the input's group,
the residual's last layer zero-initialised (an untrained generator is the floor). Numeric arrays in
and out (no colour-mapped PNGs), zero padding to a power-of-two square instead of resizing, one
fixed ``MapScale`` per generator instead of per-map min-max, no flips of dmdt images (they would
reverse time), a step budget with validation-based early stopping, and deterministic inference
(dropout off) unless Monte-Carlo dropout is asked for.
"""

from pix2pixai.trainers.pix2pix.architecture import (
    GeneratorConfig, build_discriminator, build_generator, layer_seeds, patch_receptive_field,
)
from pix2pixai.trainers.pix2pix.bundle import GeneratorBundle, load_generator
from pix2pixai.trainers.pix2pix.callbacks import BestWeights, GanHealthMonitor, GanHealthWarning
from pix2pixai.trainers.pix2pix.data import generator_inputs, group_floors, step_batches, validation_split
from pix2pixai.trainers.pix2pix.layers import CoordinatePlanes, FlooredOutput, GroupPlanes, ReflectPad
from pix2pixai.trainers.pix2pix.model import Pix2Pix, adversarial_loss
from pix2pixai.trainers.pix2pix.padding import crop, pad_to_pow2, pow2_side, valid_mask
from pix2pixai.trainers.pix2pix.scaling import MapScale
from pix2pixai.trainers.pix2pix.training import GeneratorJob, train_generator, train_generators

__all__ = [
    "BestWeights", "CoordinatePlanes", "FlooredOutput", "GanHealthMonitor", "GanHealthWarning", "GeneratorBundle",
    "GeneratorConfig", "GeneratorJob", "GroupPlanes", "MapScale", "Pix2Pix", "ReflectPad", "adversarial_loss",
    "build_discriminator", "build_generator", "crop", "generator_inputs", "group_floors", "layer_seeds",
    "load_generator", "pad_to_pow2", "patch_receptive_field", "pow2_side", "step_batches", "train_generator",
    "train_generators", "valid_mask", "validation_split",
]
