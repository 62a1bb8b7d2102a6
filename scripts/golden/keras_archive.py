#!/usr/bin/env python3
"""Keras-produced golden data for Keras's newer formats: the `.keras` archive
(`model.save('m.keras')`: a ZIP file of config.json, the model JSON with its compile_config,
and model.weights.h5) and the weights file `save_weights('w.weights.h5')`, whose layers are
kept at paths made of their classes (layers/gru, layers/gru_1, layers/bidirectional/
forward_layer/cell, ...) instead of their names. rill predict|train|compile|inspect read them
(tests/tools/cli_test.cc).

Cases (float32, weights uniform(-0.5, 0.5)):
  model         functional: Input(6, 3) -> GRU(5, return_sequences) -> Bidirectional(GRU(4,
                return_sequences)) -> GRU(3) -> Dense(2), all GRU(reset_after=True);
                compiled (mse, Adam)
  cudnn         Sequential: Input(6, 3) -> CuDNNGRU(4, return_sequences) ->
                Bidirectional(CuDNNGRU(3)) -> Dense(2) (tf-keras cannot run CuDNNGRU on the
                CPU: the reference is the same weights from get_weights())
  embedding     Sequential: Input(6) -> Embedding(10, 4, mask_zero=True) ->
                GRU(3, return_sequences) -> TimeDistributed(Dense(2)), on right-padded ids

Writes tests/golden/keras_archive/:
  model.keras, model.json, model.weights.h5, x.npy, y.npy     the model, its to_json() and
                save_weights('*.weights.h5'), a batch and Keras's prediction of it
  model_mae_sgd.keras   the model compiled with loss mae and SGD(0.05)
  model_adam.keras      the model compiled with loss mse and Adam(0.01, beta_1=0.8,
                amsgrad=True)
  y_fit.npy, fit_mae_sgd/N.npy, fit_adam/N.npy: targets, and the weights keras.models.load_model
                of each of those two, then fit(x, y_fit, epochs=2, batch_size=4,
                shuffle=False), ends with: the training config the archive holds at work
  cudnn.keras, cudnn.json, cudnn_weights/N.npy                 the model, its JSON and
                get_weights()
  embedding.keras, embedding_x.npy, embedding_y.npy
  embedding_deflated.keras   the same archive with its members deflated (Keras stores them;
                zip tools may compress them)

Regenerate from the repository root (the archives differ from run to run only in the date
Keras writes into them):
  python3 scripts/golden/keras_archive.py
Made with tensorflow-cpu 2.21.0, tf-keras 2.21.0, numpy 2.x.
"""
import os
import shutil
import zipfile

import numpy as np

from tf_keras_env import ROOT, CuDNNGRU, keras, set_uniform_weights  # noqa: E402  (first: sets TensorFlow's environment)

OUT = os.path.join(ROOT, "tests", "golden", "keras_archive")
L = keras.layers
B, T, D = 4, 6, 3


def save_npy(name, array):
    np.save(os.path.join(OUT, name), array, allow_pickle=False)


def main():
    rng = np.random.default_rng(23)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)

    inp = keras.Input((T, D), name="input")
    h = L.GRU(5, reset_after=True, return_sequences=True, name="first")(inp)
    h = L.Bidirectional(L.GRU(4, reset_after=True, return_sequences=True, name="inner"),
                        name="both_ways")(h)
    h = L.GRU(3, reset_after=True, name="last")(h)
    model = keras.Model(inp, L.Dense(2, name="out")(h), name="archive_model")
    set_uniform_weights(model, rng)
    model.compile(loss="mse", optimizer="adam")
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    y = model.predict(x, verbose=0)
    model.save(os.path.join(OUT, "model.keras"))
    model.save_weights(os.path.join(OUT, "model.weights.h5"))
    with open(os.path.join(OUT, "model.json"), "w") as f:
        f.write(model.to_json())
    save_npy("x.npy", x)
    save_npy("y.npy", y.astype(np.float32))
    model.compile(loss="mae", optimizer=keras.optimizers.SGD(learning_rate=0.05))
    model.save(os.path.join(OUT, "model_mae_sgd.keras"))
    again = keras.models.load_model(os.path.join(OUT, "model.keras"))
    np.testing.assert_array_equal(again.predict(x, verbose=0), y)

    cudnn = keras.Sequential([keras.Input((T, D)), CuDNNGRU(4, return_sequences=True),
                              L.Bidirectional(CuDNNGRU(3)), L.Dense(2)], name="cudnn")
    set_uniform_weights(cudnn, rng)
    cudnn.save(os.path.join(OUT, "cudnn.keras"))
    with open(os.path.join(OUT, "cudnn.json"), "w") as f:
        f.write(cudnn.to_json())
    os.makedirs(os.path.join(OUT, "cudnn_weights"))
    for i, w in enumerate(cudnn.get_weights()):
        save_npy(os.path.join("cudnn_weights", f"{i}.npy"), w)

    embedding = keras.Sequential([keras.Input((T,)), L.Embedding(10, 4, mask_zero=True),
                                  L.GRU(3, reset_after=True, return_sequences=True),
                                  L.TimeDistributed(L.Dense(2))], name="embedding")
    set_uniform_weights(embedding, rng)
    ids = rng.integers(1, 10, size=(B, T))
    for b, length in enumerate([6, 4, 1, 3]):
        ids[b, length:] = 0
    embedding.save(os.path.join(OUT, "embedding.keras"))
    with zipfile.ZipFile(os.path.join(OUT, "embedding.keras")) as stored, \
            zipfile.ZipFile(os.path.join(OUT, "embedding_deflated.keras"), "w",
                            zipfile.ZIP_DEFLATED) as deflated:
        for member in stored.infolist():
            deflated.writestr(member.filename, stored.read(member.filename))
    save_npy("embedding_x.npy", ids.astype(np.int32))
    save_npy("embedding_y.npy", embedding.predict(ids, verbose=0).astype(np.float32))
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(learning_rate=0.01, beta_1=0.8,
                                                              amsgrad=True))
    model.save(os.path.join(OUT, "model_adam.keras"))
    y_fit = rng.normal(size=(B, 2)).astype(np.float32)
    save_npy("y_fit.npy", y_fit)
    for name in ("mae_sgd", "adam"):
        trained = keras.models.load_model(os.path.join(OUT, f"model_{name}.keras"))
        trained.fit(x, y_fit, epochs=2, batch_size=4, shuffle=False, verbose=0)
        os.makedirs(os.path.join(OUT, f"fit_{name}"))
        for i, w in enumerate(trained.get_weights()):
            save_npy(os.path.join(f"fit_{name}", f"{i}.npy"), w)
    print(f"wrote {OUT}: y {y.shape}")


if __name__ == "__main__":
    main()
