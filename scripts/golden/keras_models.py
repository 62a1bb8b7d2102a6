#!/usr/bin/env python3
"""Keras-produced golden data for rill's Keras interop (docs/gru.md and docs/user-guide.md).

Keras (tf-keras, the Keras 2 API, on tensorflow-cpu) is the oracle here. It cannot run
CuDNNGRU on a CPU, but it can build one, write its to_json(), get_weights() and an HDF5
weights file; its own HDF5 loader converts CuDNNGRU weights into GRU(reset_after=True,
recurrent_activation='sigmoid'), which it runs. Every Keras output is cross-checked against
torch.nn.GRU in float64 (weight_ih = [A_r; A_z; A_h], weight_hh = [R_r; R_z; R_h],
docs/gru.md), and Keras's weight conversion is checked to equal docs/gru.md's formula exactly.

Cases (batch 4, T 6, 3 features; float32):
  seq_stack             Sequential: CuDNNGRU(8, return_sequences) -> CuDNNGRU(6) -> Dense(2)
  functional_bidir      Functional: Input -> Bidirectional(CuDNNGRU(4, return_sequences),
                        merge_mode='concat') -> TimeDistributed(Dense(3))
  functional_bidir_sum  the same with merge_mode='sum' and go_backwards=True on the inner layer
  gru_embedding         Sequential: Embedding(10, 4, input_length=6) -> GRU(5, reset_after=True)
                        -> Dense(1, sigmoid); x holds int32 indices
  gru_to_cudnn          Functional: Input -> GRU(6, return_sequences) -> GRU(4, go_backwards)
                        -> Dense(2), converted by Keras into the CuDNNGRU twin (model.json)
  train_sgd             seq_stack trained in Keras: mse, SGD(0.1), batch 4, 2 epochs, no shuffle

Writes tests/golden/keras/<case>/ for each case:
  model.json          Keras's model.to_json() of the model as rill imports it (CuDNNGRU form,
                      except gru_embedding, which is a plain GRU(reset_after=True) model)
  weights/N.npy       model.get_weights(), in order (float32; random uniform(-0.5, 0.5))
  weights.h5          model.save_weights() of the same model (Keras legacy HDF5 format)
  x.npy, y.npy        an input batch and Keras's prediction (from the GRU(reset_after=True)
                      twin that loaded weights.h5; Keras converted the weights)
Case-specific extras:
  gru_to_cudnn        gru_model.json, gru_weights/N.npy, gru_weights.h5: the GRU(reset_after
                      =True) model and its weights; weights/ is what Keras made of them when
                      loading gru_weights.h5 into the CuDNNGRU model of model.json
  train_sgd           y_train.npy, losses.npy (per-epoch loss Keras reported), final_weights/
                      N.npy (trained weights, converted back to CuDNNGRU layout by Keras),
                      y_final.npy (the trained model's prediction on x); see train_sgd()

Regenerate (from the repository root; writes only tests/golden/keras/):
  python3 -m venv /tmp/kenv && /tmp/kenv/bin/pip install tensorflow-cpu tf-keras h5py torch
  /tmp/kenv/bin/python scripts/golden/keras_models.py
Made with tensorflow-cpu 2.21.0, tf-keras 2.21.0, h5py 3.14.0, numpy 2.4.6, torch 2.15.0,
python 3.11. Keras's predictions may differ in the last float32 bits on another machine or
version; the values themselves are the checked part (tolerance 1e-5 against torch float64).
"""
import os
import shutil
import sys
import warnings

import numpy as np
import torch

from tf_keras_env import ROOT, CuDNNGRU, keras, tf  # noqa: E402  (first: sets TensorFlow's environment)

OUT = os.path.join(ROOT, "tests", "golden", "keras")
L = keras.layers
TOL = 1e-5
Z, R, H = 0, 1, 2  # Keras gate blocks

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

REPORT = []
warnings.filterwarnings("ignore", message="CUDA initialization")


# --------------------------------------------------------------------------- conversions
def block(w, g, u):
    return w[..., g * u:(g + 1) * u]


def cudnn_to_gru(kernel, rk, bias):
    """docs/gru.md: CuDNNGRU -> GRU(reset_after=True): K_g = A_g^T, Rk_g = R_g^T, bias -> [2, 3u]."""
    d, u = kernel.shape[0], rk.shape[0]
    K = np.concatenate([np.ascontiguousarray(block(kernel, g, u)).reshape(u, d).T
                        for g in range(3)], axis=1)
    Rk = np.concatenate([block(rk, g, u).T for g in range(3)], axis=1)
    return [np.ascontiguousarray(K), np.ascontiguousarray(Rk), bias.reshape(2, 3 * u).copy()]


def gru_to_cudnn(K, Rk, b):
    """docs/gru.md: GRU(reset_after=True) -> CuDNNGRU: A_g = K_g^T written row-major into the
    [d, u] block, R_g = Rk_g^T, bias [2, 3u] -> [6u]."""
    d, u = K.shape[0], Rk.shape[0]
    kernel = np.concatenate([np.ascontiguousarray(block(K, g, u).T).reshape(d, u)
                             for g in range(3)], axis=1)
    rk = np.concatenate([block(Rk, g, u).T for g in range(3)], axis=1)
    return [np.ascontiguousarray(kernel), np.ascontiguousarray(rk), b.reshape(-1).copy()]


def cudnn_to_torch(kernel, rk, bias):
    """weight_ih = [A_r; A_z; A_h], weight_hh = [R_r; R_z; R_h], biases likewise (float64)."""
    d, u = kernel.shape[0], rk.shape[0]
    A = [np.ascontiguousarray(block(kernel, g, u)).reshape(u, d) for g in range(3)]
    Rm = [block(rk, g, u) for g in range(3)]
    bW = [bias[g * u:(g + 1) * u] for g in range(3)]
    bR = [bias[(3 + g) * u:(4 + g) * u] for g in range(3)]
    order = [R, Z, H]
    cat = lambda xs: np.concatenate([xs[g] for g in order], axis=0).astype(np.float64)
    return cat(A), cat(Rm), cat(bW), cat(bR)


def torch_to_cudnn(w_ih, w_hh, b_ih, b_hh):
    u = w_hh.shape[1]
    d = w_ih.shape[1]
    rows = lambda w, g: w[[R, Z, H].index(g) * u:([R, Z, H].index(g) + 1) * u]
    kernel = np.concatenate([rows(w_ih, g).reshape(d, u) for g in range(3)], axis=1)
    rk = np.concatenate([rows(w_hh, g) for g in range(3)], axis=1)
    bias = np.concatenate([rows(b_ih, g) for g in range(3)] + [rows(b_hh, g) for g in range(3)])
    return [kernel, rk, bias]


# --------------------------------------------------------------------------- torch oracle
class TorchCuDNNGRU:
    """A CuDNNGRU layer in torch float64, parameters held in torch's layout."""

    def __init__(self, kernel, rk, bias, return_sequences=False, go_backwards=False):
        u = rk.shape[0]
        self.gru = torch.nn.GRU(kernel.shape[0], u, batch_first=True)
        w_ih, w_hh, b_ih, b_hh = cudnn_to_torch(kernel, rk, bias)
        with torch.no_grad():
            self.gru.weight_ih_l0.copy_(torch.from_numpy(w_ih))
            self.gru.weight_hh_l0.copy_(torch.from_numpy(w_hh))
            self.gru.bias_ih_l0.copy_(torch.from_numpy(b_ih))
            self.gru.bias_hh_l0.copy_(torch.from_numpy(b_hh))
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards

    def __call__(self, x):
        if self.go_backwards:
            x = torch.flip(x, dims=[1])  # processed reversed, returned in processed order
        y, h = self.gru(x)
        return y if self.return_sequences else h[0]

    def parameters(self):
        return list(self.gru.parameters())

    def cudnn_weights(self):
        g = self.gru
        return [w.astype(np.float32) for w in torch_to_cudnn(
            *(p.detach().numpy() for p in (g.weight_ih_l0, g.weight_hh_l0, g.bias_ih_l0,
                                           g.bias_hh_l0)))]


class TorchDense:
    def __init__(self, W, b, activation=None):
        self.W = torch.tensor(W, dtype=torch.float64, requires_grad=True)
        self.b = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        self.activation = activation

    def __call__(self, x):
        y = x @ self.W + self.b
        return torch.sigmoid(y) if self.activation == "sigmoid" else y

    def parameters(self):
        return [self.W, self.b]


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


# --------------------------------------------------------------------------- helpers
def rng_for(name):
    return np.random.default_rng(abs(hash_str(name)))


def hash_str(s):
    h = 1469598103934665603
    for c in s.encode():
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFF
    return h


def random_weights(model, rng):
    return [rng.uniform(-0.5, 0.5, size=w.shape).astype(np.float32) for w in model.get_weights()]


def case_dir(name):
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def save_npy(path, a):
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    np.save(path, a, allow_pickle=False)


def save_list(path, arrays):
    os.makedirs(path, exist_ok=True)
    for i, a in enumerate(arrays):
        save_npy(os.path.join(path, f"{i}.npy"), a)


def save_json(path, model):
    with open(path, "w") as f:
        f.write(model.to_json())


def keras_convert(src_model, dst_model, tmp_h5):
    """Keras's own conversion: save_weights (HDF5) from one model, load_weights into the other."""
    src_model.save_weights(tmp_h5)
    dst_model.load_weights(tmp_h5)
    return dst_model.get_weights()


def check_conversion(cudnn_ws, gru_ws, rnn_slots):
    """Keras's converted weights must equal docs/gru.md's formula bit for bit (both ways)."""
    for i in range(len(cudnn_ws)):
        if i in rnn_slots:
            ours = cudnn_to_gru(*cudnn_ws[i:i + 3])
            back = gru_to_cudnn(*gru_ws[i:i + 3])
            for a, b in zip(ours, gru_ws[i:i + 3]):
                assert a.shape == b.shape and np.array_equal(a, b), "cudnn->gru mismatch"
            for a, b in zip(back, cudnn_ws[i:i + 3]):
                assert a.shape == b.shape and np.array_equal(a, b), "gru->cudnn mismatch"
    # non-RNN weights pass through unchanged
    covered = {j for i in rnn_slots for j in range(i, i + 3)}
    for i in range(len(cudnn_ws)):
        if i not in covered:
            assert np.array_equal(cudnn_ws[i], gru_ws[i])


def compare(name, keras_y, torch_y):
    diff = float(np.max(np.abs(np.asarray(keras_y, np.float64) - torch_y.detach().numpy())))
    REPORT.append((name, diff))
    print(f"{name}: max |keras - torch float64| = {diff:.3g}")
    assert diff < TOL, f"{name}: Keras and torch disagree by {diff}"


def gru_twin(units, **kw):
    return L.GRU(units, reset_after=True, recurrent_activation="sigmoid", activation="tanh", **kw)


# --------------------------------------------------------------------------- cases
B, T, D = 4, 6, 3


def seq_stack_models(T_, cudnn):
    rnn = (lambda u, **kw: CuDNNGRU(u, **kw)) if cudnn else gru_twin
    pre = "cudnn_gru" if cudnn else "gru"
    return keras.Sequential([
        rnn(8, return_sequences=True, input_shape=(T_, D), name=f"{pre}_1"),
        rnn(6, name=f"{pre}_2"),
        L.Dense(2, name="dense"),
    ], name="seq_stack")


def seq_stack_torch(ws):
    g1 = TorchCuDNNGRU(*ws[0:3], return_sequences=True)
    g2 = TorchCuDNNGRU(*ws[3:6])
    dense = TorchDense(ws[6], ws[7])
    return (lambda x: dense(g2(g1(x)))), g1, g2, dense


def seq_stack():
    name = "seq_stack"
    out, rng = case_dir(name), rng_for(name)
    keras.backend.clear_session()
    m = seq_stack_models(T, cudnn=True)
    ws = random_weights(m, rng)
    m.set_weights(ws)
    x = rng.uniform(-1, 1, size=(B, T, D)).astype(np.float32)
    save_json(os.path.join(out, "model.json"), m)
    save_list(os.path.join(out, "weights"), m.get_weights())
    m.save_weights(os.path.join(out, "weights.h5"))
    g = seq_stack_models(T, cudnn=False)
    g.load_weights(os.path.join(out, "weights.h5"))
    check_conversion(ws, g.get_weights(), rnn_slots=[0, 3])
    y = g.predict(x, verbose=0)
    save_npy(os.path.join(out, "x.npy"), x)
    save_npy(os.path.join(out, "y.npy"), y)
    f = seq_stack_torch(ws)[0]
    compare(name, y, f(t64(x)))


def bidir_models(merge_mode, inner_backwards, cudnn):
    inp = keras.Input((T, D), name="input")
    if cudnn:
        inner = CuDNNGRU(4, return_sequences=True, go_backwards=inner_backwards, name="cudnn_gru")
    else:
        inner = gru_twin(4, return_sequences=True, go_backwards=inner_backwards, name="gru")
    h = L.Bidirectional(inner, merge_mode=merge_mode, name="bidirectional")(inp)
    y = L.TimeDistributed(L.Dense(3, name="dense"), name="time_distributed")(h)
    return keras.Model(inp, y, name="functional_bidir")


def functional_bidir(name, merge_mode, inner_backwards):
    out, rng = case_dir(name), rng_for(name)
    keras.backend.clear_session()
    m = bidir_models(merge_mode, inner_backwards, cudnn=True)
    ws = random_weights(m, rng)
    m.set_weights(ws)
    x = rng.uniform(-1, 1, size=(B, T, D)).astype(np.float32)
    save_json(os.path.join(out, "model.json"), m)
    save_list(os.path.join(out, "weights"), m.get_weights())
    m.save_weights(os.path.join(out, "weights.h5"))
    g = bidir_models(merge_mode, inner_backwards, cudnn=False)
    g.load_weights(os.path.join(out, "weights.h5"))
    check_conversion(ws, g.get_weights(), rnn_slots=[0, 3])
    y = g.predict(x, verbose=0)
    save_npy(os.path.join(out, "x.npy"), x)
    save_npy(os.path.join(out, "y.npy"), y)
    # Keras's Bidirectional: forward = the layer; backward = a copy with go_backwards flipped,
    # whose sequence output is reversed along time before merging.
    fw = TorchCuDNNGRU(*ws[0:3], return_sequences=True, go_backwards=inner_backwards)
    bw = TorchCuDNNGRU(*ws[3:6], return_sequences=True, go_backwards=not inner_backwards)
    dense = TorchDense(ws[6], ws[7])
    xt = t64(x)
    yf, yb = fw(xt), torch.flip(bw(xt), dims=[1])
    merged = torch.cat([yf, yb], dim=-1) if merge_mode == "concat" else yf + yb
    compare(name, y, dense(merged))


def gru_embedding():
    name = "gru_embedding"
    out, rng = case_dir(name), rng_for(name)
    keras.backend.clear_session()
    m = keras.Sequential([
        L.Embedding(10, 4, input_length=T, name="embedding"),
        gru_twin(5, name="gru"),
        L.Dense(1, activation="sigmoid", name="dense"),
    ], name="gru_embedding")
    m.build((None, T))
    ws = random_weights(m, rng)
    m.set_weights(ws)
    x = rng.integers(0, 10, size=(B, T)).astype(np.int32)
    y = m.predict(x, verbose=0)
    save_json(os.path.join(out, "model.json"), m)
    save_list(os.path.join(out, "weights"), m.get_weights())
    m.save_weights(os.path.join(out, "weights.h5"))
    save_npy(os.path.join(out, "x.npy"), x)
    save_npy(os.path.join(out, "y.npy"), y)
    emb = ws[0]
    gru = TorchCuDNNGRU(*gru_to_cudnn(*ws[1:4]))
    dense = TorchDense(ws[4], ws[5], activation="sigmoid")
    compare(name, y, dense(gru(t64(emb[x]))))


def gru_to_cudnn_case():
    name = "gru_to_cudnn"
    out, rng = case_dir(name), rng_for(name)
    keras.backend.clear_session()

    def models(cudnn):
        inp = keras.Input((T, D), name="input")
        if cudnn:
            h = CuDNNGRU(6, return_sequences=True, name="rnn_1")(inp)
            h = CuDNNGRU(4, go_backwards=True, name="rnn_2")(h)
        else:
            h = gru_twin(6, return_sequences=True, name="rnn_1")(inp)
            h = gru_twin(4, go_backwards=True, name="rnn_2")(h)
        return keras.Model(inp, L.Dense(2, name="dense")(h), name="gru_to_cudnn")

    g = models(cudnn=False)
    gws = random_weights(g, rng)
    g.set_weights(gws)
    x = rng.uniform(-1, 1, size=(B, T, D)).astype(np.float32)
    y = g.predict(x, verbose=0)
    save_json(os.path.join(out, "gru_model.json"), g)
    save_list(os.path.join(out, "gru_weights"), g.get_weights())
    g.save_weights(os.path.join(out, "gru_weights.h5"))
    c = models(cudnn=True)
    c.load_weights(os.path.join(out, "gru_weights.h5"))  # Keras converts GRU -> CuDNNGRU
    cws = c.get_weights()
    check_conversion(cws, gws, rnn_slots=[0, 3])
    save_json(os.path.join(out, "model.json"), c)
    save_list(os.path.join(out, "weights"), cws)
    c.save_weights(os.path.join(out, "weights.h5"))
    save_npy(os.path.join(out, "x.npy"), x)
    save_npy(os.path.join(out, "y.npy"), y)
    g1 = TorchCuDNNGRU(*cws[0:3], return_sequences=True)
    g2 = TorchCuDNNGRU(*cws[3:6], go_backwards=True)
    dense = TorchDense(cws[6], cws[7])
    compare(name, y, dense(g2(g1(t64(x)))))


def train_sgd():
    """Case a's model trained in Keras (as GRU(reset_after=True)): loss mse, SGD(lr=0.1),
    batch_size 4, epochs 2, shuffle=False, on 8 samples. losses.npy holds history['loss']
    (per epoch: the mean of that epoch's batch losses). The torch float64 oracle repeats the
    same 4 SGD steps and must reach the same final weights and losses."""
    name = "train_sgd"
    out, rng = case_dir(name), rng_for(name)
    keras.backend.clear_session()
    N, EPOCHS, BS, LR = 8, 2, 4, 0.1
    c = seq_stack_models(T, cudnn=True)
    ws = random_weights(c, rng)
    c.set_weights(ws)
    x = rng.uniform(-1, 1, size=(N, T, D)).astype(np.float32)
    y_train = rng.uniform(-1, 1, size=(N, 2)).astype(np.float32)
    save_json(os.path.join(out, "model.json"), c)
    save_list(os.path.join(out, "weights"), c.get_weights())
    c.save_weights(os.path.join(out, "weights.h5"))
    g = seq_stack_models(T, cudnn=False)
    g.load_weights(os.path.join(out, "weights.h5"))
    check_conversion(ws, g.get_weights(), rnn_slots=[0, 3])
    y0 = g.predict(x, verbose=0)
    g.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=LR))
    hist = g.fit(x, y_train, batch_size=BS, epochs=EPOCHS, shuffle=False, verbose=0)
    losses = np.asarray(hist.history["loss"], dtype=np.float32)
    y_final = g.predict(x, verbose=0)
    final = keras_convert(g, seq_stack_models(T, cudnn=True), os.path.join(out, "_tmp.h5"))
    os.remove(os.path.join(out, "_tmp.h5"))
    check_conversion(final, g.get_weights(), rnn_slots=[0, 3])
    save_npy(os.path.join(out, "x.npy"), x)
    save_npy(os.path.join(out, "y.npy"), y0)
    save_npy(os.path.join(out, "y_train.npy"), y_train)
    save_npy(os.path.join(out, "losses.npy"), losses)
    save_npy(os.path.join(out, "y_final.npy"), y_final)
    save_list(os.path.join(out, "final_weights"), final)

    f, g1, g2, dense = seq_stack_torch(ws)
    compare(name + " (initial y)", y0, f(t64(x)))
    params = g1.parameters() + g2.parameters() + dense.parameters()
    xt, yt = t64(x), t64(y_train)
    torch_losses = []
    for _ in range(EPOCHS):
        batch_losses = []
        for s in range(0, N, BS):
            for p in params:
                p.grad = None
            loss = torch.mean((f(xt[s:s + BS]) - yt[s:s + BS]) ** 2)
            loss.backward()
            with torch.no_grad():  # plain SGD (torch.optim would load a second LLVM next to TF's)
                for p in params:
                    p -= LR * p.grad
            batch_losses.append(loss.item())
        torch_losses.append(np.mean(batch_losses))
    compare(name + " (losses)", losses, torch.tensor(torch_losses))
    tw = g1.cudnn_weights() + g2.cudnn_weights() + [p.detach().numpy() for p in dense.parameters()]
    diff = max(float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
               for a, b in zip(final, tw))
    compare(name + " (final weights)", np.zeros(1), torch.tensor([diff]))
    compare(name + " (final y)", y_final, f(xt))


def main():
    print(f"tensorflow {tf.__version__}, tf-keras {keras.__version__}, numpy {np.__version__}, "
          f"torch {torch.__version__}")
    seq_stack()
    functional_bidir("functional_bidir", "concat", inner_backwards=False)
    functional_bidir("functional_bidir_sum", "sum", inner_backwards=True)
    gru_embedding()
    gru_to_cudnn_case()
    train_sgd()
    total = 0
    for dirpath, _, files in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    print(f"wrote {OUT} ({total} bytes); all cross-checks passed")


if __name__ == "__main__":
    sys.exit(main())
