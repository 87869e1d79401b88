"""keras.io "Bidirectional LSTM on IMDB", on synthetic reviews padded with keras.utils.pad_sequences."""
import numpy as np
import keras
from keras import layers


def main():
    max_features, maxlen = 40, 24
    rng = np.random.default_rng(3)
    lengths = rng.integers(8, maxlen, 400)
    seqs = [list(rng.integers(3, max_features, n)) for n in lengths]
    y = rng.integers(0, 2, 400)
    for s, label in zip(seqs, y):
        s[0] = s[-1] = 1 if label else 2  # the review's first and last words carry its sentiment
    x = keras.utils.pad_sequences(seqs, maxlen=maxlen)
    inputs = keras.Input(shape=(None,), dtype="int32")
    h = layers.Embedding(max_features, 16)(inputs)
    h = layers.Bidirectional(layers.LSTM(16, return_sequences=True))(h)
    h = layers.Bidirectional(layers.LSTM(16))(h)
    outputs = layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:320], y[:320], batch_size=32, epochs=4, validation_data=(x[320:], y[320:]), verbose=0)
    loss, acc = model.evaluate(x[320:], y[320:], verbose=0)
    return {"accuracy": float(acc)}
