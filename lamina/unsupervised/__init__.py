"""Unsupervised deep learning of decks 000/001: RBMs, Deep Belief Networks, autoencoders,
and what their codes are good for (clustering, retrieval).

Example:
    >>> from lamina import unsupervised
    >>> unsupervised.RBM(16).get_params()["n_hidden"]
    16
"""

from lamina.unsupervised import codes, penalties
from lamina.unsupervised.autoencoders import (
    Autoencoder,
    ContractiveAutoencoder,
    ConvAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
    StackedAutoencoder,
    VariationalAutoencoder,
)
from lamina.unsupervised.codes import (
    ari,
    binary_codes,
    cluster,
    hamming_distances,
    nmi,
    precision_at_k,
    random_hyperplane_codes,
    retrieve,
)
from lamina.unsupervised.dbn import DBN
from lamina.unsupervised.rbm import RBM, ClassificationRBM

__all__ = [
    "RBM", "ClassificationRBM", "DBN", "Autoencoder", "DenoisingAutoencoder",
    "SparseAutoencoder", "ContractiveAutoencoder", "VariationalAutoencoder", "ConvAutoencoder",
    "StackedAutoencoder", "cluster", "nmi", "ari", "binary_codes", "hamming_distances",
    "retrieve", "precision_at_k", "random_hyperplane_codes", "codes", "penalties",
]
