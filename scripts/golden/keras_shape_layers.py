#!/usr/bin/env python3
"""Keras-produced golden data for the layers that reshape or pool without weights:
RepeatVector, Flatten, Reshape, Permute, GlobalAveragePooling1D and GlobalMaxPooling1D, each in a GRU model that tf-keras builds,
predicts with and trains (float32, weights uniform(-0.5, 0.5), GRU(reset_after=True)).

Cases:
  repeat_vector   a sequence autoencoder: Input(5, 2) -> GRU(4) -> RepeatVector(5)
                  -> GRU(3, return_sequences=True) -> TimeDistributed(Dense(2))
  flatten         Input(4, 3) -> GRU(3, return_sequences=True) -> Flatten -> Dense(2)
  average_pooling Input(6, 2) -> GRU(4, return_sequences=True) -> GlobalAveragePooling1D
                  -> Dense(1, sigmoid), binary_crossentropy
  average_pooling_keepdims  Input(6, 2) -> GRU(3, return_sequences=True)
                  -> GlobalAveragePooling1D(keepdims=True) -> Dense(2)
  Masked (right-padded samples of lengths 1 to 6; Keras averages each sample's unmasked steps):
  average_pooling_ids      int32 ids Input(6) -> Embedding(9, 4, mask_zero=True)
                  -> GRU(4, return_sequences=True) -> GlobalAveragePooling1D
                  -> Dense(1, sigmoid), binary_crossentropy
  average_pooling_masking  Input(6, 2) -> Masking(0.0) -> Bidirectional(GRU(3,
                  return_sequences=True)) -> GlobalAveragePooling1D -> Dense(2)
  embedding_average        int32 ids Input(6) -> Embedding(9, 3, mask_zero=True)
                  -> GlobalAveragePooling1D -> Dense(1, sigmoid): the mean of the embeddings
  max_pooling     Input(6, 2) -> GRU(4, return_sequences=True) -> GlobalMaxPooling1D
                  -> Dense(2)
  max_pooling_keepdims_ids  int32 ids Input(6) -> Embedding(9, 4, mask_zero=True)
                  -> GRU(3, return_sequences=True) -> GlobalMaxPooling1D(keepdims=True)
                  -> Dense(1, sigmoid), binary_crossentropy: Keras's maximum takes the padded
                  steps too (it ignores the mask)
  permute         Input(6, 4) -> Permute((2, 1)) -> GRU(3, return_sequences=True)
                  -> Reshape((-1,)) -> Dense(2): a GRU over the 4 features as steps
  reshape         Input(6, 4) -> Reshape((3, -1)) -> GRU(2) -> Dense(1): pairs of steps
                  joined into one of 8 features

Each model's layer output is checked against NumPy's float64 formula on Keras's own input to
that layer (repeat, reshape, mean, max, transpose) before anything is written.

Writes tests/golden/keras_shapes/:
  <case>.keras        the model compiled with SGD(0.1) and its loss, untrained (model.save)
  <case>_x.npy, <case>_y.npy   an input batch (8 samples) and Keras's prediction of it
  <case>_t.npy        training targets
  <case>_fit/N.npy    get_weights() after fit(x, t, epochs=2, batch_size=4, shuffle=False)

Regenerate from the repository root (the archives differ from run to run only in the date
Keras writes into them):
  python3 scripts/golden/keras_shape_layers.py
Made with tensorflow-cpu 2.21.0, tf-keras 2.21.0, numpy 2.x.
"""
import os
import shutil

import numpy as np

from tf_keras_env import ROOT, keras, set_uniform_weights  # noqa: E402  (first: sets TensorFlow's environment)

OUT = os.path.join(ROOT, "tests", "golden", "keras_shapes")
L = keras.layers
B = 8


def case(name, layers, loss, x, t, rng, layer_name, formula):
    model = keras.Sequential(layers, name=name)
    set_uniform_weights(model, rng)
    model.compile(loss=loss, optimizer=keras.optimizers.SGD(0.1))
    layer = model.get_layer(layer_name)
    probe = keras.Model(model.inputs, [layer.input, layer.output])
    before, after = probe.predict(x, verbose=0)
    gap = np.abs(after.astype(np.float64) - formula(before.astype(np.float64))).max()
    assert gap < 1e-6, f"{name}: {layer_name} is {gap} off its formula"
    model.save(os.path.join(OUT, f"{name}.keras"))
    np.save(os.path.join(OUT, f"{name}_x.npy"), x, allow_pickle=False)
    np.save(os.path.join(OUT, f"{name}_y.npy"), model.predict(x, verbose=0), allow_pickle=False)
    np.save(os.path.join(OUT, f"{name}_t.npy"), t, allow_pickle=False)
    model.fit(x, t, epochs=2, batch_size=4, shuffle=False, verbose=0)
    os.makedirs(os.path.join(OUT, f"{name}_fit"))
    for i, w in enumerate(model.get_weights()):
        np.save(os.path.join(OUT, f"{name}_fit", f"{i}.npy"), w, allow_pickle=False)
    print(f"{name}: {layer_name} within {gap:.2g} of its formula")


def main():
    rng = np.random.default_rng(7)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    normal = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    x = normal(B, 5, 2)
    case("repeat_vector",
         [keras.Input((5, 2)), L.GRU(4, reset_after=True), L.RepeatVector(5, name="repeat"),
          L.GRU(3, reset_after=True, return_sequences=True), L.TimeDistributed(L.Dense(2))],
         "mse", x, x, rng, "repeat", lambda v: np.repeat(v[:, None, :], 5, axis=1))
    case("flatten",
         [keras.Input((4, 3)), L.GRU(3, reset_after=True, return_sequences=True),
          L.Flatten(name="flat"), L.Dense(2)],
         "mse", normal(B, 4, 3), normal(B, 2), rng, "flat", lambda v: v.reshape(len(v), -1))
    case("average_pooling",
         [keras.Input((6, 2)), L.GRU(4, reset_after=True, return_sequences=True),
          L.GlobalAveragePooling1D(name="pool"), L.Dense(1, activation="sigmoid")],
         "binary_crossentropy", normal(B, 6, 2),
         (rng.random((B, 1)) < 0.5).astype(np.float32), rng, "pool", lambda v: v.mean(axis=1))
    case("average_pooling_keepdims",
         [keras.Input((6, 2)), L.GRU(3, reset_after=True, return_sequences=True),
          L.GlobalAveragePooling1D(keepdims=True, name="pool"), L.Dense(2)],
         "mse", normal(B, 6, 2), normal(B, 1, 2), rng, "pool",
         lambda v: v.mean(axis=1, keepdims=True))
    # Right-padded samples of lengths 1 to 6 (one without any step averages 0 / 0, NaN, in Keras
    # as in rill).
    lengths = np.array([6, 1, 3, 5, 2, 6, 4, 3])
    valid = (np.arange(6)[None, :] < lengths[:, None])
    ids = np.where(valid, rng.integers(1, 9, size=(B, 6)), 0).astype(np.int32)
    labels = (rng.random((B, 1)) < 0.5).astype(np.float32)

    def masked_mean(v):
        m = valid[:, :, None].astype(np.float64)
        return (v * m).sum(axis=1) / m.sum(axis=1)

    case("average_pooling_ids",
         [keras.Input((6,), dtype="int32"), L.Embedding(9, 4, mask_zero=True),
          L.GRU(4, reset_after=True, return_sequences=True),
          L.GlobalAveragePooling1D(name="pool"), L.Dense(1, activation="sigmoid")],
         "binary_crossentropy", ids, labels, rng, "pool", masked_mean)
    padded = np.where(valid[:, :, None], normal(B, 6, 2), 0).astype(np.float32)
    case("average_pooling_masking",
         [keras.Input((6, 2)), L.Masking(0.0),
          L.Bidirectional(L.GRU(3, reset_after=True, return_sequences=True)),
          L.GlobalAveragePooling1D(name="pool"), L.Dense(2)],
         "mse", padded, normal(B, 2), rng, "pool", masked_mean)
    case("embedding_average",
         [keras.Input((6,), dtype="int32"), L.Embedding(9, 3, mask_zero=True),
          L.GlobalAveragePooling1D(name="pool"), L.Dense(1, activation="sigmoid")],
         "binary_crossentropy", ids, labels, rng, "pool", masked_mean)
    case("max_pooling",
         [keras.Input((6, 2)), L.GRU(4, reset_after=True, return_sequences=True),
          L.GlobalMaxPooling1D(name="pool"), L.Dense(2)],
         "mse", normal(B, 6, 2), normal(B, 2), rng, "pool", lambda v: v.max(axis=1))
    case("max_pooling_keepdims_ids",
         [keras.Input((6,), dtype="int32"), L.Embedding(9, 4, mask_zero=True),
          L.GRU(3, reset_after=True, return_sequences=True),
          L.GlobalMaxPooling1D(keepdims=True, name="pool"), L.Dense(1, activation="sigmoid")],
         "binary_crossentropy", ids, labels[:, :, None], rng, "pool",
         lambda v: v.max(axis=1, keepdims=True))
    case("permute",
         [keras.Input((6, 4)), L.Permute((2, 1), name="permute"),
          L.GRU(3, reset_after=True, return_sequences=True), L.Reshape((-1,)), L.Dense(2)],
         "mse", normal(B, 6, 4), normal(B, 2), rng, "permute",
         lambda v: v.transpose(0, 2, 1))
    case("reshape",
         [keras.Input((6, 4)), L.Reshape((3, -1), name="reshape"), L.GRU(2, reset_after=True),
          L.Dense(1)],
         "mse", normal(B, 6, 4), normal(B, 1), rng, "reshape", lambda v: v.reshape(B, 3, 8))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
