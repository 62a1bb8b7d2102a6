#!/usr/bin/python3
"""PyTorch eager for bench/compiled_model_bench's streaming table: torch.nn.GRU(FEATURES, UNITS)
at batch 1, float32, inference, fed chunks of CHUNK steps and carrying its state from call to
call, on THREADS intra-op threads, each call BETWEEN_MS after the previous one ends (0: right
after).

Usage: torch_gru_stream.py FEATURES UNITS THREADS REPS BETWEEN_MS CHUNK [CHUNK ...]
Prints one line per chunk: "chunk C: M ms" (the median per-call latency of REPS calls).
"""
import statistics
import sys
import time

import torch


def main():
    features, units, threads, reps = (int(a) for a in sys.argv[1:5])
    between = float(sys.argv[5]) / 1e3
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    gru = torch.nn.GRU(features, units, batch_first=True)
    for chunk in (int(a) for a in sys.argv[6:]):
        x = torch.randn(1, chunk, features)
        h = torch.zeros(1, 1, units)
        times = []
        with torch.no_grad():
            for i in range(reps + 10):  # 10 warm-up calls
                if between > 0:
                    time.sleep(between)
                t0 = time.perf_counter()
                _, h = gru(x, h)
                if i >= 10:
                    times.append((time.perf_counter() - t0) * 1e3)
        print(f"chunk {chunk}: {statistics.median(times):.4f} ms")


if __name__ == "__main__":
    main()
