#!/usr/bin/python3
"""PyTorch eager for bench/compiled_model_bench's model, with that model's weights.

    torch_stacked_gru.py WEIGHTS_DIR X_NPY THREADS [REPS]

The model is two CuDNNGRU(64) layers (the first returning sequences) then Dense(1), saved by
rill as WEIGHTS_DIR/0.npy ... 7.npy (kernel, recurrent kernel and bias of each GRU, then the
dense kernel and bias). Here it is torch.nn.GRU(num_layers=2) with those weights mapped as
docs/gru.md says (weight_ih = [A_r; A_z; A_h], weight_hh = [R_r; R_z; R_h], the biases
likewise), then Linear on the last step, float32, inference, THREADS intra-op threads, on the
input in X_NPY ([1, T, F]).

Prints, on one line: the first call's and the steady (median of REPS, default 200) per-call
latency in ms, the time from the start of this process (interpreter and torch import included)
to the first output, and that output (so the caller can check that it is its model's).
"""
import time

START = time.perf_counter()

import statistics  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

Z, R, H = 0, 1, 2  # Keras's (and cuDNN's) gate order in the kernels


def gru_weights(kernel, recurrent, bias):
    """torch's weight_ih, weight_hh, bias_ih, bias_hh from Keras's CuDNNGRU weights."""
    d, u = kernel.shape[0], recurrent.shape[0]
    # A_g: kernel[:, g·u:(g+1)·u] read row-major as [u, d]; R_g: recurrent[:, g·u:(g+1)·u].
    a = [np.ascontiguousarray(kernel[:, g * u:(g + 1) * u]).reshape(u, d) for g in range(3)]
    r = [recurrent[:, g * u:(g + 1) * u] for g in range(3)]
    b = [bias[g * u:(g + 1) * u] for g in range(6)]
    return (np.concatenate([a[R], a[Z], a[H]]), np.concatenate([r[R], r[Z], r[H]]),
            np.concatenate([b[R], b[Z], b[H]]), np.concatenate([b[3 + R], b[3 + Z], b[3 + H]]))


def main():
    weights_dir, x_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    torch.set_num_threads(threads)
    w = [np.load(f"{weights_dir}/{i}.npy").astype(np.float32) for i in range(8)]
    x = torch.from_numpy(np.load(x_path).astype(np.float32))
    gru = torch.nn.GRU(x.shape[2], w[1].shape[0], num_layers=2, batch_first=True)
    dense = torch.nn.Linear(w[6].shape[0], w[6].shape[1])
    with torch.no_grad():
        for layer in range(2):
            ih, hh, bih, bhh = gru_weights(*w[3 * layer:3 * layer + 3])
            getattr(gru, f"weight_ih_l{layer}").copy_(torch.from_numpy(ih))
            getattr(gru, f"weight_hh_l{layer}").copy_(torch.from_numpy(hh))
            getattr(gru, f"bias_ih_l{layer}").copy_(torch.from_numpy(bih))
            getattr(gru, f"bias_hh_l{layer}").copy_(torch.from_numpy(bhh))
        dense.weight.copy_(torch.from_numpy(w[6].T.copy()))
        dense.bias.copy_(torch.from_numpy(w[7]))

    def call():
        with torch.no_grad():
            y, _ = gru(x)
            return dense(y[:, -1])

    t0 = time.perf_counter()
    out = call()
    first = (time.perf_counter() - t0) * 1e3
    to_output = (time.perf_counter() - START) * 1e3
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1e3)
    print(f"torch {torch.__version__} threads {threads}: first {first:.3f} ms, steady "
          f"{statistics.median(times):.3f} ms, start to output {to_output:.1f} ms, "
          f"output {out.reshape(-1)[0].item():.9g}")


if __name__ == "__main__":
    main()
