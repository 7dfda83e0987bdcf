"""Speed, in one place: every decision about the machine that a run makes.

Layers, models, optimizers and the loops read like the decks; this package decides, once at
the start of each ``fit``/``evaluate``/``predict``, how they run fastest here:

* :mod:`lamina.fast.policy`: which kernels and layout win on this CPU (AVX2, AVX-512, ...);
* :mod:`lamina.fast.pooling`, :mod:`lamina.fast.conv_grad`: lamina's own CPU kernels;
* :mod:`lamina.fast.rewrites`: module rewrites with the same values and gradients (a kernel
  swap, ReLU after max pooling);
* :mod:`lamina.fast.steps`: compiled training steps (``jit``: forward graph, whole step,
  CUDA graphs);
* :mod:`lamina.fast.plan`: the execution plan that puts them together for one call;
* :mod:`lamina.fast.rbm`: the RBM's fused contrastive-divergence step (same draws, same
  values), installed for the length of one RBM ``fit``;
* :mod:`lamina.fast.draws`, :mod:`lamina.fast.native`: ``torch.rand``'s numbers from a C copy
  of the CPU generator's Mersenne twister, built on first use where a C compiler is at hand.

``model.compile(..., fast=False)`` switches all of it off: the textbook path.

Example:
    >>> import torch, lamina as lm
    >>> from lamina.fast import Settings, plan_for
    >>> net = lm.zoo.LeNet5()
    >>> with plan_for(net, torch.device("cpu"), Settings(fast=False), training=True) as plan:
    ...     plan.rewrites
    []
"""

from lamina.fast.plan import DEFAULT_SETTINGS, ExecutionPlan, Settings, plan_for
from lamina.fast.policy import CpuPolicy, emulate

__all__ = ["ExecutionPlan", "Settings", "DEFAULT_SETTINGS", "plan_for", "CpuPolicy", "emulate"]
