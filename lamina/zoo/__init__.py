"""Model zoo: the decks' classic models, ready to compile."""

from lamina.zoo.alexnet import AlexNet, ZFNet
from lamina.zoo.allcnn import AllConvNet
from lamina.zoo.captioning import CaptionNet
from lamina.zoo.classic import MLP, LogisticRegression, Perceptron
from lamina.zoo.convert import to_fully_convolutional
from lamina.zoo.densenet import DenseNet121
from lamina.zoo.fcn import FCN
from lamina.zoo.googlenet import GoogLeNet
from lamina.zoo.lenet import LeNet5
from lamina.zoo.nin import NiN
from lamina.zoo.rednet import REDNet
from lamina.zoo.resnet import ResNet
from lamina.zoo.sequence import CharLM, SequenceClassifier, SequenceTagger
from lamina.zoo.srcnn import SRCNN
from lamina.zoo.unet import UNet
from lamina.zoo.vgg import VGG

__all__ = [
    "Perceptron", "LogisticRegression", "MLP", "LeNet5", "AlexNet", "ZFNet", "VGG", "NiN",
    "AllConvNet", "GoogLeNet", "ResNet", "DenseNet121", "FCN", "UNet", "SRCNN", "REDNet",
    "to_fully_convolutional", "SequenceClassifier", "SequenceTagger", "CharLM", "CaptionNet",
]
