"""keras.io "Convolutional autoencoder for image denoising" (Conv2D / MaxPooling2D encoder,
Conv2DTranspose decoder), on synthetic images."""
import numpy as np
import keras
from keras import layers


def main():
    rng = np.random.default_rng(4)
    base = np.zeros((256, 16, 16, 1), "float32")
    for i in range(256):  # a bright square at a random place
        r, c = rng.integers(0, 10, 2)
        base[i, r:r + 6, c:c + 6] = 1.0
    noisy = np.clip(base + 0.3 * rng.standard_normal(base.shape).astype("float32"), 0.0, 1.0)
    inputs = layers.Input(shape=(16, 16, 1))
    x = layers.Conv2D(8, (3, 3), activation="relu", padding="same")(inputs)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(8, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2DTranspose(8, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(8, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    autoencoder = keras.Model(inputs, x)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    first = autoencoder.evaluate(noisy, base, verbose=0)
    autoencoder.fit(noisy, base, epochs=6, batch_size=32, shuffle=True, verbose=0)
    last = autoencoder.evaluate(noisy, base, verbose=0)
    return {"first_loss": float(first), "last_loss": float(last)}
