"""keras.io "Character-level recurrent sequence-to-sequence model": an LSTM encoder whose states start the
LSTM decoder (teacher forcing), then the inference encoder and decoder cut from the trained model through
model.input / layer.output, decoding greedily. The task: reverse a short string."""
import numpy as np
import keras


def main():
    chars = "abcdef"
    n_tok = len(chars) + 2  # + start, end
    start, end = len(chars), len(chars) + 1
    rng = np.random.default_rng(6)
    n, length = 600, 4
    src = rng.integers(0, len(chars), (n, length))
    tgt = src[:, ::-1]
    enc_in = np.eye(n_tok, dtype="float32")[src]
    dec_tokens = np.concatenate([np.full((n, 1), start), tgt], 1)
    dec_in = np.eye(n_tok, dtype="float32")[dec_tokens]
    dec_out = np.eye(n_tok, dtype="float32")[np.concatenate([tgt, np.full((n, 1), end)], 1)]
    latent_dim = 48

    encoder_inputs = keras.Input(shape=(None, n_tok))
    encoder = keras.layers.LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = keras.Input(shape=(None, n_tok))
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = keras.layers.Dense(n_tok, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit([enc_in, dec_in], dec_out, batch_size=32, epochs=12, verbose=0)

    # inference models, as the example builds them from the trained model's layers
    encoder_inputs = model.input[0]
    encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output
    encoder_model = keras.Model(encoder_inputs, [state_h_enc, state_c_enc])
    decoder_inputs = model.input[1]
    decoder_state_input_h = keras.Input(shape=(latent_dim,))
    decoder_state_input_c = keras.Input(shape=(latent_dim,))
    decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
    decoder_lstm = model.layers[3]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(decoder_inputs, initial_state=decoder_states_inputs)
    decoder_dense = model.layers[4]
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = keras.Model([decoder_inputs] + decoder_states_inputs,
                                [decoder_outputs, state_h_dec, state_c_dec])

    correct = 0
    for i in range(40):
        states = encoder_model.predict(enc_in[i:i + 1], verbose=0)
        token = np.eye(n_tok, dtype="float32")[[[start]]]
        decoded = []
        for _ in range(length):
            out, h, c = decoder_model.predict([token] + list(states), verbose=0)
            k = int(np.argmax(out[0, -1]))
            decoded.append(k)
            token = np.eye(n_tok, dtype="float32")[[[k]]]
            states = [h, c]
        correct += decoded == list(tgt[i])
    return {"exact": correct / 40}
