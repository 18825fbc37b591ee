"""The hand-differentiated input gradient (producers/input_gradient.py) equals TF's own, layer kind by layer kind."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pixai.producers import explain
from pix2pixai.producers.base import score_model
from pix2pixai.producers.fused_kernels import pool_route, pool_unroute, thin_convolution
from pix2pixai.producers.input_gradient import ChannelWise, Convolution, Expand, Identity, MaxPoolRoute
from tests.pix2pixai.test_producers_base import braai, crts_cnn, crts_dmdts


def _tape_gradient(model, x, targets):
    """Plain ``dS_t/dx`` of the logit, differentiated through the whole model by TF."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        head = model.layers[-1]
        features = keras.Model(model.inputs, head.input)(xt, training=False)
        logits = tf.matmul(features, head.kernel) + head.bias
        if logits.shape[-1] == 1:
            logits = tf.concat([-logits, logits], axis=-1)
        score = tf.reduce_sum(tf.gather(logits, targets, axis=1, batch_dims=1))
    return tape.gradient(score, xt).numpy()


def _assert_equals_tape(model, x, targets):
    sm = score_model(model)
    ref = _tape_gradient(model, x, targets)
    assert np.abs(ref).max() > 0
    np.testing.assert_allclose(sm.gradients(x, {}, targets)[1], ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def _cnn(shape, kernel, padding, activation, channels=1, strides=1, dilation=1, seed=0, second=(4, 3, "valid")):
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape + (channels,))
    h = keras.layers.Conv2D(6, kernel, strides=strides, dilation_rate=dilation, padding=padding,
                            activation=activation, name="first")(inp)
    h = keras.layers.MaxPooling2D(2)(h)
    filters, size, pad = second
    h = keras.layers.Conv2D(filters, size, padding=pad, activation="relu", name="second")(h)
    h = keras.layers.Flatten()(h)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax")(h))


def _kinds(model):
    return [step.backward_kind for step in score_model(model)._fast.chain.steps if isinstance(step, Convolution)]


@pytest.mark.parametrize("kernel,padding,activation,channels", [
    ((5, 5), "valid", "relu", 1),
    ((3, 4), "same", "relu", 1),   # even kernel width: "same" pads one more column on the right
    ((4, 3), "same", None, 1),
    ((1, 1), "valid", "tanh", 1),
    ((3, 3), "valid", "relu", 3),  # a triplet-like three-channel image: thin kernels with C = 3
    ((2, 3), "same", "elu", 4),
])
def test_thin_first_convolution_equals_tape(kernel, padding, activation, channels):
    model = _cnn((13, 14), kernel, padding, activation, channels=channels)
    assert _kinds(model)[0] == "thin"
    x = np.random.default_rng(1).random((7, 13, 14, channels), np.float32)
    _assert_equals_tape(model, x, np.array([0, 1, 2, 0, 1, 2, 0], np.int32))


@pytest.mark.parametrize("size,padding,hw", [(3, "valid", 40), (4, "same", 18), (3, "same", 18), (2, "valid", 30)])
def test_flipped_kernel_backward_equals_tape(size, padding, hw):
    """A second convolution of 6 channels (too many for the thin kernels) whose padded gradient is <= 1.3x its output."""
    model = _cnn((hw, hw), (3, 3), "same", "relu", second=(8, size, padding))
    assert _kinds(model) == ["thin", "flipped"]
    x = np.random.default_rng(5).random((5, hw, hw, 1), np.float32)
    _assert_equals_tape(model, x, np.array([2, 1, 0, 1, 2], np.int32))


@pytest.mark.parametrize("size,hw", [(2, (18, 20)), (2, (17, 21)), (3, (14, 16)), (4, (25, 25))])
def test_pool_route_sends_the_gradient_where_tf_does(size, hw):
    """Ties go to the first maximum in row-major order, as ``MaxPoolGrad``; rows and columns past the last window get none.

    Ties are the common case, not a corner: a ReLU convolution of an empty dmdt region gives a plateau.
    """
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((3, *hw, 5)), 0).astype(np.float32)
    x[:, :hw[0] // 2] = 0.25  # every window of the top half is a tie
    x[1, -size:, :size] = 0.0  # an all-zero window
    x = tf.constant(x)
    g = tf.constant(rng.standard_normal((3, hw[0] // size, hw[1] // size, 5)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        pooled_ref = tf.nn.max_pool2d(x, size, size, "VALID")
    ref = tape.gradient(pooled_ref, x, output_gradients=g)
    pooled, route = pool_route(x, size)
    np.testing.assert_array_equal(pooled, pooled_ref)
    np.testing.assert_array_equal(pool_unroute(g, route, size, hw), ref)


@pytest.mark.parametrize("kernel,padding,channels", [((5, 5), "valid", 1), ((4, 3), "same", 3), ((1, 2), "same", 4)])
def test_thin_convolution_equals_tf(kernel, padding, channels):
    rng = np.random.default_rng(3)
    x = rng.random((4, 11, 12, channels), np.float32)
    k, b = rng.standard_normal((*kernel, channels, 7)).astype(np.float32), rng.standard_normal(7).astype(np.float32)
    ref = tf.nn.conv2d(x, k, 1, padding.upper()) + b
    np.testing.assert_allclose(thin_convolution(tf.constant(x), k, b, padding), ref, rtol=1e-5, atol=1e-5)


def test_pooling_of_a_relu_plateau_in_the_chain_equals_tape():
    """A positive bias makes every empty 5x5 patch the same positive value: pooling ties, routed as TF routes them."""
    model = _cnn((22, 24), (5, 5), "valid", "relu")
    first = model.get_layer("first")
    first.bias.assign(np.linspace(0.1, 0.6, 6).astype(np.float32))
    assert [type(s) for s in score_model(model)._fast.chain.steps][:2] == [Convolution, MaxPoolRoute]
    x = np.random.default_rng(4).random((6, 22, 24, 1), np.float32)
    x[:, :12] = 0.0  # an empty region, as most of a real dmdt
    _assert_equals_tape(model, x, np.array([0, 1, 2, 0, 1, 2], np.int32))


def _stack(shape, *convs):
    """Conv2D layers ``(filters, size, strides, padding)`` on an image of ``shape``, then a Dense head."""
    keras.utils.set_random_seed(6)
    inp = keras.Input(shape)
    h = inp
    for filters, size, strides, padding in convs:
        h = keras.layers.Conv2D(filters, size, strides=strides, padding=padding, activation="relu")(h)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(h)))


@pytest.mark.parametrize("convs,kinds", [
    ([(6, 3, 2, "valid"), (8, 3, 1, "same")], ["tape", "flipped"]),                    # strided: TF's own gradient
    ([(6, 3, 1, "valid"), (8, 5, 1, "valid"), (8, 3, 1, "same")], ["thin", "tape", "flipped"]),  # 10x10 -> 6x6: 2.8x
])
def test_tape_backward_inside_the_chain_equals_tape(convs, kinds):
    model = _stack((12, 12, 1), *convs)
    assert _kinds(model) == kinds
    _assert_equals_tape(model, np.random.default_rng(2).random((4, 12, 12, 1), np.float32), np.array([0, 1, 2, 1]))


def test_chain_ends_at_its_last_rewritten_step():
    """Above it the tape is as fast: a strided last convolution stays in the model above the chain."""
    model = _stack((12, 12, 1), (6, 3, 1, "valid"), (8, 3, 2, "valid"))
    assert _kinds(model) == ["thin"] and len(score_model(model)._fast.chain.steps) == 1
    assert score_model(_stack((12, 12, 8), (6, 3, 2, "valid")))._fast.chain is None


def test_batch_norm_dropout_and_activation_layers_in_the_chain():
    keras.utils.set_random_seed(7)
    inp = keras.Input((12, 12, 2))
    h = keras.layers.Conv2D(6, 3, use_bias=False)(inp)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Activation("relu")(h)
    h = keras.layers.SpatialDropout2D(0.3)(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(h)
    h = keras.layers.AveragePooling2D(2)(h)
    h = keras.layers.ZeroPadding2D(1)(h)
    h = keras.layers.Conv2D(5, 3, padding="same", activation="relu")(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(7, activation="relu")(h)
    h = keras.layers.Dropout(0.5)(h)
    model = keras.Model(inp, keras.layers.Dense(4, activation="softmax")(h))
    bn = model.layers[2]
    rng = np.random.default_rng(8)
    bn.moving_mean.assign(rng.normal(size=6).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=6).astype(np.float32))
    bn.gamma.assign(rng.normal(size=6).astype(np.float32))
    steps = score_model(model)._fast.chain.steps
    assert [type(s) for s in steps] == [Convolution, ChannelWise, ChannelWise, Identity, Convolution, ChannelWise,
                                        ChannelWise, Convolution]
    x = rng.random((5, 12, 12, 2), np.float32)
    _assert_equals_tape(model, x, np.array([0, 1, 2, 3, 0], np.int32))


def test_image_used_twice_keeps_the_tape_gradient():
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(keras.layers.Conv2D(2, 3, activation="relu")(inp))
    h = keras.layers.Concatenate()([h, keras.layers.Flatten()(inp)])
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(h))
    assert score_model(model)._fast.chain is None
    _assert_equals_tape(model, np.random.default_rng(0).random((3, 8, 8, 1), np.float32), np.array([0, 1, 1]))


@pytest.mark.parametrize("first", [lambda: keras.layers.SeparableConv2D(4, 3, activation="relu"),
                                   lambda: keras.layers.Conv2D(4, 3, dilation_rate=2, activation="relu")])
def test_unsupported_first_layer_keeps_the_tape_gradient(first):
    keras.utils.set_random_seed(9)
    inp = keras.Input((9, 9, 2))
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(first()(inp))))
    assert score_model(model)._fast.chain is None
    _assert_equals_tape(model, np.random.default_rng(1).random((3, 9, 9, 2), np.float32), np.array([0, 1, 1]))


def test_multi_input_model_with_features_beside_the_image():
    """ZTF SCoPe-style: the dmdt goes through the convolution, a feature vector joins at the head."""
    keras.utils.set_random_seed(3)
    image, feats = keras.Input((10, 11, 1), name="dmdt"), keras.Input((4,), name="features")
    h = keras.layers.Flatten()(keras.layers.Conv2D(3, 3, activation="relu")(image))
    h = keras.layers.Concatenate()([h, keras.layers.Dense(5, activation="relu")(feats)])
    model = keras.Model([image, feats], keras.layers.Dense(3, activation="softmax")(h))
    rng = np.random.default_rng(4)
    x, f = rng.random((6, 10, 11, 1), np.float32), rng.random((6, 4), np.float32)
    sm = score_model(model, image_input="dmdt")
    assert sm._fast.chain is not None and sm._fast.chain.other_inputs == ("features",)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = tf.reduce_sum(sm.call([xt, tf.constant(f)])[:, 1])
    ref = tape.gradient(score, xt).numpy()
    ours = explain("saliency", model, {"dmdt": x, "features": f}, targets=1, image_input="dmdt")
    np.testing.assert_allclose(ours, np.abs(ref), rtol=1e-5, atol=1e-6 * np.abs(ref).max())


def test_real_crts_cnn_gradients_equal_the_tape():
    model, x = crts_cnn(), crts_dmdts()[:64]
    # conv2 (9x10 -> 5x6) keeps TF's gradient but computes only its live filters (test_producers_dormant.py)
    assert [type(s) for s in score_model(model)._fast.chain.steps] == [Convolution, MaxPoolRoute, Convolution, Expand]
    assert _kinds(model) == ["thin", "tape"]
    _assert_equals_tape(model, x, np.full(len(x), 6, np.int32))  # LPV: non-zero gradients for most real dmdts


def test_real_braai_vgg6_gradients_equal_the_tape():
    model, x = braai()
    assert _kinds(model) == ["thin", "flipped", "flipped", "flipped"]
    x = x[:16]
    _assert_equals_tape(model, x, np.arange(len(x)) % 2)


def _layer_and_logits(model, layer, x):
    """The plain Keras forward pass: ``(activations of layer, logits)``."""
    head = model.layers[-1]
    sub = keras.Model(model.inputs, [model.get_layer(layer).output, head.input])
    activations, features = sub(x, training=False)
    return activations.numpy(), (tf.matmul(features, head.kernel) + head.bias).numpy()


@pytest.mark.parametrize("layer", ["a", "b", "c", "d"])
def test_fast_front_forward_equals_keras_at_every_layer(layer):
    """Three thin convolutions run as fused kernels (the front); a layer inside it is served by the whole Keras model."""
    keras.utils.set_random_seed(2)
    inp = keras.Input((12, 13, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="a")(inp)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="b")(h)
    h = keras.layers.Conv2D(6, 3, activation="tanh", name="c")(h)
    h = keras.layers.Conv2D(5, 2, activation="relu", name="d")(h)  # 6 input channels: above the front
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(h)))
    sm = score_model(model)
    assert [step.layer.name for step in sm._fast.front.steps] == ["a", "b", "c"]
    x = np.random.default_rng(5).random((4, 12, 13, 1), np.float32)
    activations, logits = sm.with_layer(layer)([tf.constant(x)])
    ref_activations, ref_logits = _layer_and_logits(model, layer, x)
    np.testing.assert_allclose(activations, ref_activations, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sm.predict(sm.inputs(x)), ref_logits, rtol=1e-5, atol=1e-6)
