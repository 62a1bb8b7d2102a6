#!/usr/bin/python3
"""PyTorch eager for bench/compiled_model_bench's model: torch.nn.GRU(8, 64, num_layers=2) then
Linear(64, 1) on the last step, batch 1, 100 steps, float32, one intra-op thread, inference.

Prints the first call's and the steady (median of 200) per-call latency in ms, and the time
from the start of this process (interpreter and torch import included) to the first output.
"""
import time

START = time.perf_counter()

import statistics  # noqa: E402

import torch  # noqa: E402


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    gru = torch.nn.GRU(8, 64, num_layers=2, batch_first=True)
    dense = torch.nn.Linear(64, 1)
    x = torch.randn(1, 100, 8)

    def call():
        with torch.no_grad():
            y, _ = gru(x)
            return dense(y[:, -1])

    t0 = time.perf_counter()
    call()
    first = (time.perf_counter() - t0) * 1e3
    to_output = (time.perf_counter() - START) * 1e3
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1e3)
    print(f"torch {torch.__version__} eager: first call {first:.3f} ms, steady "
          f"{statistics.median(times):.3f} ms (median of 200), process start to first output "
          f"{to_output:.0f} ms")


if __name__ == "__main__":
    main()
