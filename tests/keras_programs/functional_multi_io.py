"""The Keras functional API guide's ticket classifier: three inputs (title, body, tags), two outputs
(priority, department), losses and loss weights given by output name."""
import numpy as np
import keras
from keras import layers


def main():
    num_tags, num_words, num_departments = 6, 50, 3
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.Embedding(num_words, 16)(title_input)
    body_features = layers.Embedding(num_words, 16)(body_input)
    title_features = layers.LSTM(16)(title_features)
    body_features = layers.LSTM(8)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    model = keras.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-2),
                  loss={"priority": keras.losses.BinaryCrossentropy(from_logits=True),
                        "department": keras.losses.CategoricalCrossentropy(from_logits=True)},
                  loss_weights={"priority": 1.0, "department": 0.2})
    rng = np.random.default_rng(7)
    title_data = rng.integers(num_words, size=(256, 10))
    body_data = rng.integers(num_words, size=(256, 20))
    tags_data = rng.integers(2, size=(256, num_tags)).astype("float32")
    priority_targets = tags_data[:, :1].copy()  # learnable: the first tag decides the priority
    department_targets = np.eye(num_departments, dtype="float32")[title_data[:, 0] % num_departments]
    history = model.fit({"title": title_data, "body": body_data, "tags": tags_data},
                        {"priority": priority_targets, "department": department_targets},
                        epochs=4, batch_size=32, verbose=0)
    h = history.history
    return {"first_loss": h["loss"][0], "last_loss": h["loss"][-1], "keys": sorted(h)}
