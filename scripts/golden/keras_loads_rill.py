#!/usr/bin/env python3
"""Checks that Keras reads the files rill writes: trains eighteen golden Keras models one SGD epoch
with `rill train --save-model M.keras --save-weights W.weights.h5`, then loads M.keras with
tf-keras's keras.models.load_model and W.weights.h5 with load_weights into that model (its weights zeroed first),
and compares their weights with rill's, the loss and optimizer M.keras is compiled with
with those rill trained with, and, for the models tf-keras runs on the CPU, their
predictions with `rill predict`'s (float32: within 1e-5 of the largest output), and those of
Keras 3's load_model of the same archive. Then checks
that an archive rill saved after training holds its optimizer's state, learning-rate schedule
and metrics: Keras's fit after load_model goes on as rill does (check_training_goes_on).

Not a golden (it writes nothing under tests/): a check of rill's writers against Keras, run
from the repository root after building:
  python3 scripts/golden/keras_loads_rill.py [build/tools/rill]
Prints one line per model and exits 1 when any differs. Checked with tensorflow-cpu 2.21.0,
tf-keras 2.21.0, keras 3.15.1.
"""
import json
import os
import subprocess
import sys
import tempfile
import warnings
import zipfile

import numpy as np

from tf_keras_env import ROOT, CuDNNGRU, keras  # noqa: E402  (first: sets TensorFlow's environment)
import keras as keras3  # noqa: E402  (Keras 3, whatever TF_USE_LEGACY_KERAS says of tf.keras)

GOLDEN = os.path.join(ROOT, "tests", "golden")
# golden archive, input, whether tf-keras can run it on the CPU (CuDNNGRU needs a GPU there).
# keras3/ids.keras (Embedding(mask_zero=True) -> GRU -> Dense) was saved by Keras 3: rill
# writes it in tf-keras's form.
CASES = [("keras_archive/model.keras", "keras_archive/x.npy", True),
         ("keras_archive/cudnn.keras", "keras_archive/x.npy", False),
         ("keras3/ids.keras", "keras3/ids_x.npy", True),
         ("keras_shapes/repeat_vector.keras", "keras_shapes/repeat_vector_x.npy", True),
         ("keras_shapes/flatten.keras", "keras_shapes/flatten_x.npy", True),
         ("keras_shapes/average_pooling_keepdims.keras",
          "keras_shapes/average_pooling_keepdims_x.npy", True),
         ("keras_shapes/average_pooling_masking.keras",
          "keras_shapes/average_pooling_masking_x.npy", True),
         ("keras_shapes/max_pooling_keepdims_ids.keras",
          "keras_shapes/max_pooling_keepdims_ids_x.npy", True),
         ("keras_shapes/permute.keras", "keras_shapes/permute_x.npy", True),
         ("keras_shapes/reshape.keras", "keras_shapes/reshape_x.npy", True),
         ("keras_layers/residual.keras", "keras_layers/residual_x0.npy", True),
         ("keras_layers/elementwise.keras", "keras_layers/elementwise_x0.npy", True),
         ("keras_layers/masked.keras", "keras_layers/masked_x0.npy", True),
         ("keras_layers/layer_norm_axes.keras", "keras_layers/layer_norm_axes_x0.npy", True),
         ("keras_layers/layer_norm_masked.keras", "keras_layers/layer_norm_masked_x0.npy", True),
         ("keras_layers/masking_residual.keras", "keras_layers/masking_residual_x0.npy", True),
         ("keras_layers/keras3_masked.keras", "keras_layers/keras3_masked_x0.npy", True),
         ("keras_dropout/spatial.keras", "keras_dropout/spatial_x.npy", True)]


def compiled_loss(archive):
    """The loss a .keras archive was compiled with, as its config.json names it (None when it
    was not compiled)."""
    with zipfile.ZipFile(archive) as z:
        return json.loads(z.read("config.json")).get("compile_config", {}).get("loss")


def rill(binary, *args):
    done = subprocess.run([binary, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"rill {' '.join(args)}: {done.stdout}{done.stderr}")


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "tools", "rill")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for source, x_name, runs_on_cpu in CASES:
            name = os.path.basename(source)[:-len(".keras")]
            source = os.path.join(GOLDEN, source)
            x = os.path.join(GOLDEN, x_name)
            archive = os.path.join(tmp, f"{name}.keras")
            weights = os.path.join(tmp, f"{name}.weights.h5")
            npy = os.path.join(tmp, f"{name}_npy")
            # Targets: the model's own predictions, so that the loss trains every output.
            y = os.path.join(tmp, f"{name}_y.npy")
            rill(binary, "predict", "--model", source, "--input", x, "--output", y)
            np.save(y, np.load(y) * 0.5)
            common = ["train", "--model", source, "--x", x,
                      "--y", y, "--epochs", "1", "--optimizer", "sgd", "--lr", "0.5",
                      "--shuffle=false", "--verbose", "0"]
            rill(binary, *common, "--save-model", archive, "--save-weights", weights)
            rill(binary, *common, "--save-weights", npy)
            want = [np.load(os.path.join(npy, f"{i}.npy")) for i in range(len(os.listdir(npy)))]
            custom = {"CuDNNGRU": CuDNNGRU}
            model = keras.models.load_model(archive, custom_objects=custom)
            # The weights file alone, into the same model with its weights zeroed first.
            from_json = keras.models.load_model(archive, custom_objects=custom)
            from_json.set_weights([np.zeros_like(w) for w in from_json.get_weights()])
            from_json.load_weights(weights)
            same = all(len(m.get_weights()) == len(want) and
                       all(np.array_equal(a, b) for a, b in zip(m.get_weights(), want))
                       for m in (model, from_json))
            line = f"{name}: weights {'equal' if same else 'DIFFER'}"
            failed |= not same
            # Compiled with what rill trained with: SGD at 0.5, and the source's loss.
            source_loss = compiled_loss(source) or "mse"  # rill train's default
            compiled = (model.optimizer.__class__.__name__ == "SGD" and
                        abs(float(model.optimizer.learning_rate) - 0.5) < 1e-7 and
                        model.loss == source_loss)
            line += f", compiled {'as trained' if compiled else 'OTHERWISE'}"
            failed |= not compiled
            if runs_on_cpu:
                out = os.path.join(tmp, f"{name}_out.npy")
                rill(binary, "predict", "--model", archive, "--input", x, "--output", out)
                ours = np.load(out)
                diff = max(float(np.abs(m.predict(np.load(x), verbose=0) - ours).max())
                           for m in (model, from_json)) / float(np.abs(ours).max())
                line += f", predictions within {diff:.2g}"
                failed |= diff > 1e-5
                # Keras 3 reads the archive too (it has no CuDNNGRU), with its weights.
                with warnings.catch_warnings():
                    # It skips the optimizer's state: tf-keras's layout has no learning rate.
                    warnings.simplefilter("ignore")
                    model3 = keras3.models.load_model(archive)
                diff3 = float(np.abs(model3.predict(np.load(x), verbose=0) - ours).max()
                              / np.abs(ours).max())
                line += f", Keras 3's within {diff3:.2g}"
                failed |= diff3 > 1e-5
            print(line)
        archive = os.path.join(GOLDEN, "keras_archive")
        failed |= not check_training_goes_on(
            binary, tmp, os.path.join(archive, "model_adam.keras"),
            os.path.join(archive, "x.npy"), os.path.join(archive, "y_fit.npy"), 2,
            ["--metrics", "mae"])
        # Compiled with Adam(PiecewiseConstantDecay([2, 5], [0.02, 0.01, 0.005])): the rate
        # changes within the second 4 steps.
        optimizer = os.path.join(GOLDEN, "keras_optimizer")
        failed |= not check_training_goes_on(
            binary, tmp, os.path.join(optimizer, "adam_piecewise.keras"),
            os.path.join(optimizer, "x.npy"), os.path.join(optimizer, "y.npy"), 4, [],
            steps_before=4)
        # SGD(CosineDecayRestarts(0.1, 2, t_mul=2.0, m_mul=0.8, alpha=0.1)): rill's steps 4 to
        # 7 restart at 6, Keras's 8 to 11 decay within the period [6, 14).
        failed |= not check_training_goes_on(
            binary, tmp, os.path.join(optimizer, "sgd_cosine_restarts.keras"),
            os.path.join(optimizer, "x.npy"), os.path.join(optimizer, "y.npy"), 4, [],
            steps_before=4)
        # Keras 3's Adam(0.01, beta_1=0.8, amsgrad=True): rill's archive keeps the state in
        # Keras 3's layout (the learning rate second), which Keras 3's load_model restores.
        failed |= not check_training_goes_on(
            binary, tmp, os.path.join(optimizer, "keras3_adam.keras"),
            os.path.join(optimizer, "x.npy"), os.path.join(optimizer, "y.npy"), 4, [],
            steps_before=4, k=keras3)
        # A legacy Adam(0.01, amsgrad=True, decay=0.05) saved as HDF5: rill's archive holds
        # Keras's Adam with InverseTimeDecay(0.01, 1, 0.05), the same rates.
        failed |= not check_training_goes_on(
            binary, tmp, os.path.join(optimizer, "legacy_adam_decay.h5"),
            os.path.join(optimizer, "x.npy"), os.path.join(optimizer, "y.npy"), 4, [],
            steps_before=4)
    sys.exit(1 if failed else 0)


def check_training_goes_on(binary, tmp, model_path, x, y, batch_size, metrics_flag,
                           steps_before=0, k=keras):
    """rill trains the Keras model at model_path for 4 steps (2 epochs) and saves it; Keras's
    load_model, then fit for 4 more, must end where rill training on from the saved archive
    ends: the archive holds the optimizer's state (and its learning-rate schedule, if any).
    steps_before: the steps the model at model_path was trained in Keras; k: the Keras that
    loads rill's archive (Keras 3 for a model Keras 3 saved)."""
    name = os.path.splitext(os.path.basename(model_path))[0]
    data = ["--x", x, "--y", y, "--epochs", "2", "--batch-size", str(batch_size),
            "--shuffle=false", "--verbose", "0"]
    archive = os.path.join(tmp, f"{name}_trained.keras")
    rill(binary, "train", "--model", model_path, *data, *metrics_flag, "--save-model", archive)
    npy = os.path.join(tmp, f"{name}_on")
    rill(binary, "train", "--model", archive, *data, "--save-weights", npy)
    want = [np.load(os.path.join(npy, f"{i}.npy")) for i in range(len(os.listdir(npy)))]
    model = k.models.load_model(archive)
    steps = int(np.asarray(model.optimizer.iterations))
    # Compiled with the metrics rill trained with too (evaluate does not train).
    metrics = sorted(model.evaluate(np.load(x), np.load(y), verbose=0, return_dict=True))
    model.fit(np.load(x), np.load(y), epochs=2, batch_size=batch_size, shuffle=False, verbose=0)
    got = model.get_weights()
    diff = max(float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
               for a, b in zip(got, want)) if len(got) == len(want) else np.inf
    want_metrics = ["loss"] + [m for m in metrics_flag[1:]]
    ok = steps == steps_before + 4 and diff < 1e-5 and metrics == want_metrics
    print(f"{name}_trained: Keras continues from step {steps} with metrics {metrics}, its weights "
          f"after 4 more steps within {diff:.2g} of rill's")
    return ok


if __name__ == "__main__":
    main()
