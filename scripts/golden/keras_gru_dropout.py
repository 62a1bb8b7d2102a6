#!/usr/bin/env python3
"""Keras-produced golden data for GRU layers trained with dropout (docs/user-guide.md): Keras's
GRU applies dropout and recurrent_dropout in training alone, so a model that has them predicts
as the same model without them. rill keeps the options and predicts the model as Keras does; it
trains a GRU's dropout (with draws of its own) and refuses to train a recurrent_dropout
(tests/frontend/keras_test.cc).

The case (batch 4, T 6, float32):
  Input(6, 3) -> GRU(4, dropout=0.2, recurrent_dropout=0.1, return_sequences)
              -> Bidirectional(GRU(3, dropout=0.3)) -> Dense(2)

Keras's prediction is checked here against the same model rebuilt without dropout, with the
same weights, so the golden rests on the inference formula, not on dropout's.

A second case, spatial (compiled with mse and SGD(0.1), saved whole): Input (6) int32 ids
  -> Embedding(9, 4, mask_zero=True) -> SpatialDropout1D(0.3) -> GRU(5, dropout=0.25,
  return_sequences) -> Dropout(0.2, noise_shape=(None, 1, 5)) -> GRU(3, dropout=0.1) -> Dense(1),
  on right-padded ids; checked the same way. keras3_spatial: the same model built and saved by
  Keras 3 (its Dropout's noise_shape and SpatialDropout1D as Keras 3 writes them).

Writes tests/golden/keras_dropout/:
  model.json     model.to_json()
  weights/N.npy  model.get_weights() (random uniform(-0.5, 0.5)), Keras GRU layout
  x.npy, y.npy   the batch and Keras's prediction
  spatial.keras, spatial_x.npy, spatial_y.npy  the second case, its ids and Keras's prediction
  keras3_spatial.keras, keras3_spatial_x.npy, keras3_spatial_y.npy  the same from Keras 3

Regenerate from the repository root:
  python3 scripts/golden/keras_gru_dropout.py
Made with tensorflow-cpu 2.21.0, tf-keras 2.21.0, keras 3.15.1, numpy 2.x.
"""
import os
import shutil

import numpy as np

from tf_keras_env import ROOT, keras  # noqa: E402  (first: sets TensorFlow's environment)
import keras as keras3  # noqa: E402  (Keras 3, whatever TF_USE_LEGACY_KERAS says of tf.keras)

OUT = os.path.join(ROOT, "tests", "golden", "keras_dropout")
L = keras.layers
B, T, D = 4, 6, 3



def build(dropout):
    rate = (lambda r: r) if dropout else (lambda r: 0.0)
    inp = keras.Input((T, D), name="input")
    h = L.GRU(4, dropout=rate(0.2), recurrent_dropout=rate(0.1), return_sequences=True,
              reset_after=True, name="gru_1")(inp)
    h = L.Bidirectional(L.GRU(3, dropout=rate(0.3), reset_after=True, name="gru_2"),
                        name="bidirectional")(h)
    return keras.Model(inp, L.Dense(2, name="dense")(h), name="gru_dropout")


def build_spatial(dropout, k=keras):
    L = k.layers
    rate = (lambda r: r) if dropout else (lambda r: 0.0)
    ids = k.Input((T,), dtype="int32", name="ids")
    h = L.Embedding(9, 4, mask_zero=True, name="embedding")(ids)
    h = L.SpatialDropout1D(rate(0.3), name="spatial")(h)
    h = L.GRU(5, dropout=rate(0.25), return_sequences=True, reset_after=True, name="gru_1")(h)
    h = L.Dropout(rate(0.2), noise_shape=(None, 1, 5), name="steps")(h)
    h = L.GRU(3, dropout=rate(0.1), reset_after=True, name="gru_2")(h)
    model = k.Model(ids, L.Dense(1, name="dense")(h), name="spatial_dropout")
    model.compile(loss="mse", optimizer=k.optimizers.SGD(0.1))
    return model


def main():
    rng = np.random.default_rng(7)
    model = build(dropout=True)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    y = model.predict(x, verbose=0)
    plain = build(dropout=False)
    plain.set_weights(weights)
    np.testing.assert_array_equal(y, plain.predict(x, verbose=0))

    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(os.path.join(OUT, "weights"))
    with open(os.path.join(OUT, "model.json"), "w") as f:
        f.write(model.to_json())
    for i, w in enumerate(weights):
        np.save(os.path.join(OUT, "weights", f"{i}.npy"), w, allow_pickle=False)
    np.save(os.path.join(OUT, "x.npy"), x, allow_pickle=False)
    np.save(os.path.join(OUT, "y.npy"), y.astype(np.float32), allow_pickle=False)

    lengths = np.array([6, 2, 4, 5])
    ids = None
    for name, k in (("spatial", keras), ("keras3_spatial", keras3)):
        model = build_spatial(True, k)
        weights = [rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
                   for w in model.get_weights()]
        model.set_weights(weights)
        if ids is None:
            ids = np.where(np.arange(T)[None, :] < lengths[:, None],
                           rng.integers(1, 9, size=(B, T)), 0).astype(np.int32)
        y = model.predict(ids, verbose=0)
        plain = build_spatial(False, k)
        plain.set_weights(weights)
        np.testing.assert_array_equal(y, plain.predict(ids, verbose=0))
        model.save(os.path.join(OUT, f"{name}.keras"))
        np.save(os.path.join(OUT, f"{name}_x.npy"), ids, allow_pickle=False)
        np.save(os.path.join(OUT, f"{name}_y.npy"), y.astype(np.float32), allow_pickle=False)
    print(f"wrote {OUT}: y {y.shape}")


if __name__ == "__main__":
    main()
