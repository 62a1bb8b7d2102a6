#!/usr/bin/env python3
"""Keras-produced golden data for the merge layers (Add, Subtract, Multiply, Average, Maximum,
Minimum, Concatenate) and LayerNormalization, in functional GRU models that tf-keras (and, for
three cases, Keras 3) builds, predicts with and trains (float32, weights uniform(-0.5, 0.5),
GRU(reset_after=True)).

Cases:
  two_inputs   Input a (6, 3) -> GRU(4, return_sequences); Input b (6, 2) -> GRU(3,
               return_sequences); Concatenate -> GRU(3) -> Dense(2), mse
  residual     Input (6, 4) -> GRU(4, return_sequences); Add([input, gru]) -> GRU(3)
               -> Dense(1, sigmoid), binary_crossentropy
  elementwise  Input (5, 3) -> Dense(4) p, Dense(4) q, Dense(4) r (per step);
               Concatenate([Subtract([p, q]), Multiply([p, q]), Average([p, q, r]),
               Maximum([p, q]), Minimum([q, r])]) -> GRU(3) -> Dense(2), mse
  broadcast    Input a (6, 3), Input b (1, 3): Add([a, b]) (b broadcast over the steps),
               Concatenate(axis=1)([a, b]) -> GRU(2) each, Concatenate -> Dense(1), mse
  masked       Input (6) int32 ids -> Embedding(9, 4, mask_zero=True) e -> GRU(4,
               return_sequences) g; Concatenate([Add([e, g]), e]) -> GRU(3) -> Dense(1,
               sigmoid), binary_crossentropy, on right-padded ids (lengths 1 to 6): every merge
               input carries the embedding's mask, which the merges pass on
  layer_norm   Input (6, 3) -> GRU(4, return_sequences) -> LayerNormalization() -> GRU(3)
               -> Dense(2), mse
  layer_norm_axes  Input (5, 4) -> LayerNormalization(axis=[1, 2], epsilon=1e-5) -> GRU(3)
               -> LayerNormalization(center=False) -> Dense(1), mse
  layer_norm_masked  Input (6) int32 ids -> Embedding(9, 4, mask_zero=True)
               -> LayerNormalization(scale=False) -> GRU(3) -> Dense(1, sigmoid),
               binary_crossentropy: the mask passes through
  keras3_two_inputs, keras3_elementwise, keras3_layer_norm: the two_inputs, elementwise and
               layer_norm models built and trained by Keras 3
  keras3_tagger  Keras 3: Input (6) int32 ids -> Embedding(9, 4, mask_zero=True) -> GRU(4,
               return_sequences) -> TimeDistributed(Dense(3, softmax)),
               sparse_categorical_crossentropy on labels [8, 6]: a masked output, whose loss
               counts only the unmasked steps (no merge or normalization layer)
  masking_residual  Input (6, 3) -> Masking(0.0) m -> GRU(3, return_sequences) g;
               Concatenate([LayerNormalization(Add([m, g, m])), m]) -> GRU(2) -> Dense(1), mse,
               on right-padded steps (lengths 1 to 6): one mask through a merge of three and a
               Concatenate
  keras3_masking_residual, keras3_masked: masking_residual and masked built and trained by
               Keras 3, which writes the merges' masks as operations (LogicalOr; ExpandDims,
               ZerosLike, Concatenate and Any for a Concatenate layer)

Each merge and normalization layer's output is checked against NumPy's float64 formula on
Keras's own inputs to that layer before anything is written.

Writes tests/golden/keras_layers/:
  <case>.keras        the model compiled with SGD(0.1) and its loss, untrained (model.save)
  <case>_x0.npy, <case>_x1.npy ... the inputs (8 samples), <case>_y.npy Keras's prediction
  <case>_t.npy        training targets
  <case>_fit/N.npy    get_weights() after fit(x, t, epochs=2, batch_size=4, shuffle=False)

Regenerate from the repository root (the archives differ from run to run only in the date
Keras writes into them):
  python3 scripts/golden/keras_layers.py
Made with tensorflow-cpu 2.21.0, tf-keras 2.21.0, keras 3.15.1, numpy 2.x.
"""
import os
import shutil

import numpy as np

from tf_keras_env import ROOT, keras, set_uniform_weights  # noqa: E402  (first: sets TensorFlow's environment)
import keras as keras3  # noqa: E402  (Keras 3, whatever TF_USE_LEGACY_KERAS says of tf.keras)

OUT = os.path.join(ROOT, "tests", "golden", "keras_layers")
B = 8


def average(*v):
    return sum(v) / len(v)


# Each merge class's formula on float64 arrays.
FORMULAS = {
    "Add": lambda *v: sum(v),
    "Subtract": lambda a, b: a - b,
    "Multiply": lambda *v: np.prod(np.broadcast_arrays(*v), axis=0),
    "Average": average,
    "Maximum": lambda *v: np.max(np.broadcast_arrays(*v), axis=0),
    "Minimum": lambda *v: np.min(np.broadcast_arrays(*v), axis=0),
}


def layer_norm(layer, x):
    """LayerNormalization's formula in float64, with the layer's own axes and weights."""
    axes = tuple(a % x.ndim for a in np.atleast_1d(layer.axis))
    mean = x.mean(axis=axes, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(variance + layer.epsilon)
    shape = [x.shape[d] if d in axes else 1 for d in range(1, x.ndim)]
    weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
    if layer.scale:
        y = y * weights.pop(0).reshape(shape)
    if layer.center:
        y = y + weights.pop(0).reshape(shape)
    return y


def check_layers(model, x, k):
    """The largest gap between a merge or normalization layer's output and its formula on its
    inputs."""
    worst = 0.0
    for layer in model.layers:
        name = type(layer).__name__
        if name not in FORMULAS and name not in ("Concatenate", "LayerNormalization"):
            continue
        layer_inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        probe = k.Model(model.inputs, layer_inputs + [layer.output])
        got = [np.asarray(v, np.float64) for v in probe.predict(x, verbose=0)]
        inputs, out = got[:-1], got[-1]
        if name == "Concatenate":
            want = np.concatenate(inputs, axis=layer.axis)
        elif name == "LayerNormalization":
            want = layer_norm(layer, inputs[0])
        else:
            want = FORMULAS[name](*inputs)
        worst = max(worst, float(np.abs(out - want).max()))
    assert worst < 1e-5, f"{model.name}: a layer is {worst} off its formula"
    return worst


def save_case(name, model, loss, xs, t, rng, k):
    feed = xs[0] if len(xs) == 1 else xs  # Keras 3 warns of a list of one
    set_uniform_weights(model, rng)
    model.compile(loss=loss, optimizer=k.optimizers.SGD(0.1))
    gap = check_layers(model, feed, k)
    model.save(os.path.join(OUT, f"{name}.keras"))
    for i, x in enumerate(xs):
        np.save(os.path.join(OUT, f"{name}_x{i}.npy"), x, allow_pickle=False)
    np.save(os.path.join(OUT, f"{name}_y.npy"), model.predict(feed, verbose=0), allow_pickle=False)
    np.save(os.path.join(OUT, f"{name}_t.npy"), t, allow_pickle=False)
    model.fit(feed, t, epochs=2, batch_size=4, shuffle=False, verbose=0)
    os.makedirs(os.path.join(OUT, f"{name}_fit"))
    for i, w in enumerate(model.get_weights()):
        np.save(os.path.join(OUT, f"{name}_fit", f"{i}.npy"), w, allow_pickle=False)
    print(f"{name}: layers within {gap:.2g} of their formulas")


def gru(k, units, **kw):
    return k.layers.GRU(units, reset_after=True, **kw)


def two_inputs(k):
    L = k.layers
    a, b = k.Input((6, 3), name="a"), k.Input((6, 2), name="b")
    h = L.Concatenate(name="cat")([gru(k, 4, return_sequences=True)(a),
                                   gru(k, 3, return_sequences=True)(b)])
    return k.Model([a, b], L.Dense(2)(gru(k, 3)(h)), name="two_inputs")


def elementwise(k):
    L = k.layers
    x = k.Input((5, 3), name="x")
    p, q, r = L.Dense(4, name="p")(x), L.Dense(4, name="q")(x), L.Dense(4, name="r")(x)
    h = L.Concatenate(name="cat")([L.Subtract(name="sub")([p, q]),
                                   L.Multiply(name="mul")([p, q]),
                                   L.Average(name="avg")([p, q, r]),
                                   L.Maximum(name="max")([p, q]),
                                   L.Minimum(name="min")([q, r])])
    return k.Model(x, L.Dense(2)(gru(k, 3)(h)), name="elementwise")


def masked_model(k):
    L = k.layers
    tokens = k.Input((6,), dtype="int32", name="ids")
    e = L.Embedding(9, 4, mask_zero=True, name="embedding")(tokens)
    g = gru(k, 4, return_sequences=True)(e)
    h = L.Concatenate(name="cat")([L.Add(name="add")([e, g]), e])
    return k.Model(tokens, L.Dense(1, activation="sigmoid")(gru(k, 3)(h)), name="masked")


def masking_residual(k):
    L = k.layers
    x = k.Input((6, 3), name="x")
    m = L.Masking(0.0, name="masking")(x)
    h = L.Add(name="add")([m, gru(k, 3, return_sequences=True)(m), m])
    h = L.Concatenate(name="cat")([L.LayerNormalization(name="norm")(h), m])
    return k.Model(x, L.Dense(1)(gru(k, 2)(h)), name="masking_residual")


def layer_norm_model(k):
    L = k.layers
    x = k.Input((6, 3), name="x")
    h = L.LayerNormalization(name="norm")(gru(k, 4, return_sequences=True)(x))
    return k.Model(x, L.Dense(2)(gru(k, 3)(h)), name="layer_norm")


def main():
    rng = np.random.default_rng(11)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    L = keras.layers
    normal = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731

    save_case("two_inputs", two_inputs(keras), "mse", [normal(B, 6, 3), normal(B, 6, 2)],
              normal(B, 2), rng, keras)

    x = keras.Input((6, 4), name="x")
    h = L.Add(name="add")([x, gru(keras, 4, return_sequences=True)(x)])
    model = keras.Model(x, L.Dense(1, activation="sigmoid")(gru(keras, 3)(h)), name="residual")
    save_case("residual", model, "binary_crossentropy", [normal(B, 6, 4)],
              (rng.random((B, 1)) < 0.5).astype(np.float32), rng, keras)

    save_case("elementwise", elementwise(keras), "mse", [normal(B, 5, 3)], normal(B, 2), rng,
              keras)

    a, b = keras.Input((6, 3), name="a"), keras.Input((1, 3), name="b")
    summed = gru(keras, 2)(L.Add(name="add")([a, b]))
    joined = gru(keras, 2)(L.Concatenate(axis=1, name="steps")([a, b]))
    model = keras.Model([a, b], L.Dense(1)(L.Concatenate(name="cat")([summed, joined])),
                        name="broadcast")
    save_case("broadcast", model, "mse", [normal(B, 6, 3), normal(B, 1, 3)], normal(B, 1), rng,
              keras)

    lengths = np.array([6, 1, 3, 5, 2, 6, 4, 3])
    valid = np.arange(6)[None, :] < lengths[:, None]
    ids = np.where(valid, rng.integers(1, 9, size=(B, 6)), 0).astype(np.int32)
    save_case("masked", masked_model(keras), "binary_crossentropy", [ids],
              (rng.random((B, 1)) < 0.5).astype(np.float32), rng, keras)

    save_case("layer_norm", layer_norm_model(keras), "mse", [normal(B, 6, 3)], normal(B, 2), rng,
              keras)

    x = keras.Input((5, 4), name="x")
    h = L.LayerNormalization(axis=[1, 2], epsilon=1e-5, name="norm")(x)
    h = L.LayerNormalization(center=False, name="norm_1")(gru(keras, 3)(h))
    model = keras.Model(x, L.Dense(1)(h), name="layer_norm_axes")
    save_case("layer_norm_axes", model, "mse", [normal(B, 5, 4) * 3 + 1], normal(B, 1), rng, keras)

    tokens = keras.Input((6,), dtype="int32", name="ids")
    e = L.Embedding(9, 4, mask_zero=True, name="embedding")(tokens)
    h = L.LayerNormalization(scale=False, name="norm")(e)
    model = keras.Model(tokens, L.Dense(1, activation="sigmoid")(gru(keras, 3)(h)),
                        name="layer_norm_masked")
    save_case("layer_norm_masked", model, "binary_crossentropy", [ids],
              (rng.random((B, 1)) < 0.5).astype(np.float32), rng, keras)

    save_case("keras3_two_inputs", two_inputs(keras3), "mse", [normal(B, 6, 3), normal(B, 6, 2)],
              normal(B, 2), rng, keras3)
    save_case("keras3_elementwise", elementwise(keras3), "mse", [normal(B, 5, 3)], normal(B, 2),
              rng, keras3)
    save_case("keras3_layer_norm", layer_norm_model(keras3), "mse", [normal(B, 6, 3)],
              normal(B, 2), rng, keras3)
    tokens = keras3.Input((6,), dtype="int32", name="ids")
    h = keras3.layers.Embedding(9, 4, mask_zero=True, name="embedding")(tokens)
    h = gru(keras3, 4, return_sequences=True)(h)
    out = keras3.layers.TimeDistributed(keras3.layers.Dense(3, activation="softmax"))(h)
    save_case("keras3_tagger", keras3.Model(tokens, out, name="keras3_tagger"),
              "sparse_categorical_crossentropy", [ids],
              rng.integers(0, 3, size=(B, 6)).astype(np.int32), rng, keras3)

    # Masks through merges in Keras 3's files: operations of their own (LogicalOr; for
    # Concatenate, ExpandDims, ZerosLike, Concatenate and Any).
    padded = normal(B, 6, 3) * valid[:, :, None]
    save_case("masking_residual", masking_residual(keras), "mse", [padded], normal(B, 1), rng,
              keras)
    save_case("keras3_masking_residual", masking_residual(keras3), "mse", [padded], normal(B, 1),
              rng, keras3)
    save_case("keras3_masked", masked_model(keras3), "binary_crossentropy", [ids],
              (rng.random((B, 1)) < 0.5).astype(np.float32), rng, keras3)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
