#!/usr/bin/python3
"""Golden data for the optimizer test: 3 training steps of a small MLP under each optimizer.

Model (Keras layout): Dense(3 -> 4, relu) -> Dense(4 -> 2, linear), kernels [in, out], loss
mse (Keras: mean over the last axis, then over the batch). Every step uses the whole fixed
batch x [8, 3], y [8, 2]. Gradients come from torch autograd in float64; the updates are this
file's NumPy transcription of tf-keras 2.x's rules (the optimizers of tf-keras 2.11 and later,
keras.optimizers.*), which rill's sgd_update / adam_update / rmsprop_update / adagrad_update
ops implement, not torch.optim. They are the legacy (OptimizerV2) rules but for RMSprop
without momentum, where the legacy optimizer added epsilon outside the square root.

Run with Debian's python (python3-torch 1.13, python3-numpy):
    /usr/bin/python3 scripts/golden/optimizers.py [output dir]
It rewrites tests/golden/optimizers/ (see the README.md there).
"""
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "golden", "optimizers")
STEPS = 3

# name: (optimizer, hyperparameters); unlisted hyperparameters take Keras's defaults below.
CONFIGS = {
    "sgd": ("sgd", dict(lr=0.1)),
    "sgd_momentum": ("sgd", dict(lr=0.1, momentum=0.9)),
    "sgd_nesterov": ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True)),
    "adam": ("adam", dict(lr=0.01)),
    "adam_amsgrad": ("adam", dict(lr=0.01, amsgrad=True)),
    "rmsprop": ("rmsprop", dict(lr=0.01)),
    "rmsprop_centered_momentum": ("rmsprop", dict(lr=0.01, momentum=0.5, centered=True)),
    "adagrad": ("adagrad", dict(lr=0.1)),
    "sgd_clipnorm": ("sgd", dict(lr=0.1, clipnorm=0.5)),
    "adam_clipvalue": ("adam", dict(lr=0.01, clipvalue=0.05)),
    # Keras's weight_decay (AdamW; any optimizer of tf-keras 2.11+ and Keras 3).
    "adamw": ("adam", dict(lr=0.01, weight_decay=0.5)),
    "rmsprop_weight_decay": ("rmsprop", dict(lr=0.01, weight_decay=0.5, clipnorm=0.5)),
    "sgd_global_clipnorm": ("sgd", dict(lr=0.1, momentum=0.5, global_clipnorm=1.0)),
    # Keras clips by clipnorm alone when clipvalue is given too.
    "adam_clipnorm_clipvalue": ("adam", dict(lr=0.01, clipnorm=0.5, clipvalue=0.05)),
}
DEFAULTS = {
    "sgd": dict(momentum=0.0, nesterov=False),
    "adam": dict(beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
    "rmsprop": dict(rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
    # Keras's Adagrad starts its accumulators at initial_accumulator_value, not at zero.
    "adagrad": dict(initial_accumulator_value=0.1, epsilon=1e-7),
}


# Chosen (by trying seeds) so that the data exercise every rule: no ReLU pre-activation comes
# within 1e-2 of its kink in any run (so float64 rounding cannot flip a unit), amsgrad's vhat
# changes the result, clipnorm clips some tensors but not all, clipvalue clips some elements.
SEED = 1597


def data_and_weights():
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-1.0, 1.0, size=(8, 3))
    y = np.stack([np.sin(2.0 * x[:, 0]) + x[:, 1], x[:, 1] * x[:, 2] - 0.5], axis=1)
    y += 0.1 * rng.standard_normal(y.shape)
    weights = [
        rng.uniform(-0.9, 0.9, size=(3, 4)),  # kernel0 (glorot_uniform's limit for 3 -> 4 is ~0.93)
        rng.uniform(-0.1, 0.1, size=(4,)),    # bias0
        rng.uniform(-0.8, 0.8, size=(4, 2)),  # kernel1
        rng.uniform(-0.1, 0.1, size=(2,)),    # bias1
    ]
    return x, y, weights


def loss_and_grads(x, y, weights):
    w = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in weights]
    h = torch.relu(torch.from_numpy(x) @ w[0] + w[1])
    out = h @ w[2] + w[3]
    loss = ((out - torch.from_numpy(y)) ** 2).mean(dim=-1).mean()
    loss.backward()
    return float(loss), [t.grad.numpy().copy() for t in w]


def clip(grads, hp):
    """Optimizer._clip_gradients (tf-keras 2.11+, Keras 3): per-tensor tf.clip_by_norm, else
    tf.clip_by_global_norm, else clip_by_value; one of them only."""
    if "clipnorm" in hp:
        c = hp["clipnorm"]
        return [g * c / max(np.sqrt(np.sum(g * g)), c) for g in grads]
    if "global_clipnorm" in hp:
        c = hp["global_clipnorm"]
        norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        return [g * (c * min(1.0 / norm, 1.0 / c)) for g in grads]
    if "clipvalue" in hp:
        return [np.clip(g, -hp["clipvalue"], hp["clipvalue"]) for g in grads]
    return grads


class Optimizer:
    def __init__(self, kind, hp, weights):
        self.kind, self.hp = kind, {**DEFAULTS[kind], **hp}
        self.iterations = 0
        zeros = lambda: [np.zeros_like(w) for w in weights]
        if kind == "sgd":
            self.velocity = zeros()
        elif kind == "adam":
            self.m, self.v, self.vhat = zeros(), zeros(), zeros()
        elif kind == "rmsprop":
            self.ms, self.mom, self.mg = zeros(), zeros(), zeros()
        elif kind == "adagrad":
            self.acc = [np.full_like(w, self.hp["initial_accumulator_value"]) for w in weights]

    def apply(self, weights, grads):
        for i, (w, g) in enumerate(zip(weights, clip(grads, self.hp))):
            # Optimizer._apply_weight_decay: after clipping, before the update, plain lr.
            w -= w * self.hp.get("weight_decay", 0.0) * self.hp["lr"]
            getattr(self, self.kind)(i, w, g)
        self.iterations += 1

    def sgd(self, i, w, g):
        lr, momentum = self.hp["lr"], self.hp["momentum"]
        if momentum == 0:
            w -= lr * g
            return
        v = self.velocity[i]
        v[...] = momentum * v - lr * g
        w += momentum * v - lr * g if self.hp["nesterov"] else v

    def adam(self, i, w, g):
        b1, b2, eps = self.hp["beta_1"], self.hp["beta_2"], self.hp["epsilon"]
        t = self.iterations + 1
        lr_t = self.hp["lr"] * np.sqrt(1 - b2**t) / (1 - b1**t)
        m, v, vhat = self.m[i], self.v[i], self.vhat[i]
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        if self.hp["amsgrad"]:
            vhat[...] = np.maximum(vhat, v)
            w -= lr_t * m / (np.sqrt(vhat) + eps)
        else:
            w -= lr_t * m / (np.sqrt(v) + eps)

    def rmsprop(self, i, w, g):
        lr, rho, momentum, eps = self.hp["lr"], self.hp["rho"], self.hp["momentum"], self.hp["epsilon"]
        ms, mom, mg = self.ms[i], self.mom[i], self.mg[i]
        ms[...] = rho * ms + (1 - rho) * g * g
        denom = ms
        if self.hp["centered"]:
            mg[...] = rho * mg + (1 - rho) * g
            denom = ms - mg * mg
        step = lr * g / np.sqrt(denom + eps)
        if momentum > 0:
            mom[...] = momentum * mom + step
            w -= mom
        else:
            w -= step

    def adagrad(self, i, w, g):
        acc = self.acc[i]
        acc += g * g
        w -= self.hp["lr"] * g / (np.sqrt(acc) + self.hp["epsilon"])


def save(name, array):
    np.save(os.path.join(OUT, name + ".npy"), np.asarray(array, dtype=np.float64))


def relu_margin(x, weights):
    return np.abs(x @ weights[0] + weights[1]).min()


def check_coverage(x, y, initial, final):
    """The properties SEED was chosen for; a change to the data must keep them."""
    _, grads = loss_and_grads(x, y, initial)
    norms = [np.sqrt(np.sum(g * g)) for g in grads]
    clipnorm = CONFIGS["sgd_clipnorm"][1]["clipnorm"]
    clipvalue = CONFIGS["adam_clipvalue"][1]["clipvalue"]
    assert any(n > clipnorm for n in norms) and any(n < clipnorm for n in norms), norms
    assert any(np.any(np.abs(g) > clipvalue) for g in grads)
    global_clipnorm = CONFIGS["sgd_global_clipnorm"][1]["global_clipnorm"]
    assert np.sqrt(sum(n * n for n in norms)) > global_clipnorm, norms
    amsgrad_effect = max(np.abs(a - b).max() for a, b in zip(final["adam"], final["adam_amsgrad"]))
    assert amsgrad_effect > 1e-6, amsgrad_effect


def main():
    os.makedirs(OUT, exist_ok=True)
    x, y, initial = data_and_weights()
    final = {}
    save("x", x)
    save("y", y)
    for i, w in enumerate(initial):
        save(f"initial_{i}", w)
    for name, (kind, hp) in CONFIGS.items():
        weights = [w.copy() for w in initial]
        opt = Optimizer(kind, hp, weights)
        losses = []
        for _ in range(STEPS):
            assert relu_margin(x, weights) > 1e-2, (name, relu_margin(x, weights))
            loss, grads = loss_and_grads(x, y, weights)
            losses.append(loss)
            opt.apply(weights, grads)
        for i, w in enumerate(weights):
            save(f"{name}_{i}", w)
        save(f"{name}_losses", losses)
        final[name] = weights
        print(f"{name:28s} losses {' '.join(f'{l:.6f}' for l in losses)}")
    check_coverage(x, y, initial, final)


if __name__ == "__main__":
    main()
