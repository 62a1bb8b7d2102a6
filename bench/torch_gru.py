#!/usr/bin/python3
"""torch.nn.GRU on the CPU, float32: the reference for bench/gru_bench.

Usage: torch_gru.py [--threads N] [--reps N] NAME:T:B:I:H ...
Prints one line per config: "NAME forward_ms train_ms step_ms forward_threads train_threads
step_threads": medians over N repetitions after a warm-up, each at the intra-op thread count
from 1 to --threads that was fastest in a short probe (on small VMs torch's OpenMP threads can
make 2 threads several times slower than 1, and the anchor should be torch at its best). forward: inference (no autograd). train: a forward with autograd and the
backward of sum(y * dy) + sum(h_n * dh) into x, h0 and all weights: what rill's forward +
backward (cudnn_gru + cudnn_gru_grad) computes. step: one whole training step of
GRU(H) -> Linear(H, 1) on the last output, MSE loss, SGD: what `rill train` runs per batch.
"""
import statistics
import sys
import time

import torch


def median_ms(fn, reps):
    """At least reps timed calls, more for short calls until 0.25 s were timed (as bench/timing.h)."""
    fn()  # warm-up
    times = []
    while len(times) < reps or (sum(times) < 250 and len(times) < 4000):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def best_ms(fn, reps, max_threads):
    """The median time of fn at its fastest thread count (probed with 3 runs each), and that count."""
    probes = []
    for threads in range(1, max_threads + 1):
        torch.set_num_threads(threads)
        probes.append((median_ms(fn, 3), threads))
    threads = min(probes)[1]
    torch.set_num_threads(threads)
    return median_ms(fn, reps), threads


def main(argv):
    torch.manual_seed(0)
    reps = 5
    threads = 1
    configs = []
    i = 0
    while i < len(argv):
        if argv[i] == "--reps":
            reps = int(argv[i + 1])
            i += 2
            continue
        if argv[i] == "--threads":
            threads = int(argv[i + 1])
            i += 2
            continue
        name, *dims = argv[i].split(":")
        configs.append((name, *map(int, dims)))
        i += 1
    for name, T, B, I, H in configs:
        gru = torch.nn.GRU(I, H, batch_first=True)
        x = torch.rand(B, T, I) * 2 - 1
        h0 = torch.zeros(1, B, H)
        dy = torch.rand(B, T, H) * 2 - 1
        dh = torch.rand(1, B, H) * 2 - 1

        def forward():
            with torch.no_grad():
                gru(x, h0)

        xg = x.clone().requires_grad_(True)
        hg = h0.clone().requires_grad_(True)

        def train():
            for p in gru.parameters():
                p.grad = None
            xg.grad = None
            hg.grad = None
            y, hn = gru(xg, hg)
            torch.autograd.backward([y, hn], [dy, dh])

        dense = torch.nn.Linear(H, 1)
        target = torch.rand(B, 1)
        opt = torch.optim.SGD(list(gru.parameters()) + list(dense.parameters()), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            y, _ = gru(x, h0)
            loss = torch.nn.functional.mse_loss(dense(y[:, -1]), target)
            loss.backward()
            opt.step()

        fwd, fwd_threads = best_ms(forward, reps, threads)
        trn, trn_threads = best_ms(train, reps, threads)
        stp, stp_threads = best_ms(step, reps, threads)
        print(f"{name} {fwd:.3f} {trn:.3f} {stp:.3f} {fwd_threads} {trn_threads} {stp_threads}",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
