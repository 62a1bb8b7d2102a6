#!/usr/bin/env python3
"""Keras-produced golden data for masked recurrent models (docs/user-guide.md, "Masks and
sequence lengths"): tf-keras GRU(reset_after=True) after a Masking layer or an
Embedding(mask_zero=True), on right-padded ragged batches: the model JSON, its weights, the
predictions, and the weights after a few SGD steps. rill reads the JSON (GRU) and also builds
the CuDNNGRU twin of each model; both must match (tests/frontend/keras_masking_test.cc).

Every Keras prediction is cross-checked against a float64 NumPy implementation of the masked
GRU written here from the formula in docs/gru.md (masked steps keep the state; an output at a
masked step repeats the last one, or is zero with zero_output_for_mask, which Keras's
Bidirectional sets), so the goldens do not rest on Keras alone.

Cases (batch 5, T 6, float32; padded steps are all zeros, lengths 6, 3, 1, 0, 4):
  masking_gru            Input(6, 3) -> Masking(0) -> GRU(4) -> Dense(2)
  masking_gru_backwards  the same with GRU(4, go_backwards=True)
  masking_bidir          Input(6, 3) -> Masking(0) -> Bidirectional(GRU(4, return_sequences))
                         -> GRU(3) -> Dense(2)
  embedding_mask_zero    Input(6) ids -> Embedding(10, 4, mask_zero) -> GRU(5) -> Dense(2);
                         ids right-padded with 0 (lengths 6, 3, 1, 0, 4; no 0 before them)
  open_time              masking_bidir with its time axis left open, Input((None, 3)), as
                         Keras writes it ("batch_input_shape": [null, null, 3]), predicted at
                         two lengths: x.npy/y.npy at T 6 (lengths as above) and x9.npy/y9.npy
                         at T 9 (lengths 9, 3, 1, 0, 7); no training files
  zero_output            Input(6, 3) -> Masking(0) -> GRU(4, return_sequences,
                         zero_output_for_mask) -> Dense(2): zeros, not the last output, at
                         padded steps (then Dense's bias); no training files
  initial_state          [x, h0 (5, 4)] -> Masking(0) -> GRU(4)(initial_state=h0) -> Dense(2):
                         the sample of length 0 outputs zeros, not h0 (Keras's last output
                         starts at zeros), and gives h0 no gradient through it; x.npy,
                         h0.npy, y.npy, and the training files
  stateful               Input(batch (5, 6, 3)) -> Masking(0) -> GRU(4, stateful) -> Dense(2),
                         predicting x1.npy (lengths as above), then x2.npy (lengths 2, 0, 6,
                         0, 3) with the state carried: y1.npy, y2.npy; a sample all padding in
                         the second chunk outputs zeros though its state is carried on; no
                         training files
  tagger_mse             Input(6) ids -> Embedding(10, 4, mask_zero) -> GRU(5,
                         return_sequences) -> Dense(2): a masked output, trained with loss mse
                         and metric mae, whose padded steps count for neither
  tagger_sparse          Input(6, 3) -> Masking(0) -> Bidirectional(GRU(4, return_sequences))
                         -> Dense(3, softmax): loss sparse_categorical_crossentropy and metric
                         accuracy on int32 labels [5, 6]

Writes tests/golden/keras_masking/<case>/:
  model.json          model.to_json()
  weights/N.npy       model.get_weights() (random uniform(-0.5, 0.5)), Keras GRU layout
  x.npy, y.npy        the padded batch (float32, or int32 ids) and Keras's prediction
  y_train.npy         regression targets
  final_weights/N.npy the weights after Keras's fit(x, y_train, batch_size=5, epochs=3,
                      shuffle=False) with loss mse and SGD(learning_rate=0.1): three steps

The tagger cases also write (their y_train.npy is per step: [5, 6, 2] floats, or labels):
  history.npy         the fit's loss per epoch, then its metric per epoch (float64 [2, 3])
  evaluate.npy        evaluate(x, y_train, batch_size=2) after the fit: [loss, metric]
Keras's masked loss there is the per-step losses' sum over the unmasked steps divided by their
count; the script checks Keras's evaluate against that, computed from Keras's predictions.

Regenerate from the repository root (writes only tests/golden/keras_masking/; name cases to
make only those):
  python3 scripts/golden/keras_masking.py [CASE...]
Made with tensorflow-cpu 2.21.0, tf-keras 2.21.0, numpy 2.x.
"""
import os
import shutil
import sys

import numpy as np

from tf_keras_env import ROOT, keras, tf  # noqa: E402  (first: sets TensorFlow's environment)

OUT = os.path.join(ROOT, "tests", "golden", "keras_masking")
L = keras.layers
B, T, D = 5, 6, 3
LENGTHS = [6, 3, 1, 0, 4]
LR, EPOCHS = 0.1, 3
TOL = 1e-5



def gru(units, **kw):
    return L.GRU(units, reset_after=True, recurrent_activation="sigmoid", activation="tanh", **kw)


# ------------------------------------------------------------------ float64 reference
def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def masked_gru(x, mask, K, Rk, bias, go_backwards=False, return_sequences=False,
               zero_output_for_mask=False, h0=None, return_state=False):
    """Keras GRU(reset_after=True) on x [B, T, d] with mask [B, T] (bool), float64, from the
    state h0 (zeros by default). Its output without return_sequences is its last output, which
    starts at zeros, not at h0: a sample that is all padding outputs zeros, its state stays h0.
    With return_state, (output, state)."""
    x, K, Rk, bias = (np.asarray(a, np.float64) for a in (x, K, Rk, bias))
    u = Rk.shape[0]
    steps = list(range(x.shape[1]))
    if go_backwards:
        steps.reverse()
    h = np.zeros((x.shape[0], u)) if h0 is None else np.asarray(h0, np.float64)
    out = np.zeros((x.shape[0], u))
    ys = []
    for t in steps:
        xp = x[:, t] @ K + bias[0]
        hp = h @ Rk + bias[1]
        z = sigmoid(xp[:, :u] + hp[:, :u])
        r = sigmoid(xp[:, u:2 * u] + hp[:, u:2 * u])
        n = np.tanh(xp[:, 2 * u:] + r * hp[:, 2 * u:])
        h_new = z * h + (1 - z) * n
        m = mask[:, t][:, None]
        h = np.where(m, h_new, h)
        out = np.where(m, h_new, 0.0 if zero_output_for_mask else out)
        ys.append(out)
    result = np.stack(ys, axis=1) if return_sequences else out
    return (result, h) if return_state else result


def dense(v, W, b):
    return np.asarray(v, np.float64) @ W + b


def reference(name, x, ws):
    if name == "embedding_mask_zero":
        mask = x != 0
        h = masked_gru(ws[0][x], mask, *ws[1:4])
        return dense(h, *ws[4:6])
    mask = np.any(x != 0, axis=-1)
    xm = x * mask[..., None]
    if name == "masking_bidir":
        f = masked_gru(xm, mask, *ws[0:3], return_sequences=True, zero_output_for_mask=True)
        bw = masked_gru(xm, mask, *ws[3:6], go_backwards=True, return_sequences=True,
                        zero_output_for_mask=True)
        seq = np.concatenate([f, bw[:, ::-1]], axis=-1)
        return dense(masked_gru(seq, mask, *ws[6:9]), *ws[9:11])
    h = masked_gru(xm, mask, *ws[0:3], go_backwards=name == "masking_gru_backwards")
    return dense(h, *ws[3:5])


# ------------------------------------------------------------------ models and data
def build(name, time=T):
    if name == "embedding_mask_zero":
        ids = keras.Input((time,), dtype="int32", name="ids")
        h = L.Embedding(10, 4, mask_zero=True, name="embedding")(ids)
        h = gru(5, name="gru")(h)
        return keras.Model(ids, L.Dense(2, name="dense")(h), name=name)
    x = keras.Input((time, D), name="x")
    h = L.Masking(0.0, name="masking")(x)
    if name == "masking_bidir":
        h = L.Bidirectional(gru(4, return_sequences=True, name="gru"), name="bidirectional")(h)
        h = gru(3, name="gru_2")(h)
    else:
        h = gru(4, go_backwards=name == "masking_gru_backwards", name="gru")(h)
    return keras.Model(x, L.Dense(2, name="dense")(h), name=name)


def padded_batch(name, rng, time=T, lengths=LENGTHS):
    steps = np.arange(time)[None, :] < np.asarray(lengths)[:, None]
    if name == "embedding_mask_zero":
        return np.where(steps, rng.integers(1, 10, size=(B, time)), 0).astype(np.int32)
    x = rng.uniform(-1, 1, size=(B, time, D))
    return np.where(steps[..., None], x, 0.0).astype(np.float32)


def save_npy(path, a):
    np.save(path, np.ascontiguousarray(a), allow_pickle=False)


def save_list(path, arrays):
    os.makedirs(path, exist_ok=True)
    for i, a in enumerate(arrays):
        save_npy(os.path.join(path, f"{i}.npy"), a)


def make_case(name, seed):
    out = os.path.join(OUT, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    rng = np.random.default_rng(seed)
    keras.backend.clear_session()
    m = build(name)
    ws = [rng.uniform(-0.5, 0.5, size=w.shape).astype(np.float32) for w in m.get_weights()]
    m.set_weights(ws)
    x = padded_batch(name, rng)
    y_train = rng.uniform(-1, 1, size=(B, 2)).astype(np.float32)
    y = m.predict(x, verbose=0)
    err = float(np.max(np.abs(y - reference(name, x, ws))))
    if err > TOL:
        raise SystemExit(f"{name}: Keras and the float64 reference differ by {err}")
    with open(os.path.join(out, "model.json"), "w") as f:
        f.write(m.to_json())
    save_list(os.path.join(out, "weights"), ws)
    save_npy(os.path.join(out, "x.npy"), x)
    save_npy(os.path.join(out, "y.npy"), y)
    save_npy(os.path.join(out, "y_train.npy"), y_train)
    m.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=LR))
    m.fit(x, y_train, batch_size=B, epochs=EPOCHS, shuffle=False, verbose=0)
    save_list(os.path.join(out, "final_weights"), m.get_weights())
    print(f"{name}: Keras vs float64 reference {err:.2e}")


def start_case(name, seed, model):
    """A fresh tests/golden/keras_masking/<name>/ holding `model`'s JSON and its new weights
    (uniform(-0.5, 0.5) from the generator seeded with `seed`): (the folder, the generator,
    the weights)."""
    out = os.path.join(OUT, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    rng = np.random.default_rng(seed)
    ws = [rng.uniform(-0.5, 0.5, size=w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(ws)
    with open(os.path.join(out, "model.json"), "w") as f:
        f.write(model.to_json())
    save_list(os.path.join(out, "weights"), ws)
    return out, rng, ws


def make_prediction_case(name, seed, model, reference_of, batches):
    """`model` (built by Keras) predicted on each (time, lengths, file suffix) of `batches`,
    each prediction checked against `reference_of(x, weights)`; no training files."""
    out, rng, ws = start_case(name, seed, model)
    for time, lengths, suffix in batches:
        x = padded_batch(name, rng, time, lengths)
        y = model.predict(x, verbose=0)
        err = float(np.max(np.abs(y - reference_of(x, ws))))
        if err > TOL:
            raise SystemExit(f"{name} T={time}: Keras and the float64 reference differ by {err}")
        save_npy(os.path.join(out, f"x{suffix}.npy"), x)
        save_npy(os.path.join(out, f"y{suffix}.npy"), y)
        print(f"{name} T={time}: Keras vs float64 reference {err:.2e}")


def make_open_time_case(name, seed):
    """masking_bidir built with a None time axis, predicted at two lengths."""
    keras.backend.clear_session()
    make_prediction_case(name, seed, build("masking_bidir", time=None),
                         lambda x, ws: reference("masking_bidir", x, ws),
                         [(T, LENGTHS, ""), (9, [9, 3, 1, 0, 7], "9")])


def make_zero_output_case(name, seed):
    """Masking -> GRU(4, return_sequences, zero_output_for_mask) -> Dense(2) per step."""
    keras.backend.clear_session()
    x = keras.Input((T, D), name="x")
    h = L.Masking(0.0, name="masking")(x)
    h = gru(4, return_sequences=True, zero_output_for_mask=True, name="gru")(h)
    model = keras.Model(x, L.Dense(2, name="dense")(h), name=name)

    def reference_of(x, ws):
        mask = np.any(x != 0, axis=-1)
        seq = masked_gru(x * mask[..., None], mask, *ws[0:3], return_sequences=True,
                         zero_output_for_mask=True)
        return dense(seq, *ws[3:5])

    make_prediction_case(name, seed, model, reference_of, [(T, LENGTHS, "")])


def make_initial_state_case(name, seed):
    """[x, h0] -> Masking -> GRU(4)(initial_state=h0) -> Dense(2), predicted: the sample of
    length 0 outputs zeros (then Dense's bias), not h0."""
    keras.backend.clear_session()
    x_in, h0_in = keras.Input((T, D), name="x"), keras.Input((4,), name="h0")
    h = L.Masking(0.0, name="masking")(x_in)
    h = gru(4, name="gru")(h, initial_state=h0_in)
    model = keras.Model([x_in, h0_in], L.Dense(2, name="dense")(h), name=name)
    out, rng, ws = start_case(name, seed, model)
    x = padded_batch(name, rng)
    h0 = rng.uniform(-1, 1, size=(B, 4)).astype(np.float32)
    y = model.predict([x, h0], verbose=0)
    mask = np.any(x != 0, axis=-1)
    want = dense(masked_gru(x, mask, *ws[0:3], h0=h0), *ws[3:5])
    err = float(np.max(np.abs(y - want)))
    if err > TOL:
        raise SystemExit(f"{name}: Keras and the float64 reference differ by {err}")
    save_npy(os.path.join(out, "x.npy"), x)
    save_npy(os.path.join(out, "h0.npy"), h0)
    save_npy(os.path.join(out, "y.npy"), y)
    y_train = rng.uniform(-1, 1, size=(B, 2)).astype(np.float32)
    save_npy(os.path.join(out, "y_train.npy"), y_train)
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=LR))
    model.fit([x, h0], y_train, batch_size=B, epochs=EPOCHS, shuffle=False, verbose=0)
    save_list(os.path.join(out, "final_weights"), model.get_weights())
    print(f"{name}: Keras vs float64 reference {err:.2e}")


def make_stateful_case(name, seed):
    """Input(batch (5, 6, 3)) -> Masking -> GRU(4, stateful) -> Dense(2), predicting two
    chunks in turn: a sample that is all padding in the second chunk outputs zeros while its
    state goes on to the next chunk."""
    keras.backend.clear_session()
    x_in = keras.Input(batch_shape=(B, T, D), name="x")
    h = L.Masking(0.0, name="masking")(x_in)
    h = gru(4, stateful=True, name="gru")(h)
    model = keras.Model(x_in, L.Dense(2, name="dense")(h), name=name)
    out, rng, ws = start_case(name, seed, model)
    state = None
    for chunk, lengths in ((1, LENGTHS), (2, [2, 0, 6, 0, 3])):
        x = padded_batch(name, rng, T, lengths)
        y = model.predict(x, batch_size=B, verbose=0)
        mask = np.any(x != 0, axis=-1)
        last, state = masked_gru(x, mask, *ws[0:3], h0=state, return_state=True)
        err = float(np.max(np.abs(y - dense(last, *ws[3:5]))))
        if err > TOL:
            raise SystemExit(f"{name} chunk {chunk}: Keras and the float64 reference differ by "
                             f"{err}")
        save_npy(os.path.join(out, f"x{chunk}.npy"), x)
        save_npy(os.path.join(out, f"y{chunk}.npy"), y)
        print(f"{name} chunk {chunk}: Keras vs float64 reference {err:.2e}")


def make_tagger_case(name, seed):
    """A per-step output that carries its input's mask: Keras's loss and metric count only the
    unmasked steps (each batch's loss is its mean over them)."""
    keras.backend.clear_session()
    if name == "tagger_mse":
        ids = keras.Input((T,), dtype="int32", name="ids")
        h = L.Embedding(10, 4, mask_zero=True, name="embedding")(ids)
        h = gru(5, return_sequences=True, name="gru")(h)
        model = keras.Model(ids, L.Dense(2, name="dense")(h), name=name)
        loss, metric = "mse", "mae"
    else:
        x_in = keras.Input((T, D), name="x")
        h = L.Masking(0.0, name="masking")(x_in)
        h = L.Bidirectional(gru(4, return_sequences=True, name="gru"), name="bidirectional")(h)
        model = keras.Model(x_in, L.Dense(3, activation="softmax", name="dense")(h), name=name)
        loss, metric = "sparse_categorical_crossentropy", "accuracy"
    out, rng, ws = start_case(name, seed, model)
    x = padded_batch("embedding_mask_zero" if name == "tagger_mse" else name, rng)
    mask = x != 0 if name == "tagger_mse" else np.any(x != 0, axis=-1)
    if name == "tagger_mse":
        seq = masked_gru(ws[0][x], mask, *ws[1:4], return_sequences=True)
        want = dense(seq, *ws[4:6])
        y_train = rng.uniform(-1, 1, size=(B, T, 2)).astype(np.float32)
    else:
        xm = x * mask[..., None]
        f = masked_gru(xm, mask, *ws[0:3], return_sequences=True, zero_output_for_mask=True)
        bw = masked_gru(xm, mask, *ws[3:6], go_backwards=True, return_sequences=True,
                        zero_output_for_mask=True)
        logits = dense(np.concatenate([f, bw[:, ::-1]], axis=-1), *ws[6:8])
        want = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        y_train = rng.integers(0, 3, size=(B, T)).astype(np.int32)
    y = model.predict(x, verbose=0)
    # Only the unmasked steps: the padded ones are not part of the contract.
    err = float(np.max(np.abs(y - want)[mask]))
    if err > TOL:
        raise SystemExit(f"{name}: Keras and the float64 reference differ by {err}")
    model.compile(loss=loss, metrics=[metric], optimizer=keras.optimizers.SGD(learning_rate=LR))
    got = model.evaluate(x, y_train, batch_size=B, verbose=0)[0]
    if name == "tagger_mse":
        per_step = ((y.astype(np.float64) - y_train) ** 2).mean(-1)
    else:
        per_step = -np.log(np.take_along_axis(y.astype(np.float64), y_train[..., None], -1)[..., 0])
    masked_mean = float((per_step * mask).sum() / mask.sum())
    if abs(got - masked_mean) > TOL * max(1.0, abs(masked_mean)):
        raise SystemExit(f"{name}: Keras's loss {got} is not the masked mean {masked_mean}")
    history = model.fit(x, y_train, batch_size=B, epochs=EPOCHS, shuffle=False, verbose=0)
    save_npy(os.path.join(out, "x.npy"), x)
    save_npy(os.path.join(out, "y.npy"), y)
    save_npy(os.path.join(out, "y_train.npy"), y_train)
    save_list(os.path.join(out, "final_weights"), model.get_weights())
    save_npy(os.path.join(out, "history.npy"),
             np.array([history.history["loss"], history.history[metric]], np.float64))
    save_npy(os.path.join(out, "evaluate.npy"),
             np.array(model.evaluate(x, y_train, batch_size=2, verbose=0), np.float64))
    print(f"{name}: Keras vs float64 reference {err:.2e}; loss {got:.6f} = masked mean "
          f"{masked_mean:.6f}")


CASES = ["masking_gru", "masking_gru_backwards", "masking_bidir", "embedding_mask_zero",
         "open_time", "zero_output", "initial_state", "stateful", "tagger_mse", "tagger_sparse"]


def main():
    print(f"tensorflow {tf.__version__}, tf-keras {keras.__version__}, numpy {np.__version__}")
    wanted = sys.argv[1:] or CASES
    for name in wanted:
        if name not in CASES:
            raise SystemExit(f"unknown case {name}; the cases: {' '.join(CASES)}")
    for seed, name in enumerate(CASES):
        if name not in wanted:
            continue
        if name == "open_time":
            make_open_time_case(name, 1000 + seed)
        elif name == "zero_output":
            make_zero_output_case(name, 1000 + seed)
        elif name == "initial_state":
            make_initial_state_case(name, 1000 + seed)
        elif name == "stateful":
            make_stateful_case(name, 1000 + seed)
        elif name.startswith("tagger"):
            make_tagger_case(name, 1000 + seed)
        else:
            make_case(name, 1000 + seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
