#!/usr/bin/env python3
"""Keras 3-produced golden data: models saved by Keras 3 (the `keras` package, what
`tf.keras` is from TensorFlow 2.16 on), whose JSON differs from tf-keras's: dtype policies,
`batch_shape`, the backward layer of a Bidirectional written out, calls in the
{"args", "kwargs"} form, and masks passed to the layers as operations of their own (NotEqual,
Any). rill reads them (tests/frontend/keras3_test.cc, tests/tools/cli_test.cc).

Cases (float32, weights uniform(-0.5, 0.5), every GRU reset_after=True as Keras 3's are):
  masked      functional: Input(6, 3) -> Masking(0.0) -> Bidirectional(GRU(4,
              return_sequences), merge_mode="sum") -> GRU(3) -> Dense(2), on right-padded
              sequences (lengths 6, 4, 2, 5)
  sequential  Sequential: Input(6) -> Embedding(10, 4, mask_zero=True) ->
              GRU(3, return_sequences) -> Dropout(0.1) -> TimeDistributed(Dense(2)) ->
              Activation("softmax"), on right-padded ids (lengths 6, 3, 1, 5)
  ids         functional: Input(6, int32) -> Embedding(10, 4, mask_zero=True) -> GRU(3) ->
              Dense(2), the same ids
  state       functional, two inputs: GRU(3)(x, initial_state=h0) -> Dense(2)
  built       Sequential([GRU(3), Dense(2)]) with no Input, built by a first call on 2
              samples (Keras 3 then records the batch size 2 in its input shape), predicting
              state_x.npy (4 samples)

Writes tests/golden/keras3/:
  <case>.keras, <case>_x.npy (state: state_h0.npy too), <case>_y.npy: the model
              (model.save), its input and Keras's prediction
  masked.h5, masked.json, masked.weights.h5: the masked model saved in HDF5 (model.save),
              its to_json() and its save_weights()
  masked_sgd/N.npy: the masked model's get_weights() after fit(masked_x, state_y, epochs=2,
              batch_size=4, shuffle=False) with loss mse and SGD(0.1)

Regenerate from the repository root (the archives differ from run to run only in the date
Keras writes into them):
  python3 scripts/golden/keras3_models.py
Made with tensorflow-cpu 2.21.0, keras 3.15.1, numpy 2.x.
"""
import os
import shutil

import numpy as np

from tf_keras_env import ROOT, set_uniform_weights  # noqa: E402  (first: sets TensorFlow's environment)
import keras  # noqa: E402  (Keras 3, whatever TF_USE_LEGACY_KERAS says of tf.keras)

OUT = os.path.join(ROOT, "tests", "golden", "keras3")
L = keras.layers
B, T, D = 4, 6, 3


def save(name, model, inputs):
    model.save(os.path.join(OUT, f"{name}.keras"))
    y = model.predict(inputs, verbose=0)
    np.save(os.path.join(OUT, f"{name}_y.npy"), y.astype(np.float32), allow_pickle=False)
    again = keras.models.load_model(os.path.join(OUT, f"{name}.keras"))
    np.testing.assert_array_equal(again.predict(inputs, verbose=0), y)


def padded(rng, lengths, shape, draw):
    x = draw(rng, (len(lengths),) + shape)
    for b, length in enumerate(lengths):
        x[b, length:] = 0
    return x


def main():
    assert keras.__version__.startswith("3."), keras.__version__
    rng = np.random.default_rng(31)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)

    x_in = keras.Input((T, D), name="x")
    h = L.Masking(0.0)(x_in)
    h = L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="sum")(h)
    h = L.GRU(3)(h)
    masked = keras.Model(x_in, L.Dense(2)(h), name="masked")
    set_uniform_weights(masked, rng)
    x = padded(rng, [6, 4, 2, 5], (T, D),
               lambda r, s: r.normal(size=s).astype(np.float32))
    np.save(os.path.join(OUT, "masked_x.npy"), x, allow_pickle=False)
    save("masked", masked, x)
    masked.save(os.path.join(OUT, "masked.h5"))
    masked.save_weights(os.path.join(OUT, "masked.weights.h5"))
    with open(os.path.join(OUT, "masked.json"), "w") as f:
        f.write(masked.to_json())

    ids = padded(rng, [6, 3, 1, 5], (T,),
                 lambda r, s: r.integers(1, 10, size=s).astype(np.int32))
    np.save(os.path.join(OUT, "ids_x.npy"), ids, allow_pickle=False)
    sequential = keras.Sequential([keras.Input((T,), dtype="int32"),
                                   L.Embedding(10, 4, mask_zero=True),
                                   L.GRU(3, return_sequences=True), L.Dropout(0.1),
                                   L.TimeDistributed(L.Dense(2)), L.Activation("softmax")],
                                  name="sequential")
    set_uniform_weights(sequential, rng)
    save("sequential", sequential, ids)

    ids_in = keras.Input((T,), dtype="int32", name="ids")
    h = L.Embedding(10, 4, mask_zero=True)(ids_in)
    functional_ids = keras.Model(ids_in, L.Dense(2)(L.GRU(3)(h)), name="ids")
    set_uniform_weights(functional_ids, rng)
    save("ids", functional_ids, ids)

    x_in = keras.Input((T, D), name="x")
    h0_in = keras.Input((3,), name="h0")
    state = keras.Model([x_in, h0_in], L.Dense(2)(L.GRU(3)(x_in, initial_state=h0_in)),
                        name="state")
    set_uniform_weights(state, rng)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    h0 = rng.normal(size=(B, 3)).astype(np.float32)
    np.save(os.path.join(OUT, "state_x.npy"), x, allow_pickle=False)
    np.save(os.path.join(OUT, "state_h0.npy"), h0, allow_pickle=False)
    save("state", state, [x, h0])

    trained = keras.models.load_model(os.path.join(OUT, "masked.keras"))
    trained.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.1))
    trained.fit(np.load(os.path.join(OUT, "masked_x.npy")), np.load(os.path.join(OUT, "state_y.npy")),
                epochs=2, batch_size=4, shuffle=False, verbose=0)
    os.makedirs(os.path.join(OUT, "masked_sgd"))
    for i, w in enumerate(trained.get_weights()):
        np.save(os.path.join(OUT, "masked_sgd", f"{i}.npy"), w, allow_pickle=False)

    built = keras.Sequential([L.GRU(3), L.Dense(2)], name="built")
    built.predict(x[:2], verbose=0)
    set_uniform_weights(built, rng)
    save("built", built, x)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
