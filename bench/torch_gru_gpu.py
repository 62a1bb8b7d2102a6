#!/usr/bin/env python3
"""PyTorch on the GPU, float32 with TF32 off: the reference for the GPU rows of gpu-check.

For each (T, B, I, H) config of issue #5 it measures (median of --reps runs after warm-ups):
  - one nn.GRU layer (batch_first, cuDNN underneath), with CUDA events: inference forward, and
    training (forward + backward of sum(y * dy) into x, h0 and the weights);
  - one training step of GRU -> Dense(1) on the last step -> MSE -> Adam (eager: the batch's
    host->device copy from pageable memory, zero_grad, forward, backward, step, the loss and
    the prediction copied back to the host), timed like rill's step in gpu_gru_bench: wall
    clock around each synchronised step (median of --reps after warm-ups);
  - the peak GPU memory of that training step (torch.cuda.max_memory_allocated), with the
    layer measurements' tensors freed first.
Writes a Markdown table to --markdown=PATH and prints it; with --tsv=PATH also writes one line
"cfg step_ms peak_mib" per config, which gpu_gru_bench --torch=PATH reads to put rill's training
step beside torch's. Measures nothing without a GPU.
"""
import statistics
import sys
import time

import torch

CONFIGS = [("a", 100, 64, 128, 256), ("b", 50, 32, 64, 128), ("c", 200, 16, 256, 512),
           ("d", 1000, 1, 32, 64), ("e", 100, 32, 256, 256), ("f", 500, 256, 1024, 1024)]


def median_ms(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def median_wall_ms(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def run(cfg, reps):
    name, T, B, I, H = cfg
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    gru = torch.nn.GRU(I, H, batch_first=True).to(dev)
    x = torch.rand(B, T, I, device=dev, generator=g) * 2 - 1
    h0 = (torch.rand(1, B, H, device=dev, generator=g) - 0.5)
    dy = torch.rand(B, T, H, device=dev, generator=g) * 2 - 1

    def forward():
        with torch.no_grad():
            gru(x, h0)

    xg, hg = x.clone().requires_grad_(), h0.clone().requires_grad_()

    def train():
        y, _ = gru(xg, hg)
        (y * dy).sum().backward()

    fwd = median_ms(forward, reps)
    trn = median_ms(train, reps)

    # The step starts from a batch in (pageable) host memory and ends with the loss and the
    # prediction on the host, as rill's Run does; nothing of the layer measurements stays alive.
    x_host = x.cpu()
    target_host = torch.rand(B, 1, device=dev, generator=g).cpu()
    del x, h0, dy, xg, hg
    gru.zero_grad(set_to_none=True)
    dense = torch.nn.Linear(H, 1).to(dev)
    params = list(gru.parameters()) + list(dense.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)

    def step():
        xb, target = x_host.to(dev), target_host.to(dev)
        opt.zero_grad(set_to_none=True)
        y, _ = gru(xb)
        pred = dense(y[:, -1, :])
        loss = torch.nn.functional.mse_loss(pred, target)
        loss.backward()
        opt.step()
        return loss.detach().cpu(), pred.detach().cpu()

    step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    stp = median_wall_ms(step, reps)
    peak = torch.cuda.max_memory_allocated() / 2**20
    return name, T, B, I, H, fwd, trn, stp, peak


def main(argv):
    reps, markdown, tsv = 10, None, None
    for a in argv:
        if a.startswith("--reps="):
            reps = int(a.split("=", 1)[1])
        elif a.startswith("--markdown="):
            markdown = a.split("=", 1)[1]
        elif a.startswith("--tsv="):
            tsv = a.split("=", 1)[1]
    if not torch.cuda.is_available():
        print("torch_gru_gpu: no CUDA device visible to torch: not measured")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    lines = [
        "### PyTorch %s eager, %s, cuDNN %s, TF32 off" % (
            torch.__version__, torch.cuda.get_device_name(0), torch.backends.cudnn.version()),
        "",
        "Median of %d runs after 2 warm-ups; GRU columns: CUDA events. GRU train = forward + "
        "backward of sum(y*dy). Step = host->device copy of the batch, GRU -> Linear(H, 1) on "
        "the last step -> MSE -> Adam, loss and prediction back to the host; wall clock around "
        "each synchronised step; peak = torch.cuda.max_memory_allocated during the steps." % reps,
        "",
        "| cfg | T | B | I | H | torch GRU fwd ms | torch GRU train ms | torch step ms | "
        "torch step peak MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    steps = []
    for cfg in CONFIGS:
        name, T, B, I, H, fwd, trn, stp, peak = run(cfg, reps)
        lines.append("| %s | %d | %d | %d | %d | %.3f | %.3f | %.3f | %.1f |" %
                     (name, T, B, I, H, fwd, trn, stp, peak))
        steps.append("%s %.6f %.3f" % (name, stp, peak))
        print(lines[-1], flush=True)
    lines += ["", "rill's training step beside these: gpu_gru_bench's step table."]
    text = "\n".join(lines) + "\n"
    if tsv:
        with open(tsv, "w") as f:
            f.write("\n".join(steps) + "\n")
    print(text)
    if markdown:
        with open(markdown, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
