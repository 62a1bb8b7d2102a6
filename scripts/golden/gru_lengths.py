"""Golden data for the cudnn_gru op with per-sample sequence lengths (docs/gru.md, "Sequence
lengths"), from tf-keras itself.

The oracle is tf-keras's GRU(reset_after=True) after a Masking layer, in float64 on the CPU,
on right-padded batches: sample b has lengths[b] valid steps, the rest of its time steps are
padding. Keras sees the padding as zeros (Masking(0.0) masks them); the x written for rill
holds random values there instead, which rill must ignore (the oracle's dx there is 0).

Writes tests/golden/gru_lengths/<case>/*.npy (float64, lengths int32) and cases.txt (name,
time_major, go_backwards, zero_output_for_mask):
  inputs   x, h0, kernel, recurrent_kernel, bias (CuDNNGRU layouts), lengths, dy, dh_last
  outputs  y, h_last (y in processed order, as Keras returns it)
  grads    dx, dh0, dkernel, drecurrent_kernel, dbias of loss = sum(y*dy) + sum(h_last*dh_last)
tests/golden/gru_lengths/bidirectional/: Bidirectional(GRU) over a ragged batch (each
direction's weights, states and gradients with suffix _fw / _bw; y [B, T, 2u]); and
tests/golden/gru_lengths/sgd/: the weights after 3 SGD steps (learning rate 0.1) on
loss = mean((y - y_target)^2) + mean((h_last - h_target)^2), from the same initial weights.

CuDNNGRU <-> GRU(reset_after=True) weights (docs/gru.md; what Keras's HDF5 loader does), per
gate g in Keras's order z, r, h (u units, d features):
  cudnn kernel[:, g] = (K_g)^T, a [u, d] matrix, written row-major into the [d, u] block
  cudnn recurrent_kernel[:, g] = (Rk_g)^T
  cudnn bias = [bias[0] | bias[1]] (input biases, then recurrent biases)
The gradients map the same way (the maps are linear). Time-major cases are the batch-major
oracle's arrays transposed (the function does not depend on the layout).

Before writing anything the script checks the oracle against an independent numpy
implementation of docs/gru.md's step with the semantics of docs/gru.md's "Sequence lengths"
(forward outputs to 1e-12), so a change in tf-keras's masking behaviour stops it.

Run from the repository root with the python that has tensorflow-cpu and tf-keras:
  python3 scripts/golden/gru_lengths.py
"""
import os
import shutil
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

keras.backend.set_floatx("float64")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "gru_lengths")


def to_cudnn(K, Rk, bias2, u, d):
    kernel = np.concatenate([K[:, g * u:(g + 1) * u].T.reshape(-1).reshape(d, u) for g in range(3)], axis=1)
    rk = np.concatenate([Rk[:, g * u:(g + 1) * u].T for g in range(3)], axis=1)
    return kernel, rk, np.concatenate([bias2[0], bias2[1]])


def from_cudnn(kernel, rk, bias, u, d):
    K = np.concatenate([kernel[:, g * u:(g + 1) * u].reshape(-1).reshape(u, d).T for g in range(3)], axis=1)
    Rk = np.concatenate([rk[:, g * u:(g + 1) * u].T for g in range(3)], axis=1)
    return K, Rk, bias.reshape(2, 3 * u)


def keras_gru(d, u, T, go_backwards, zero_output_for_mask=False):
    x_in = keras.Input((T, d), dtype="float64")
    h_in = keras.Input((u,), dtype="float64")
    masked = keras.layers.Masking(0.0)(x_in)
    gru = keras.layers.GRU(u, reset_after=True, return_sequences=True, return_state=True,
                           go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask)
    y, h = gru(masked, initial_state=h_in)
    return keras.Model([x_in, h_in], [y, h]), gru


def padded(x, lengths):
    x = x.copy()
    for b, n in enumerate(lengths):
        x[b, n:] = 0.0
    return x


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_forward(x, h0, kernel, rk, bias, lengths, go_backwards, zero_output_for_mask=False):
    """docs/gru.md's step and its "Sequence lengths" rules, one sample at a time."""
    B, T, d = x.shape
    u = h0.shape[1]
    A = [kernel[:, g * u:(g + 1) * u].reshape(-1).reshape(u, d) for g in range(3)]
    Rm = [rk[:, g * u:(g + 1) * u] for g in range(3)]
    bW = [bias[g * u:(g + 1) * u] for g in range(3)]
    bR = [bias[(3 + g) * u:(4 + g) * u] for g in range(3)]
    y = np.zeros((B, T, u))
    h_last = np.zeros((B, u))
    for b in range(B):
        n = lengths[b]
        times = list(range(n))[::-1] if go_backwards else list(range(n))
        h = h0[b].copy()
        outs = []
        for t in times:
            xt = x[b, t]
            z = sigmoid(A[0] @ xt + bW[0] + Rm[0] @ h + bR[0])
            r = sigmoid(A[1] @ xt + bW[1] + Rm[1] @ h + bR[1])
            nn = np.tanh(A[2] @ xt + bW[2] + r * (Rm[2] @ h + bR[2]))
            h = z * h + (1 - z) * nn
            outs.append(h)
        h_last[b] = h
        if go_backwards:  # padded steps come first and give zeros
            for s, o in enumerate(outs):
                y[b, T - n + s] = o
        else:  # padded steps repeat the last valid output (zeros when there is none)
            for s in range(T):
                repeat = n > 0 and not zero_output_for_mask
                y[b, s] = outs[s] if s < n else (outs[n - 1] if repeat else 0.0)
    return y, h_last


def random_inputs(rng, B, T, d, u):
    """x, h0 and CuDNNGRU weights (kernel glorot_uniform-like)."""
    lim = np.sqrt(6.0 / (d + 3 * u))
    return (rng.uniform(-1, 1, (B, T, d)), rng.uniform(-1, 1, (B, u)), rng.uniform(-lim, lim, (d, 3 * u)),
            rng.uniform(-0.6, 0.6, (u, 3 * u)), rng.uniform(-0.5, 0.5, 6 * u))


def case(rng, name, B, T, d, u, lengths, go_backwards=False, time_major=False, zero_output_for_mask=False):
    x, h0, kernel, rk, bias = random_inputs(rng, B, T, d, u)
    dy = rng.uniform(-1, 1, (B, T, u))
    dh_last = rng.uniform(-1, 1, (B, u))
    model, gru = keras_gru(d, u, T, go_backwards, zero_output_for_mask)
    gru.set_weights(list(from_cudnn(kernel, rk, bias, u, d)))
    xk = tf.constant(padded(x, lengths))
    hk = tf.constant(h0)
    with tf.GradientTape() as tape:
        tape.watch([xk, hk])
        y, h = model([xk, hk])
        loss = tf.reduce_sum(y * dy) + tf.reduce_sum(h * dh_last)
    dx, dh0, dK, dRk, db = tape.gradient(loss, [xk, hk] + gru.weights)
    dkernel, drk, dbias = to_cudnn(dK.numpy(), dRk.numpy(), db.numpy(), u, d)
    y, h = y.numpy(), h.numpy()
    want_y, want_h = numpy_forward(x, h0, kernel, rk, bias, lengths, go_backwards, zero_output_for_mask)
    err = max(np.max(np.abs(y - want_y)), np.max(np.abs(h - want_h)))
    if err > 1e-12:
        sys.exit(f"{name}: tf-keras and docs/gru.md's sequence-length rules disagree by {err}:\n{y}\n{want_y}")
    arrays = dict(x=x, h0=h0, kernel=kernel, recurrent_kernel=rk, bias=bias, dy=dy, dh_last=dh_last, y=y,
                  h_last=h, dx=dx.numpy(), dh0=dh0.numpy(), dkernel=dkernel, drecurrent_kernel=drk, dbias=dbias)
    if time_major:
        for k in ("x", "dy", "y", "dx"):
            arrays[k] = arrays[k].transpose(1, 0, 2)
    folder = os.path.join(OUT, name)
    os.makedirs(folder)
    for k, a in arrays.items():
        np.save(os.path.join(folder, k + ".npy"), np.ascontiguousarray(a, dtype=np.float64))
    np.save(os.path.join(folder, "lengths.npy"), np.asarray(lengths, dtype=np.int32))
    print(f"{name}: B={B} T={T} d={d} u={u} lengths={lengths} go_backwards={go_backwards} "
          f"time_major={time_major} zero_output_for_mask={zero_output_for_mask}: tf-keras == numpy rules")
    return f"{name} {int(time_major)} {int(go_backwards)} {int(zero_output_for_mask)}"


def sgd(rng, steps=3, lr=0.1):
    """Weights after `steps` SGD steps on mean((y - y_target)^2) + mean((h_last - h_target)^2)."""
    B, T, d, u = 4, 5, 3, 5
    lengths = [5, 2, 0, 3]
    x, h0, kernel, rk, bias = random_inputs(rng, B, T, d, u)
    y_target = rng.uniform(-1, 1, (B, T, u))
    h_target = rng.uniform(-1, 1, (B, u))
    model, gru = keras_gru(d, u, T, False)
    gru.set_weights(list(from_cudnn(kernel, rk, bias, u, d)))
    opt = keras.optimizers.SGD(learning_rate=lr)
    xk = tf.constant(padded(x, lengths))
    for _ in range(steps):
        with tf.GradientTape() as tape:
            y, h = model([xk, tf.constant(h0)])
            loss = tf.reduce_mean(tf.square(y - y_target)) + tf.reduce_mean(tf.square(h - h_target))
        grads = tape.gradient(loss, gru.weights)
        opt.apply_gradients(zip(grads, gru.weights))
    k1, r1, b1 = to_cudnn(*[w.numpy() for w in gru.weights], u, d)
    folder = os.path.join(OUT, "sgd")
    os.makedirs(folder)
    arrays = dict(x=x, h0=h0, kernel=kernel, recurrent_kernel=rk, bias=bias, y_target=y_target,
                  h_target=h_target, kernel_after=k1, recurrent_kernel_after=r1, bias_after=b1)
    for k, a in arrays.items():
        np.save(os.path.join(folder, k + ".npy"), np.ascontiguousarray(a, dtype=np.float64))
    np.save(os.path.join(folder, "lengths.npy"), np.asarray(lengths, dtype=np.int32))
    print(f"sgd: {steps} steps, learning rate {lr}, lengths={lengths}")


def bidirectional(rng):
    """Bidirectional(GRU, merge_mode='concat') over a ragged batch: y = [y_fw | y_bw reversed in
    full along time], as Keras's Bidirectional does with the backward layer's y; Keras's
    Bidirectional sets zero_output_for_mask on both layers when they return sequences."""
    B, T, d, u = 4, 5, 3, 4
    lengths = [5, 2, 0, 3]
    x_in = keras.Input((T, d), dtype="float64")
    h_in = [keras.Input((u,), dtype="float64") for _ in range(2)]
    masked = keras.layers.Masking(0.0)(x_in)
    bi = keras.layers.Bidirectional(keras.layers.GRU(u, reset_after=True, return_sequences=True,
                                                     return_state=True))
    model = keras.Model([x_in] + h_in, bi(masked, initial_state=h_in))
    arrays = {}
    x = rng.uniform(-1, 1, (B, T, d))
    for tag, layer in (("fw", bi.forward_layer), ("bw", bi.backward_layer)):
        _, h0, kernel, rk, bias = random_inputs(rng, B, T, d, u)
        layer.set_weights(list(from_cudnn(kernel, rk, bias, u, d)))
        arrays.update({f"h0_{tag}": h0, f"kernel_{tag}": kernel, f"recurrent_kernel_{tag}": rk,
                       f"bias_{tag}": bias, f"dh_last_{tag}": rng.uniform(-1, 1, (B, u))})
    dy = rng.uniform(-1, 1, (B, T, 2 * u))
    xk = tf.constant(padded(x, lengths))
    hk = [tf.constant(arrays["h0_fw"]), tf.constant(arrays["h0_bw"])]
    weights = bi.forward_layer.weights + bi.backward_layer.weights
    with tf.GradientTape() as tape:
        tape.watch([xk] + hk)
        y, h_fw, h_bw = model([xk] + hk)
        loss = (tf.reduce_sum(y * dy) + tf.reduce_sum(h_fw * arrays["dh_last_fw"]) +
                tf.reduce_sum(h_bw * arrays["dh_last_bw"]))
    grads = tape.gradient(loss, [xk] + hk + weights)
    arrays.update(x=x, dy=dy, y=y.numpy(), h_last_fw=h_fw.numpy(), h_last_bw=h_bw.numpy(),
                  dx=grads[0].numpy(), dh0_fw=grads[1].numpy(), dh0_bw=grads[2].numpy())
    for i, tag in enumerate(("fw", "bw")):
        dk, dr, db = to_cudnn(*[g.numpy() for g in grads[3 + 3 * i:6 + 3 * i]], u, d)
        arrays.update({f"dkernel_{tag}": dk, f"drecurrent_kernel_{tag}": dr, f"dbias_{tag}": db})
    # The same from the one-direction rules: the backward layer's y, reversed in full.
    fw = numpy_forward(x, arrays["h0_fw"], arrays["kernel_fw"], arrays["recurrent_kernel_fw"],
                       arrays["bias_fw"], lengths, False, zero_output_for_mask=True)
    bw = numpy_forward(x, arrays["h0_bw"], arrays["kernel_bw"], arrays["recurrent_kernel_bw"],
                       arrays["bias_bw"], lengths, True, zero_output_for_mask=True)
    want = np.concatenate([fw[0], bw[0][:, ::-1]], axis=2)
    err = max(np.max(np.abs(arrays["y"] - want)), np.max(np.abs(arrays["h_last_fw"] - fw[1])),
              np.max(np.abs(arrays["h_last_bw"] - bw[1])))
    if err > 1e-12:
        sys.exit(f"bidirectional: tf-keras and the rules disagree by {err}")
    folder = os.path.join(OUT, "bidirectional")
    os.makedirs(folder)
    for k, a in arrays.items():
        np.save(os.path.join(folder, k + ".npy"), np.ascontiguousarray(a, dtype=np.float64))
    np.save(os.path.join(folder, "lengths.npy"), np.asarray(lengths, dtype=np.int32))
    print(f"bidirectional: B={B} T={T} d={d} u={u} lengths={lengths}: tf-keras == numpy rules")


def main():
    rng = np.random.default_rng(20261204)
    if os.path.isdir(OUT):  # the case folders; README.md stays
        for entry in os.listdir(OUT):
            if os.path.isdir(os.path.join(OUT, entry)):
                shutil.rmtree(os.path.join(OUT, entry))
    os.makedirs(OUT, exist_ok=True)
    lines = ["# name time_major go_backwards zero_output_for_mask (written by scripts/golden/gru_lengths.py)"]
    lines.append(case(rng, "ragged", 5, 6, 4, 6, [3, 0, 6, 1, 4]))
    lines.append(case(rng, "ragged_backwards", 5, 6, 4, 6, [3, 0, 6, 1, 4], go_backwards=True))
    lines.append(case(rng, "ragged_time_major", 4, 5, 3, 9, [5, 2, 0, 3], time_major=True))
    lines.append(case(rng, "ragged_time_major_backwards", 4, 5, 3, 9, [5, 2, 0, 3], go_backwards=True,
                      time_major=True))
    lines.append(case(rng, "ragged_wide", 3, 4, 10, 17, [4, 1, 2]))
    lines.append(case(rng, "ragged_single", 1, 5, 3, 4, [3], go_backwards=True))
    lines.append(case(rng, "all_empty", 2, 3, 2, 3, [0, 0]))
    lines.append(case(rng, "ragged_zero_output", 5, 6, 4, 6, [3, 0, 6, 1, 4], zero_output_for_mask=True))
    lines.append(case(rng, "ragged_zero_output_time_major", 4, 5, 3, 9, [5, 2, 0, 3], time_major=True,
                      zero_output_for_mask=True))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    sgd(rng)
    bidirectional(rng)


if __name__ == "__main__":
    main()
