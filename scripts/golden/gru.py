#!/usr/bin/python3
"""Golden data for the cudnn_gru op (Keras CuDNNGRU semantics, docs/gru.md).

Writes tests/golden/gru/<case>/*.npy (float64) and tests/golden/gru/cases.txt:
  inputs   x, h0, kernel, recurrent_kernel, bias (Keras layouts), dy, dh_last
  outputs  y, h_last
  grads    dx, dh0, dkernel, drecurrent_kernel, dbias of loss = sum(y*dy) + sum(h_last*dh_last)

The oracle is torch.nn.GRU in float64. Per gate g (Keras order z, r, h; u units, d features):
  A_g = kernel[:, g*u:(g+1)*u] flattened row-major and reshaped to [u, d]  (no transpose)
  R_g = recurrent_kernel[:, g*u:(g+1)*u]                                    (as is)
docs/gru.md's step multiplies R_g . h. torch computes W_hh . h (h @ W_hh.T), so W_hh's gate
block is R_g itself, not its transpose; likewise W_ih's block is A_g. torch's gate order is
r, z, n: weight_ih = [A_r; A_z; A_h], weight_hh = [R_r; R_z; R_h], bias_ih = [b_Wr; b_Wz; b_Wh],
bias_hh = [b_Rr; b_Rz; b_Rh]. torch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) and
h' = (1 - z) * n + z * h are docs/gru.md's formulas.

Every case is also recomputed by an independent numpy implementation of docs/gru.md's formulas
(forward and a hand-derived backward), and the tiny cases against values worked out by hand
below; the script fails unless all agree to 1e-12.

Run from the repository root with Debian's python (torch 1.13, numpy):
  /usr/bin/python3 scripts/golden/gru.py
"""
import math
import os
import shutil
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "gru")
Z, R, H = 0, 1, 2  # Keras gate blocks


def block(w, g, u):
    return w[:, g * u:(g + 1) * u]


def input_matrix(kernel, g, u, d):
    """A_g: the kernel's [d, u] gate block read row-major as [u, d]."""
    return np.ascontiguousarray(block(kernel, g, u)).reshape(-1).reshape(u, d)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_gru(x, h0, kernel, rk, bias, dy, dh_last, time_major, go_backwards):
    """docs/gru.md step by step, batch-major [B, T, d] internally; returns y, h_last
    and the five gradients, by a hand-written backward pass."""
    if time_major:
        x, dy = x.transpose(1, 0, 2), dy.transpose(1, 0, 2)
    B, T, d = x.shape
    u = h0.shape[1]
    A = [input_matrix(kernel, g, u, d) for g in range(3)]
    Rm = [block(rk, g, u) for g in range(3)]
    bW = [bias[g * u:(g + 1) * u] for g in range(3)]
    bR = [bias[(3 + g) * u:(4 + g) * u] for g in range(3)]
    order = list(range(T))[::-1] if go_backwards else list(range(T))
    h = h0.copy()
    ys, saved = [], []
    for t in order:
        xt = x[:, t, :]
        z = sigmoid(xt @ A[Z].T + bW[Z] + h @ Rm[Z].T + bR[Z])
        r = sigmoid(xt @ A[R].T + bW[R] + h @ Rm[R].T + bR[R])
        hh = h @ Rm[H].T + bR[H]
        n = np.tanh(xt @ A[H].T + bW[H] + r * hh)
        saved.append((xt, h, z, r, n, hh))
        h = z * h + (1 - z) * n
        ys.append(h)
    y = np.stack(ys, axis=1)
    h_last = h
    # Backward.
    dA = [np.zeros_like(a) for a in A]
    dR = [np.zeros_like(m) for m in Rm]
    dbW = [np.zeros(u) for _ in range(3)]
    dbR = [np.zeros(u) for _ in range(3)]
    dx = np.zeros_like(x)
    dh = dh_last.copy()
    for s in reversed(range(T)):
        t = order[s]
        xt, hp, z, r, n, hh = saved[s]
        g = dh + dy[:, s, :]
        dn = g * (1 - z) * (1 - n * n)
        dz = g * (hp - n) * z * (1 - z)
        dr = dn * hh * r * (1 - r)
        dhh = dn * r
        pre = {Z: dz, R: dr, H: dn}
        rec = {Z: dz, R: dr, H: dhh}
        for k in range(3):
            dA[k] += pre[k].T @ xt
            dbW[k] += pre[k].sum(0)
            dR[k] += rec[k].T @ hp
            dbR[k] += rec[k].sum(0)
            dx[:, t, :] += pre[k] @ A[k]
        dh = g * z + sum(rec[k] @ Rm[k] for k in range(3))
    dkernel = np.concatenate([dA[g].reshape(-1).reshape(d, u) for g in range(3)], axis=1)
    drk = np.concatenate(dR, axis=1)
    dbias = np.concatenate(dbW + dbR)
    if time_major:
        y, dx = y.transpose(1, 0, 2), dx.transpose(1, 0, 2)
    return y, h_last, dx, dh, dkernel, drk, dbias


def torch_gru(x, h0, kernel, rk, bias, dy, dh_last, time_major, go_backwards):
    d = x.shape[2]
    u = h0.shape[1]
    A = [input_matrix(kernel, g, u, d) for g in range(3)]
    Rm = [block(rk, g, u) for g in range(3)]
    gru = torch.nn.GRU(d, u, batch_first=not time_major).double()
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.from_numpy(np.concatenate([A[R], A[Z], A[H]])))
        gru.weight_hh_l0.copy_(torch.from_numpy(np.concatenate([Rm[R], Rm[Z], Rm[H]])))
        b = [bias[g * u:(g + 1) * u] for g in range(6)]
        gru.bias_ih_l0.copy_(torch.from_numpy(np.concatenate([b[1], b[0], b[2]])))
        gru.bias_hh_l0.copy_(torch.from_numpy(np.concatenate([b[4], b[3], b[5]])))
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0, requires_grad=True)
    time_axis = 0 if time_major else 1
    inp = torch.flip(tx, [time_axis]) if go_backwards else tx
    y, hn = gru(inp, th0.unsqueeze(0))
    loss = (y * torch.from_numpy(dy)).sum() + (hn[0] * torch.from_numpy(dh_last)).sum()
    loss.backward()
    gi = gru.weight_ih_l0.grad.numpy()
    gh = gru.weight_hh_l0.grad.numpy()
    bi = gru.bias_ih_l0.grad.numpy()
    bh = gru.bias_hh_l0.grad.numpy()
    # torch blocks r, z, n -> Keras z, r, h; dA_g maps back through the same reshape.
    perm = [1, 0, 2]
    dkernel = np.concatenate([gi[p * u:(p + 1) * u].reshape(-1).reshape(d, u) for p in perm], axis=1)
    drk = np.concatenate([gh[p * u:(p + 1) * u] for p in perm], axis=1)
    dbias = np.concatenate([bi[p * u:(p + 1) * u] for p in perm] + [bh[p * u:(p + 1) * u] for p in perm])
    return (y.detach().numpy(), hn[0].detach().numpy(), tx.grad.numpy(), th0.grad.numpy(), dkernel, drk, dbias)


def hand_cases():
    """Tiny cases with their outputs worked out by hand (returns (case, expected y, h_last))."""
    out = []
    # 1. d = u = 1, T = 2, B = 1. kernel [a_z, a_r, a_h] = [0, 0, 1], recurrent [0, 0, 1],
    #    bias 0, h0 = 0, x = [1, 0]. z = r = 1/2 while their pre-activations are 0:
    #    step 1: n = tanh(1 + 0.5 * (1 * 0)) = tanh 1, h1 = 0.5 * 0 + 0.5 * tanh 1.
    #    step 2: n = tanh(0 + 0.5 * h1), h2 = 0.5 * h1 + 0.5 * n.
    # Here the z pre-activation at step 2 is R_z h1 = 0 (recurrent z weight 0), so z = 1/2.
    h1 = 0.5 * math.tanh(1.0)
    h2 = 0.5 * h1 + 0.5 * math.tanh(0.5 * h1)
    out.append((dict(name="hand_scalar", x=np.array([[[1.0], [0.0]]]), h0=np.zeros((1, 1)),
                     kernel=np.array([[0.0, 0.0, 1.0]]), rk=np.array([[0.0, 0.0, 1.0]]), bias=np.zeros(6),
                     time_major=False, go_backwards=False),
                np.array([[[h1], [h2]]]), np.array([[h2]])))
    # 2. d = u = 1 with biases only: x = [0, 0], h0 = [1], kernel 0, recurrent 0,
    #    bias b_Wz = ln 3 (so z = 3/4), b_Rh = 2, b_Wr = b_Rr = 0 (r = 1/2), b_Wh = -1:
    #    n = tanh(-1 + 0.5 * 2) = tanh 0 = 0 at every step, so h1 = 3/4, h2 = 9/16.
    bias = np.array([math.log(3.0), 0.0, -1.0, 0.0, 0.0, 2.0])
    out.append((dict(name="hand_bias", x=np.zeros((1, 2, 1)), h0=np.ones((1, 1)), kernel=np.zeros((1, 3)),
                     rk=np.zeros((1, 3)), bias=bias, time_major=False, go_backwards=False),
                np.array([[[0.75], [0.5625]]]), np.array([[0.5625]])))
    # 3. d = u = 2 (orientation): only the h gate has weights, kernel[:, 4:6] = [[1, 2], [0, 0]],
    #    which read row-major as [u, d] is A_h = [[1, 2], [0, 0]] itself, not its transpose;
    #    R_h = recurrent[:, 4:6] = [[0, 0], [1, 0]]. z = r = 1/2 throughout, h' = (h + n) / 2.
    #    x = [[0.5, 0.25], [0, 0]], h0 = 0:
    #    step 1: A_h x = [1, 0], n = [tanh 1, 0], h1 = [tanh(1)/2, 0]
    #    step 2: R_h h1 = [0, tanh(1)/2], n = [0, tanh(tanh(1)/4)], h2 = [tanh(1)/4, tanh(tanh(1)/4)/2].
    #    (Keras GRU's orientation, x . K_h and h . R_h, would give A x = [0.5, 1], R h = [0, 0].)
    kernel = np.zeros((2, 6))
    kernel[0, 4:6] = [1.0, 2.0]
    rk = np.zeros((2, 6))
    rk[1, 4] = 1.0
    t1 = math.tanh(1.0)
    h1 = np.array([t1 / 2, 0.0])
    h2 = np.array([t1 / 4, math.tanh(t1 / 4) / 2])
    x = np.array([[[0.5, 0.25], [0.0, 0.0]]])
    out.append((dict(name="hand_orientation", x=x, h0=np.zeros((1, 2)), kernel=kernel, rk=rk, bias=np.zeros(12),
                     time_major=False, go_backwards=False),
                np.stack([h1, h2])[None], h2[None]))
    #    go_backwards: the zero input comes first, h1 = 0, then h2 = [tanh(1)/2, 0]; y in
    #    processed order is [h1, h2].
    out.append((dict(name="hand_orientation_backwards", x=x, h0=np.zeros((1, 2)), kernel=kernel, rk=rk,
                     bias=np.zeros(12), time_major=False, go_backwards=True),
                np.array([[[0.0, 0.0], [t1 / 2, 0.0]]]), np.array([[t1 / 2, 0.0]])))
    return out


def random_case(rng, name, B, T, d, u, time_major=False, go_backwards=False, zero_state=False):
    x = rng.uniform(-1, 1, (T, B, d) if time_major else (B, T, d))
    h0 = np.zeros((B, u)) if zero_state else rng.uniform(-1, 1, (B, u))
    lim = math.sqrt(6.0 / (d + 3 * u))  # glorot_uniform-like
    kernel = rng.uniform(-lim, lim, (d, 3 * u))
    rk = rng.uniform(-0.6, 0.6, (u, 3 * u))
    bias = rng.uniform(-0.5, 0.5, 6 * u)
    return dict(name=name, x=x, h0=h0, kernel=kernel, rk=rk, bias=bias, time_major=time_major,
                go_backwards=go_backwards)


def main():
    rng = np.random.default_rng(20240607)
    cases = [(c, y, h) for c, y, h in hand_cases()]
    randoms = [
        random_case(rng, "basic", 3, 5, 4, 6),
        random_case(rng, "backwards", 3, 5, 4, 6, go_backwards=True),
        random_case(rng, "zero_state", 2, 6, 3, 5, zero_state=True),
        random_case(rng, "zero_state_backwards", 2, 4, 5, 3, go_backwards=True, zero_state=True),
        random_case(rng, "time_major", 3, 4, 5, 7, time_major=True),
        random_case(rng, "time_major_backwards", 2, 7, 3, 8, time_major=True, go_backwards=True),
        random_case(rng, "time_major_zero_state", 4, 3, 2, 4, time_major=True, zero_state=True),
        random_case(rng, "wide", 2, 3, 10, 16),
        random_case(rng, "odd", 4, 3, 7, 9, go_backwards=True),
        random_case(rng, "single", 1, 8, 3, 4),
    ]
    cases += [(c, None, None) for c in randoms]

    if os.path.isdir(OUT):
        for entry in os.listdir(OUT):
            path = os.path.join(OUT, entry)
            if os.path.isdir(path):
                shutil.rmtree(path)
    os.makedirs(OUT, exist_ok=True)
    lines = ["# name time_major go_backwards (written by scripts/golden/gru.py)"]
    for c, want_y, want_h in cases:
        x = c["x"]
        B = x.shape[1] if c["time_major"] else x.shape[0]
        T = x.shape[0] if c["time_major"] else x.shape[1]
        u = c["h0"].shape[1]
        dy = rng.uniform(-1, 1, (T, B, u) if c["time_major"] else (B, T, u))
        dh_last = rng.uniform(-1, 1, (B, u))
        args = (x, c["h0"], c["kernel"], c["rk"], c["bias"], dy, dh_last, c["time_major"], c["go_backwards"])
        got = torch_gru(*args)
        ref = numpy_gru(*args)
        names = ["y", "h_last", "dx", "dh0", "dkernel", "drecurrent_kernel", "dbias"]
        for n, a, b in zip(names, got, ref):
            err = np.max(np.abs(a - b)) if a.size else 0.0
            if a.shape != b.shape or err > 1e-12:
                sys.exit(f"{c['name']}: torch and the numpy reference disagree on {n}: {a.shape} {b.shape} {err}")
        if want_y is not None:
            for n, a, b in (("y", got[0], want_y), ("h_last", got[1], want_h)):
                if a.shape != b.shape or np.max(np.abs(a - b)) > 1e-12:
                    sys.exit(f"{c['name']}: torch disagrees with the hand-computed {n}:\n{a}\n{b}")
        folder = os.path.join(OUT, c["name"])
        os.makedirs(folder)
        arrays = dict(x=x, h0=c["h0"], kernel=c["kernel"], recurrent_kernel=c["rk"], bias=c["bias"], dy=dy,
                      dh_last=dh_last)
        arrays.update(zip(names, got))
        for n, a in arrays.items():
            np.save(os.path.join(folder, n + ".npy"), np.ascontiguousarray(a, dtype=np.float64))
        lines.append(f"{c['name']} {int(c['time_major'])} {int(c['go_backwards'])}")
        print(f"{c['name']}: B={B} T={T} d={x.shape[2]} u={u} time_major={c['time_major']} "
              f"go_backwards={c['go_backwards']}: torch == numpy reference" +
              (" == hand values" if want_y is not None else ""))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
