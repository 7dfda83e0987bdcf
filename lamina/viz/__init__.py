"""Pictures (matplotlib, imported lazily): training curves, filter grids, class activation maps,
feature maps, and what nets learn.

Each ``plot_*`` function takes data (a ``History``, a weight tensor, an image and its heat
map), not a model, and returns a matplotlib ``Figure``; ``class_activation_map`` computes
the heat map from a model, and ``feature_maps`` a layer's output. The pictures of what a
trained net learned take the model: ``filters`` (any layer's weights), ``saliency``
(Simonyan et al. 2013), ``deconvnet`` (Zeiler & Fergus 2014), ``linear_regions`` (a ReLU
net's affine pieces in 2-D), ``rbm_2d`` (an RBM on 2-D data); ``embedding`` maps codes to
2-D (t-SNE, PCA). Each returns a ``Figure`` (with the computed array first where there is
one) and saves a PNG when given ``path=``.
"""

from lamina.viz.attribution import deconvnet, saliency
from lamina.viz.cam import class_activation_map, plot_class_activation_map
from lamina.viz.embedding import embedding
from lamina.viz.features import feature_maps, layer_output, plot_feature_maps
from lamina.viz.filters import filters, plot_filters
from lamina.viz.gradients import gradient_norms, plot_gradient_flow
from lamina.viz.regions import linear_regions
from lamina.viz.training import plot_history
from lamina.viz.unsupervised import plot_codes_2d, plot_gibbs_chain, plot_reconstructions, rbm_2d

__all__ = ["plot_history", "plot_filters", "class_activation_map", "plot_class_activation_map",
           "plot_gradient_flow", "plot_gibbs_chain", "plot_reconstructions", "plot_codes_2d",
           "feature_maps", "layer_output", "plot_feature_maps", "filters", "saliency",
           "deconvnet", "embedding", "linear_regions", "rbm_2d", "gradient_norms"]
