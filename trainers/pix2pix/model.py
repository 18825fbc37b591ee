"""``Pix2Pix``: a Keras model whose ``fit`` trains a floored U-Net generator, with or without a PatchGAN.

One ``train_step`` on a batch (x, y): x a dict of padded ``image`` [B, S, S, C], ``floor``
[B, S, S, 1] (and ``group`` [B, G] for a class-conditional generator), y unit-range maps [B, S, S, 1]:

* ``fake = G(x) * mask``: the generator output is zeroed on the padding (``mask`` = 1 on the
  original H x W pixels), so padded pixels are identical in real and fake pairs and neither loss
  sees them;
* discriminator ``d_loss = (L(D(image, y), 1) + L(D(image, fake), 0)) / 2`` (halved as in pix2pix,
  so D learns at half the generator's pace);
* generator ``g_gan = L(D(image, fake), 1)`` and ``g_l1 = sum |y - fake| / (B * H * W)`` (mean over
  the original pixels only); G minimises ``gan_weight * g_gan + l1_weight * g_l1``.

Without a discriminator (``gan_weight = 0``, the L1-only control) only G steps, on ``l1_weight * g_l1``.
``L`` is binary cross-entropy from logits (``"vanilla"``) or squared error to the 0/1 label
(``"lsgan"``, Mao et al. 2017). Both networks step on the same batch, D first, with their own Adam.
``g_batch_std`` (per-pixel standard deviation of ``fake`` across the batch, averaged over pixels)
is logged so that ``GanHealthMonitor`` can spot mode collapse; ``test_step`` gives the validation L1.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from pix2pixai.trainers.pix2pix.architecture import LOSSES


def adversarial_loss(kind: str, logits: tf.Tensor, real: bool) -> tf.Tensor:
    """Mean GAN loss of patch ``logits`` against label 1 (``real``) or 0."""
    labels = tf.ones_like(logits) if real else tf.zeros_like(logits)
    if kind == "vanilla":
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
    return tf.reduce_mean(tf.square(logits - labels))


class Pix2Pix(keras.Model):
    """Conditional GAN wrapper; ``call`` runs the generator (masked to the original pixels).

    Parameters
    ----------
    generator : keras.Model
        From ``build_generator`` for side S.
    discriminator : keras.Model or None
        From ``build_discriminator`` for the same S; None trains G on L1 alone.
    mask : np.ndarray
        [1, S, S, 1], 1 on the original pixels, 0 on the padding (``padding.valid_mask``).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model | None, mask: np.ndarray,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.mask = tf.constant(mask, tf.float32)
        self.valid_fraction = float(np.mean(mask))
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_gan_tracker = keras.metrics.Mean(name="g_gan")
        self.g_l1_tracker = keras.metrics.Mean(name="g_l1")
        self.g_std_tracker = keras.metrics.Mean(name="g_batch_std")

    def compile(self, g_optimizer: keras.optimizers.Optimizer, d_optimizer: keras.optimizers.Optimizer | None, *,
                loss: str = "vanilla", l1_weight: float = 100.0, gan_weight: float = 1.0, **kwargs) -> None:
        """Set the optimisers and losses; builds optimiser slots so checkpoints restore into them.

        Keras's own ``optimizer`` attribute (read by callbacks, e.g. for the step count) is the
        generator's. ``d_optimizer`` is None exactly when there is no discriminator.
        """
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if (d_optimizer is None) != (self.discriminator is None):
            raise ValueError("d_optimizer must be given exactly when the model has a discriminator")
        super().compile(optimizer=g_optimizer, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.gan_loss = loss
        self.l1_weight = float(l1_weight)
        self.gan_weight = float(gan_weight)
        g_optimizer.build(self.generator.trainable_variables)
        if d_optimizer is not None:
            d_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        gan = [self.d_loss_tracker, self.g_gan_tracker] if self.discriminator is not None else []
        return [*gan, self.g_l1_tracker, self.g_std_tracker]

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return self.generator(inputs, training=training) * self.mask

    def _l1(self, target: tf.Tensor, fake: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.abs(target - fake)) / self.valid_fraction

    def _track_output(self, y: tf.Tensor, fake: tf.Tensor) -> None:
        _, batch_var = tf.nn.moments(fake, axes=[0])
        self.g_l1_tracker.update_state(self._l1(y, fake))
        self.g_std_tracker.update_state(tf.reduce_mean(tf.sqrt(batch_var)) / self.valid_fraction)

    def train_step(self, data: tuple[dict[str, tf.Tensor], tf.Tensor]) -> dict[str, tf.Tensor]:
        x, y = data
        # Under a tf.distribute strategy the optimisers sum the replicas' gradients: dividing each
        # replica's (per-replica mean) loss by the replica count makes that sum the global-batch mean.
        per_replica = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync
        if self.discriminator is None:
            with tf.GradientTape() as g_tape:
                fake = self(x, training=True)
                g_scaled = self.l1_weight * self._l1(y, fake) * per_replica
        else:
            with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
                fake = self(x, training=True)
                real_logits = self.discriminator([x["image"], y], training=True)
                fake_logits = self.discriminator([x["image"], fake], training=True)
                d_loss = 0.5 * (adversarial_loss(self.gan_loss, real_logits, True)
                                + adversarial_loss(self.gan_loss, fake_logits, False))
                g_gan = adversarial_loss(self.gan_loss, fake_logits, True)
                g_scaled = (self.gan_weight * g_gan + self.l1_weight * self._l1(y, fake)) * per_replica
                d_scaled = d_loss * per_replica
            d_vars = self.discriminator.trainable_variables
            self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_scaled, d_vars), d_vars))
            self.d_loss_tracker.update_state(d_loss)
            self.g_gan_tracker.update_state(g_gan)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_scaled, g_vars), g_vars))
        self._track_output(y, fake)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data: tuple[dict[str, tf.Tensor], tf.Tensor]) -> dict[str, tf.Tensor]:
        """Inference-mode generator (dropout off): L1 on the original pixels and batch spread."""
        x, y = data
        self._track_output(y, self(x, training=False))
        return {m.name: m.result() for m in (self.g_l1_tracker, self.g_std_tracker)}
