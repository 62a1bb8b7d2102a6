#!/usr/bin/env python3
"""Checks that Keras reads the files rill writes: trains three golden Keras models one SGD epoch
with `rill train --save-model M.keras --save-weights W.weights.h5`, then loads M.keras with
tf-keras's keras.models.load_model and W.weights.h5 with load_weights into that model (its weights zeroed first),
and compares their weights with rill's, the loss and optimizer M.keras is compiled with
with those rill trained with, and, for the models tf-keras runs on the CPU, their
predictions with `rill predict`'s (float32: within 1e-5 of the largest output).

Not a golden (it writes nothing under tests/): a check of rill's writers against Keras, run
from the repository root after building:
  python3 scripts/golden/keras_loads_rill.py [build/tools/rill]
Prints one line per model and exits 1 when any differs. Checked with tensorflow-cpu 2.21.0,
tf-keras 2.21.0.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

from tf_keras_env import ROOT, CuDNNGRU, keras  # noqa: E402  (first: sets TensorFlow's environment)

GOLDEN = os.path.join(ROOT, "tests", "golden")
# golden archive, input, whether tf-keras can run it on the CPU (CuDNNGRU needs a GPU there).
# keras3/ids.keras (Embedding(mask_zero=True) -> GRU -> Dense) was saved by Keras 3: rill
# writes it in tf-keras's form.
CASES = [("keras_archive/model.keras", "keras_archive/x.npy", True),
         ("keras_archive/cudnn.keras", "keras_archive/x.npy", False),
         ("keras3/ids.keras", "keras3/ids_x.npy", True)]


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
            # Compiled with what rill trained with: SGD at 0.5, and mse.
            compiled = (model.optimizer.__class__.__name__ == "SGD" and
                        abs(float(model.optimizer.learning_rate) - 0.5) < 1e-7 and
                        model.loss == "mse")
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
            print(line)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
