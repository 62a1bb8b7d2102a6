#!/usr/bin/env python3
"""Keras-produced golden data for reading a whole Keras model saved in HDF5
(`model.save('m.h5')`: the model JSON in the root attribute model_config, the weights below
/model_weights), as `rill predict|train|compile|inspect --model m.h5` do without --weights
(tests/tools/cli_test.cc).

The case (batch 4, T 6, float32):
  Input(6, 3) -> Bidirectional(GRU(4, reset_after=True, return_sequences=True))
              -> GRU(3, reset_after=True) -> Dense(2)
with weights uniform(-0.5, 0.5), compiled (mse, Adam) so that the file holds a training config
too, as most saved models do.

Writes tests/golden/keras_h5_model/:
  model.h5        model.save(..., save_format="h5")
  model.json      model.to_json(), the same model
  weights.h5      model.save_weights(...): weights alone, no model
  model_mae_sgd.h5  the same model compiled with loss mae and SGD(0.05): a training config
                  that differs from rill train's defaults (mse, Adam at Keras's rate)
  x.npy, y.npy    a batch and Keras's prediction of it

Regenerate from the repository root:
  python3 scripts/golden/keras_h5_model.py
Made with tensorflow-cpu 2.21.0, tf-keras 2.21.0, numpy 2.x.
"""
import os
import shutil

import numpy as np

from tf_keras_env import ROOT, keras  # noqa: E402  (first: sets TensorFlow's environment)

OUT = os.path.join(ROOT, "tests", "golden", "keras_h5_model")
L = keras.layers
B, T, D = 4, 6, 3



def main():
    rng = np.random.default_rng(11)
    inp = keras.Input((T, D), name="input")
    h = L.Bidirectional(L.GRU(4, reset_after=True, return_sequences=True, name="gru_1"),
                        name="bidirectional")(inp)
    h = L.GRU(3, reset_after=True, name="gru_2")(h)
    model = keras.Model(inp, L.Dense(2, name="dense")(h), name="h5_model")
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    model.compile(loss="mse", optimizer="adam")
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    y = model.predict(x, verbose=0)

    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    model.save(os.path.join(OUT, "model.h5"), save_format="h5")
    model.save_weights(os.path.join(OUT, "weights.h5"))
    model.compile(loss="mae", optimizer=keras.optimizers.SGD(learning_rate=0.05))
    model.save(os.path.join(OUT, "model_mae_sgd.h5"), save_format="h5")
    model.compile(loss="mse", optimizer="adam")
    with open(os.path.join(OUT, "model.json"), "w") as f:
        f.write(model.to_json())
    np.save(os.path.join(OUT, "x.npy"), x, allow_pickle=False)
    np.save(os.path.join(OUT, "y.npy"), y.astype(np.float32), allow_pickle=False)
    # The file reads back as the same model.
    again = keras.models.load_model(os.path.join(OUT, "model.h5"))
    np.testing.assert_array_equal(again.predict(x, verbose=0), y)
    print(f"wrote {OUT}: y {y.shape}")


if __name__ == "__main__":
    main()
