"""tf-keras (the Keras 2 API on tensorflow-cpu) as the golden scripts use it: quiet, on the
CPU, on one thread, with Keras's CuDNNGRU class for model_from_json. Import this before
anything else that imports TensorFlow: the environment variables take effect only then.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

try:
    from tf_keras.src.layers.rnn.cudnn_gru import CuDNNGRU  # noqa: E402
except ImportError:  # older tf-keras layouts
    from tf_keras.layers import CuDNNGRU  # noqa: E402

# One thread each: TensorFlow's reductions then sum in one order, so the goldens regenerate
# bit for bit.
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

# The repository's root (scripts/golden/ is two levels down).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def set_uniform_weights(model, rng, low=-0.5, high=0.5):
    """Gives every weight of a Keras model (tf-keras or Keras 3) float32 values drawn
    uniformly from [low, high) by the numpy generator `rng`, in get_weights() order."""
    model.set_weights([rng.uniform(low, high, w.shape).astype("float32")
                       for w in model.get_weights()])
