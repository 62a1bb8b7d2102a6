#!/usr/bin/env python3
"""Keras-produced golden data for what `rill train --reduce-lr-on-plateau` records each epoch
(tests/tools/cli_test.cc): tf-keras's ReduceLROnPlateau adds "lr", the rate the epoch trained
with, to the epoch's logs, so its History and its CSVLogger (whose columns are the sorted
names) hold it.

The case: the train_sgd model and data of tests/golden/keras (Keras's CuDNNGRU weights loaded
into GRU(reset_after=True) by Keras's own converter), loss mse, metric accuracy, SGD(0.01),
batch 2, 4 epochs, shuffle=False, ReduceLROnPlateau(monitor="accuracy", factor=0.5,
patience=0). The accuracy does not change, so the rate halves after every epoch but the first.

Writes tests/golden/keras_plateau/:
  loss.npy, accuracy.npy, lr.npy   History.history["loss"], ["accuracy"], ["lr"] (float64)

Regenerate from the repository root:
  python3 scripts/golden/keras_plateau.py
Made with tensorflow-cpu 2.21.0, tf-keras 2.21.0, numpy 2.x.
"""
import json
import os

import numpy as np

from tf_keras_env import ROOT, keras  # noqa: E402  (first: sets TensorFlow's environment)

CASE = os.path.join(ROOT, "tests", "golden", "keras", "train_sgd")
OUT = os.path.join(ROOT, "tests", "golden", "keras_plateau")



def as_gru(config):
    """The model's config with each CuDNNGRU as the GRU that computes the same function."""
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "CuDNNGRU":
            layer["class_name"] = "GRU"
            layer["config"].update(reset_after=True, activation="tanh",
                                   recurrent_activation="sigmoid")
    return config


def main():
    with open(os.path.join(CASE, "model.json")) as f:
        model = keras.models.model_from_json(json.dumps(as_gru(json.load(f))))
    model.load_weights(os.path.join(CASE, "weights.h5"))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse",
                  metrics=["accuracy"])
    x = np.load(os.path.join(CASE, "x.npy"))
    y = np.load(os.path.join(CASE, "y_train.npy"))
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="accuracy", factor=0.5, patience=0)
    history = model.fit(x, y, batch_size=2, epochs=4, shuffle=False, verbose=0,
                        callbacks=[plateau]).history
    os.makedirs(OUT, exist_ok=True)
    for name in ("loss", "accuracy", "lr"):
        np.save(os.path.join(OUT, name + ".npy"), np.asarray(history[name], np.float64),
                allow_pickle=False)
    print(f"wrote {OUT}: lr {history['lr']}, loss {history['loss']}")


if __name__ == "__main__":
    main()
