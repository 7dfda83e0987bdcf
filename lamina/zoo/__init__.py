"""Model zoo: the decks' classic models, ready to compile."""

from lamina.zoo.classic import MLP, LogisticRegression, Perceptron
from lamina.zoo.lenet import LeNet5

__all__ = ["Perceptron", "LogisticRegression", "MLP", "LeNet5"]
