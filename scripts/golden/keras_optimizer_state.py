#!/usr/bin/env python3
"""Keras-produced golden data for the optimizer state Keras saves with a compiled model: a
model trained in Keras, saved whole, then loaded by keras.models.load_model and trained on
goes on from its optimizer's state (the iteration count and the slots: momentum, Adam's m, v
and vhat, RMSprop's velocity, momentum and average gradient, Adagrad's accumulator). rill
train, and SetKerasOptimizerState, go on from it too (tests/frontend/keras_optimizer_test.cc,
tests/tools/cli_test.cc).

The model (float32, weights uniform(-0.5, 0.5)): Sequential Input(4, 2) -> GRU(3,
reset_after=True) -> Dense(2), loss mse. Each case compiles it with its optimizer, fits
(x, y, epochs=2, batch_size=4, shuffle=False): 4 steps, saves it, loads it back, and fits the
same 4 steps again.

Cases:
  sgd        tf-keras SGD(0.1, momentum=0.9, nesterov=True)
  adam       tf-keras Adam(0.01, beta_1=0.8, amsgrad=True), metrics ["mae"], saved as adam.h5
             too (HDF5 keeps the state under optimizer_weights, by name, and the metrics as
             MeanMetricWrapper objects)
  rmsprop    tf-keras RMSprop(0.01, momentum=0.5, centered=True), metrics
             [MeanSquaredError()]
  adagrad    tf-keras Adagrad(0.1)
  keras3_sgd, keras3_adam   the SGD and Adam cases in Keras 3, which keeps the learning rate
             among the variables and SGD's momentum only with a momentum; keras3_sgd with
             metrics ["mae", "mape"] (rill has no mape)
  adamw, keras3_adamw   AdamW(0.01, weight_decay=0.2) in tf-keras and in Keras 3: each
             update first decays the weights (w -= w * weight_decay * lr)
  sgd_weight_decay      tf-keras SGD(0.1, momentum=0.5, weight_decay=0.3): any optimizer's
             weight_decay
  adam_global_clipnorm, keras3_sgd_global_clipnorm   tf-keras Adam(0.01, global_clipnorm=0.05)
             and Keras 3 SGD(0.1, momentum=0.5, global_clipnorm=0.05): the gradients clipped
             together by their global norm
  rmsprop_clipnorm_clipvalue   tf-keras RMSprop(0.01, clipnorm=0.05, clipvalue=0.001): Keras
             clips by clipnorm alone when both are given
  Learning-rate schedules (keras.optimizers.schedules; the rate of each step is the schedule's
  at the iteration count, 0 to 7 over the two fits):
    sgd_exponential_decay   tf-keras SGD(ExponentialDecay(0.1, 3, 0.5, staircase=True),
                            momentum=0.5)
    adam_piecewise          tf-keras Adam(PiecewiseConstantDecay([2, 5], [0.02, 0.01, 0.005]))
    rmsprop_polynomial      tf-keras RMSprop(PolynomialDecay(0.01, 3, 0.001, power=2.0,
                            cycle=True))
    adagrad_inverse_time    tf-keras Adagrad(InverseTimeDecay(0.1, 2, 0.5))
    adam_cosine             tf-keras Adam(CosineDecay(0.01, 6, alpha=0.2))
    keras3_sgd_exponential_decay  Keras 3 SGD(ExponentialDecay(0.1, 4, 0.9)), which keeps no
                            learning-rate variable with a schedule
    keras3_adamw_cosine_warmup    Keras 3 AdamW(CosineDecay(0.0, 4, alpha=0.1,
                            warmup_target=0.01, warmup_steps=3), weight_decay=0.2): the decay
                            takes the schedule's rate too
    sgd_cosine_restarts     tf-keras SGD(CosineDecayRestarts(0.1, 2, t_mul=2.0, m_mul=0.8,
                            alpha=0.1), momentum=0.5): restarts at steps 2 and 6
    keras3_rmsprop_cosine_restarts  Keras 3 RMSprop(CosineDecayRestarts(0.01, 3, t_mul=1.0,
                            m_mul=0.5)): restarts at steps 3 and 6

  tf.keras's optimizers before 2.11 (tf-keras's optimizers.legacy), saved as HDF5 (<case>.h5),
  which keeps their state as they lay it out (the iteration count, then each slot for every
  weight in turn); their decay divides the rate by 1 + decay * iterations:
    legacy_sgd_decay          SGD(0.1, decay=0.2): no slot
    legacy_sgd_momentum_decay SGD(0.1, momentum=0.5, nesterov=True, decay=0.1)
    legacy_adam_decay         Adam(0.01, beta_1=0.8, amsgrad=True, decay=0.05)
    legacy_rmsprop_momentum   RMSprop(0.01, momentum=0.5, centered=True)

Writes tests/golden/keras_optimizer/:
  x.npy, y.npy          the data (8 samples)
  <case>.keras          the model after the first fit (model.save)
  <case>_fit/N.npy      get_weights() after load_model and the second fit
  <case>_evaluate.npy   for the cases with metrics: [loss, metrics...] of Keras's
                        evaluate(x, y, batch_size=3) after load_model

Regenerate from the repository root (the archives differ from run to run only in the date
Keras writes into them):
  python3 scripts/golden/keras_optimizer_state.py
Made with tensorflow-cpu 2.21.0, tf-keras 2.21.0, keras 3.15.1, numpy 2.x.
"""
import os
import shutil

import numpy as np

from tf_keras_env import ROOT, keras, set_uniform_weights  # noqa: E402  (first: sets TensorFlow's environment)
import keras as keras3  # noqa: E402  (Keras 3, whatever TF_USE_LEGACY_KERAS says of tf.keras)

OUT = os.path.join(ROOT, "tests", "golden", "keras_optimizer")
B, T, D = 8, 4, 2
FIT = dict(epochs=2, batch_size=4, shuffle=False, verbose=0)


def model_of(k, rng):
    if k is keras3:
        layers = [k.Input((T, D)), k.layers.GRU(3), k.layers.Dense(2)]
    else:
        layers = [k.Input((T, D)), k.layers.GRU(3, reset_after=True), k.layers.Dense(2)]
    model = k.Sequential(layers, name="state_model")
    set_uniform_weights(model, rng)
    return model


def case(name, k, optimizer, x, y, rng, h5=False, metrics=None, ext="keras"):
    model = model_of(k, rng)
    model.compile(loss="mse", optimizer=optimizer, metrics=metrics)
    model.fit(x, y, **FIT)
    path = os.path.join(OUT, f"{name}.{ext}")
    model.save(path)
    again = k.models.load_model(path)
    if metrics:
        # Keras's evaluate of the model as saved: [loss, metrics...].
        results = again.evaluate(x, y, batch_size=3, verbose=0)
        np.save(os.path.join(OUT, f"{name}_evaluate.npy"), np.asarray(results, np.float64),
                allow_pickle=False)
    again.fit(x, y, **FIT)
    os.makedirs(os.path.join(OUT, f"{name}_fit"))
    for i, w in enumerate(again.get_weights()):
        np.save(os.path.join(OUT, f"{name}_fit", f"{i}.npy"), w, allow_pickle=False)
    # The state is what makes the difference: a fresh optimizer trains elsewhere.
    fresh = k.models.load_model(path, compile=False)
    fresh.compile(loss="mse", optimizer=optimizer.__class__.from_config(optimizer.get_config()))
    fresh.fit(x, y, **FIT)
    gap = max(np.max(np.abs(a - b)) for a, b in zip(fresh.get_weights(), again.get_weights()))
    assert gap > 1e-3, f"{name}: the state changes the weights by only {gap}"
    if h5:
        model.save(os.path.join(OUT, f"{name}.h5"))
        from_h5 = k.models.load_model(os.path.join(OUT, f"{name}.h5"))
        from_h5.fit(x, y, **FIT)
        for a, b in zip(from_h5.get_weights(), again.get_weights()):
            np.testing.assert_array_equal(a, b)


def main():
    rng = np.random.default_rng(41)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    y = rng.normal(size=(B, 2)).astype(np.float32)
    np.save(os.path.join(OUT, "x.npy"), x, allow_pickle=False)
    np.save(os.path.join(OUT, "y.npy"), y, allow_pickle=False)
    opt = keras.optimizers
    case("sgd", keras, opt.SGD(0.1, momentum=0.9, nesterov=True), x, y, rng)
    case("adam", keras, opt.Adam(0.01, beta_1=0.8, amsgrad=True), x, y, rng, h5=True,
         metrics=["mae"])
    case("rmsprop", keras, opt.RMSprop(0.01, momentum=0.5, centered=True), x, y, rng,
         metrics=[keras.metrics.MeanSquaredError()])
    case("adagrad", keras, opt.Adagrad(0.1), x, y, rng)
    opt3 = keras3.optimizers
    case("keras3_sgd", keras3, opt3.SGD(0.1, momentum=0.9, nesterov=True), x, y, rng,
         metrics=["mae", "mape"])
    case("keras3_adam", keras3, opt3.Adam(0.01, beta_1=0.8, amsgrad=True), x, y, rng)
    case("adamw", keras, opt.AdamW(0.01, weight_decay=0.2), x, y, rng)
    case("sgd_weight_decay", keras, opt.SGD(0.1, momentum=0.5, weight_decay=0.3), x, y, rng)
    case("keras3_adamw", keras3, opt3.AdamW(0.01, weight_decay=0.2), x, y, rng)
    case("adam_global_clipnorm", keras, opt.Adam(0.01, global_clipnorm=0.05), x, y, rng)
    case("keras3_sgd_global_clipnorm", keras3, opt3.SGD(0.1, momentum=0.5, global_clipnorm=0.05),
         x, y, rng)
    case("rmsprop_clipnorm_clipvalue", keras, opt.RMSprop(0.01, clipnorm=0.05, clipvalue=0.001),
         x, y, rng)
    sched = keras.optimizers.schedules
    sched3 = keras3.optimizers.schedules
    case("sgd_exponential_decay", keras,
         opt.SGD(sched.ExponentialDecay(0.1, 3, 0.5, staircase=True), momentum=0.5), x, y, rng)
    case("adam_piecewise", keras,
         opt.Adam(sched.PiecewiseConstantDecay([2, 5], [0.02, 0.01, 0.005])), x, y, rng)
    case("rmsprop_polynomial", keras,
         opt.RMSprop(sched.PolynomialDecay(0.01, 3, 0.001, power=2.0, cycle=True)), x, y, rng)
    case("adagrad_inverse_time", keras, opt.Adagrad(sched.InverseTimeDecay(0.1, 2, 0.5)), x, y,
         rng)
    case("adam_cosine", keras, opt.Adam(sched.CosineDecay(0.01, 6, alpha=0.2)), x, y, rng)
    case("keras3_sgd_exponential_decay", keras3, opt3.SGD(sched3.ExponentialDecay(0.1, 4, 0.9)),
         x, y, rng)
    case("keras3_adamw_cosine_warmup", keras3,
         opt3.AdamW(sched3.CosineDecay(0.0, 4, alpha=0.1, warmup_target=0.01, warmup_steps=3),
                    weight_decay=0.2), x, y, rng)
    case("sgd_cosine_restarts", keras,
         opt.SGD(sched.CosineDecayRestarts(0.1, 2, t_mul=2.0, m_mul=0.8, alpha=0.1), momentum=0.5),
         x, y, rng)
    case("keras3_rmsprop_cosine_restarts", keras3,
         opt3.RMSprop(sched3.CosineDecayRestarts(0.01, 3, t_mul=1.0, m_mul=0.5)), x, y, rng)
    # tf.keras's optimizers before 2.11 (optimizers.legacy since): HDF5 keeps their state (a
    # .keras archive keeps none), and their decay divides the rate by 1 + decay * iterations.
    legacy = keras.optimizers.legacy
    case("legacy_sgd_decay", keras, legacy.SGD(0.1, decay=0.2), x, y, rng, ext="h5")
    case("legacy_sgd_momentum_decay", keras,
         legacy.SGD(0.1, momentum=0.5, nesterov=True, decay=0.1), x, y, rng, ext="h5")
    case("legacy_adam_decay", keras, legacy.Adam(0.01, beta_1=0.8, amsgrad=True, decay=0.05),
         x, y, rng, ext="h5")
    case("legacy_rmsprop_momentum", keras,
         legacy.RMSprop(0.01, momentum=0.5, centered=True), x, y, rng, ext="h5")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
