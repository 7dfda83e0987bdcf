"""Code written for other deep-learning APIs, running on lamina.

``lamina.compat.keras1``: the Keras 1 API that the lecture decks' code uses
(``Convolution2D(nb_filter, nb_row, nb_col, border_mode=...)``, ``fit(nb_epoch=...)``),
mapped onto lamina's layers, models and optimizers.
"""

__all__: list[str] = []
