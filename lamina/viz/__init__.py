"""Pictures (matplotlib, imported lazily): training curves, filter grids, class activation maps,
feature maps.

Each plotting function takes data (a ``History``, a weight tensor, an image and its heat
map), not a model, and returns a matplotlib ``Figure``; ``class_activation_map`` computes
the heat map from a model, and ``feature_maps`` a layer's output.
"""

from lamina.viz.cam import class_activation_map, plot_class_activation_map
from lamina.viz.features import feature_maps, layer_output, plot_feature_maps
from lamina.viz.filters import plot_filters
from lamina.viz.gradients import plot_gradient_flow
from lamina.viz.training import plot_history
from lamina.viz.unsupervised import plot_codes_2d, plot_gibbs_chain, plot_reconstructions

__all__ = ["plot_history", "plot_filters", "class_activation_map", "plot_class_activation_map",
           "plot_gradient_flow", "plot_gibbs_chain", "plot_reconstructions", "plot_codes_2d",
           "feature_maps", "layer_output", "plot_feature_maps"]
