#!/usr/bin/env python3
"""Keras's predictions for models that rill built in C++ and saved with rill::SaveModel.

Keras (tf-keras, the Keras 2 API, on tensorflow-cpu) is the oracle. For each case in
tests/golden/saved_model/<case>/ it reads what SaveModel wrote, model/model.json and
model/weights/N.npy, exactly as a Keras user would:

  model = tf_keras.models.model_from_json(text, custom_objects={"CuDNNGRU": CuDNNGRU})
  model.set_weights([np.load(f"weights/{i}.npy") for i in ...])

CuDNNGRU cannot run on a CPU, so the model is then run as Keras itself runs such weights
without a GPU: every CuDNNGRU (also inside Bidirectional) becomes GRU(reset_after=True,
recurrent_activation='sigmoid'), and Keras's own HDF5 loader converts the weights
(save_weights from the CuDNNGRU model, load_weights into the GRU one; docs/gru.md). The
inputs x<i>.npy give y_keras.npy, which rill's prediction must match within 1e-5
(tests/frontend/saved_model_test.cc). y_rill.npy is rill's own prediction, only to print
the difference here.

Cases (built in tests/frontend/saved_model_test.cc, weights 0.5·sin(0.7k + 1.3i)):
  gru_stack       Functional, inputs x [None, 6, 3] and h0 [None, 8]: CuDNNGRU(8,
                  return_sequences) from initial_state h0 -> TimeDistributed(Dense(5)) ->
                  Bidirectional(GRU(4)) -> Dense(3, softmax)
  embedding_gru   Sequential on int32 ids [None, 6]: Embedding(10, 4) -> CuDNNGRU(5) ->
                  Dense(1, sigmoid)

Regenerate (from the repository root; needs a build in build/):
  RILL_UPDATE_SAVED_MODEL_GOLDEN=1 build/tests/frontend/frontend_test \\
      --gtest_filter='*SavedModel*'     # writes model/, x<i>.npy, y_rill.npy (y_keras missing)
  python3 scripts/golden/saved_model.py # writes y_keras.npy; needs tensorflow-cpu, tf-keras
Made with tensorflow-cpu 2.21.0, tf-keras 2.21.0, numpy (see the first line it prints).
"""
import json
import os
import re
import sys
import tempfile

import numpy as np

from tf_keras_env import ROOT, CuDNNGRU, keras, tf  # noqa: E402  (first: sets TensorFlow's environment)

OUT = os.path.join(ROOT, "tests", "golden", "saved_model")
CASES = ["gru_stack", "embedding_gru"]
TOL = 1e-5



def numbered(directory, pattern):
    """Files named <prefix><N>.npy in N order."""
    found = []
    for name in os.listdir(directory):
        m = re.fullmatch(pattern, name)
        if m:
            found.append((int(m.group(1)), name))
    return [os.path.join(directory, name) for _, name in sorted(found)]


def as_gru(entry):
    """A layer entry with every CuDNNGRU (nested ones too) replaced by its GRU twin."""
    if isinstance(entry, dict):
        entry = {k: as_gru(v) for k, v in entry.items()}
        if entry.get("class_name") == "CuDNNGRU":
            entry["class_name"] = "GRU"
            entry["registered_name"] = None
            entry["config"].update(reset_after=True, activation="tanh",
                                   recurrent_activation="sigmoid", use_bias=True)
        return entry
    if isinstance(entry, list):
        return [as_gru(v) for v in entry]
    return entry


def save_npy(path, a):
    np.save(path, np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")), allow_pickle=False)


def run_case(name):
    case = os.path.join(OUT, name)
    with open(os.path.join(case, "model", "model.json")) as f:
        text = f.read()
    keras.backend.clear_session()
    saved = keras.models.model_from_json(text, custom_objects={"CuDNNGRU": CuDNNGRU})
    weights = [np.load(p) for p in numbered(os.path.join(case, "model", "weights"),
                                            r"(\d+)\.npy")]
    assert [w.shape for w in weights] == [w.shape for w in saved.get_weights()], name
    saved.set_weights(weights)
    runnable = keras.models.model_from_json(json.dumps(as_gru(json.loads(text))))
    with tempfile.TemporaryDirectory() as tmp:
        h5 = os.path.join(tmp, "w.h5")
        saved.save_weights(h5)
        runnable.load_weights(h5)  # Keras converts CuDNNGRU weights to GRU(reset_after=True)
    xs = [np.load(p) for p in numbered(case, r"x(\d+)\.npy")]
    y = runnable.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    save_npy(os.path.join(case, "y_keras.npy"), y)
    rill = np.load(os.path.join(case, "y_rill.npy"))
    diff = float(np.max(np.abs(y.astype(np.float64) - rill.astype(np.float64))))
    print(f"{name}: output {y.shape}, max |tf-keras - rill| = {diff:.3g}")
    assert diff < TOL, f"{name}: tf-keras and rill disagree by {diff}"


def main():
    print(f"tensorflow {tf.__version__}, tf-keras {keras.__version__}, numpy {np.__version__}")
    for name in CASES:
        run_case(name)
    print("wrote y_keras.npy for", ", ".join(CASES))


if __name__ == "__main__":
    sys.exit(main())
