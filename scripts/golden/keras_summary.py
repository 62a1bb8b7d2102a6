"""Keras's model.summary() text for small models, as the expected output of rill's Model::Summary.

Writes tests/golden/summary/<case>/{model.json,summary.txt} with tf-keras 2.x (the Keras 2 API
rill reads): a Sequential model with a name longer than the first column (Keras wraps it), and
a functional chain (whose table shows the InputLayer row) and a functional model with two
heads (not a chain: Keras's wider table with the "Connected to" column).
Run: python3 scripts/golden/keras_summary.py
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tf_keras as keras  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "summary")


def sequential():
    return keras.Sequential(
        [
            keras.layers.InputLayer(input_shape=(5, 3)),
            keras.layers.GRU(4, return_sequences=True,
                             name="a_recurrent_layer_with_a_long_name"),
            keras.layers.Dense(2, name="dense"),
        ],
        name="sequential",
    )


def functional():
    x = keras.Input((7, 2), name="features")
    h = keras.layers.GRU(3, name="gru")(x)
    y = keras.layers.Dense(1, activation="sigmoid", name="dense")(h)
    return keras.Model(x, y, name="chain")


def two_heads():
    x = keras.Input((5, 3), name="features")
    h = keras.layers.GRU(4, return_sequences=True, name="gru")(x)
    a = keras.layers.Dense(2, name="head_a")(h)
    b = keras.layers.Dense(1, name="a_second_head_with_a_long_name")(h)
    return keras.Model(x, [a, b], name="two_heads")


def main():
    for case, build in (("sequential", sequential), ("functional", functional),
                        ("two_heads", two_heads)):
        model = build()
        folder = os.path.join(OUT, case)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "model.json"), "w") as f:
            f.write(model.to_json())
        lines = []
        model.summary(print_fn=lines.append)
        with open(os.path.join(folder, "summary.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
