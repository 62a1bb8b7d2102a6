#!/usr/bin/env python3
"""PyTorch on the GPU, float32 with TF32 off: the reference for the GPU rows of gpu-check.

For each (T, B, I, H) config a-g it measures (median of --reps runs after warm-ups):
  - one nn.GRU layer (batch_first, cuDNN underneath), with CUDA events: inference forward, and
    training (forward + backward of sum(y * dy) into x, h0 and the weights);
  - one training step of GRU -> Dense(1) on the last step -> MSE -> Adam (eager: the batch's
    host->device copy from pageable memory, zero_grad, forward, backward, step, the loss and
    the prediction copied back to the host), timed like rill's step in gpu_gru_bench: wall
    clock around each synchronised step (median of --reps after warm-ups);
  - the peak GPU memory of that training step (torch.cuda.max_memory_allocated), with the
    layer measurements' tensors freed first;
  - the same step captured in a CUDA graph, as a PyTorch user who wants speed runs it
    (torch.cuda.graph with Adam(capturable=True); the pageable batch is copied into static
    input buffers, the graph replayed, the loss and prediction copied back), timed the same
    way, with its own peak memory.
Writes a Markdown table to --markdown=PATH and prints it; with --tsv=PATH also writes one line
"cfg eager_ms eager_peak_mib graphed_ms graphed_peak_mib" per config, which gpu_gru_bench
--torch=PATH reads to put rill's training step beside both. Measures nothing without a GPU.
"""
import statistics
import sys
import time

import torch

CONFIGS = [("a", 100, 64, 128, 256), ("b", 50, 32, 64, 128), ("c", 200, 16, 256, 512),
           ("d", 1000, 1, 32, 64), ("e", 100, 32, 256, 256), ("f", 500, 256, 1024, 1024),
           ("g", 100, 8, 64, 128)]


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
    del opt, params, gru, dense
    torch.cuda.empty_cache()
    gstp, gpeak = graphed_step_ms(cfg, x_host, target_host, reps)
    return name, T, B, I, H, fwd, trn, stp, peak, gstp, gpeak


def graphed_step_ms(cfg, x_host, target_host, reps):
    """The step captured whole in a CUDA graph (PyTorch's "whole network capture" recipe):
    warm-up iterations on a side stream, grads set to None before capture, Adam with
    capturable=True so its step count lives on the device. Returns (ms, peak MiB)."""
    name, T, B, I, H = cfg
    dev = torch.device("cuda")
    torch.cuda.reset_peak_memory_stats()
    gru = torch.nn.GRU(I, H, batch_first=True).to(dev)
    dense = torch.nn.Linear(H, 1).to(dev)
    params = list(gru.parameters()) + list(dense.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, capturable=True)
    static_x = torch.empty(B, T, I, device=dev)
    static_target = torch.empty(B, 1, device=dev)
    static_x.copy_(x_host)
    static_target.copy_(target_host)

    def body():
        y, _ = gru(static_x)
        pred = dense(y[:, -1, :])
        loss = torch.nn.functional.mse_loss(pred, static_target)
        loss.backward()
        opt.step()
        return loss, pred

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            body()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_loss, static_pred = body()

    def step():
        static_x.copy_(x_host)
        static_target.copy_(target_host)
        graph.replay()
        return static_loss.detach().cpu(), static_pred.detach().cpu()

    step()
    torch.cuda.synchronize()
    ms = median_wall_ms(step, reps)
    return ms, torch.cuda.max_memory_allocated() / 2**20


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
        "### PyTorch %s eager and CUDA-graphed, %s, cuDNN %s, TF32 off" % (
            torch.__version__, torch.cuda.get_device_name(0), torch.backends.cudnn.version()),
        "",
        "Median of %d runs after 2 warm-ups; GRU columns: CUDA events. GRU train = forward + "
        "backward of sum(y*dy). Step = host->device copy of the batch, GRU -> Linear(H, 1) on "
        "the last step -> MSE -> Adam, loss and prediction back to the host; wall clock around "
        "each synchronised step; peak = torch.cuda.max_memory_allocated during the steps. "
        "Graphed step = the same step captured once with torch.cuda.graph "
        "(Adam(capturable=True)), the batch copied into static inputs, then replayed." % reps,
        "",
        "| cfg | T | B | I | H | torch GRU fwd ms | torch GRU train ms | torch eager step ms | "
        "eager peak MiB | torch graphed step ms | graphed peak MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    steps = []
    for cfg in CONFIGS:
        name, T, B, I, H, fwd, trn, stp, peak, gstp, gpeak = run(cfg, reps)
        lines.append("| %s | %d | %d | %d | %d | %.3f | %.3f | %.3f | %.1f | %.3f | %.1f |" %
                     (name, T, B, I, H, fwd, trn, stp, peak, gstp, gpeak))
        steps.append("%s %.6f %.3f %.6f %.3f" % (name, stp, peak, gstp, gpeak))
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
