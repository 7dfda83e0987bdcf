"""``fit`` with ``torch.optim.LBFGS``: the step passes a closure that re-evaluates the loss."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina.training.binding import needs_closure


def _data(n=64, seed=0):
    g = np.random.default_rng(seed)
    x = g.uniform(-1, 1, (n, 2)).astype(np.float32)
    y = (np.sin(2 * x[:, :1]) * np.cos(x[:, 1:]) + 0.5 * x[:, 1:]).astype(np.float32)
    return x, y


def _net(seed=0):
    lm.set_seed(seed)
    return lm.Sequential([lm.layers.Dense(8, activation="tanh"), lm.layers.Dense(1)],
                         input_shape=(2,))


def test_needs_closure_tells_lbfgs_from_first_order_optimizers():
    p = [torch.zeros(2, requires_grad=True)]
    assert needs_closure(torch.optim.LBFGS(p))
    assert not needs_closure(torch.optim.SGD(p, lr=0.1))
    assert not needs_closure(torch.optim.Adam(p))
    assert not needs_closure(lm.optimizers.Adam())


def test_lbfgs_fit_equals_a_hand_written_torch_loop():
    x, y = _data()
    model = _net()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    model.compile(optimizer=torch.optim.LBFGS(model.parameters(), lr=1, max_iter=5,
                                              history_size=10),
                  loss="mse", device="cpu")
    history = model.fit(x, y, batch_size=len(x), epochs=6, shuffle=False, verbose=0)

    # the oracle: plain torch modules with the same starting weights, the textbook loop
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    assert list(start) == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                           "layers.1.bias"]
    with torch.no_grad():
        for dst, src in zip(net.parameters(), start.values()):
            dst.copy_(src)
    opt = torch.optim.LBFGS(net.parameters(), lr=1, max_iter=5, history_size=10)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(xt), yt)
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(6)]   # step returns the first loss
    np.testing.assert_allclose(history["loss"], losses, rtol=0, atol=1e-6)
    final = torch.nn.functional.mse_loss(net(xt), yt).item()
    assert model.evaluate(x, y)["loss"] == pytest.approx(final, abs=1e-6)


def test_lbfgs_reaches_a_loss_adam_does_not_in_the_same_steps():
    x, y = _data()
    losses = {}
    for name in ("lbfgs", "adam"):
        model = _net()
        opt = (torch.optim.LBFGS(model.parameters(), max_iter=20, line_search_fn="strong_wolfe")
               if name == "lbfgs" else torch.optim.Adam(model.parameters(), lr=1e-2))
        model.compile(optimizer=opt, loss="mse", device="cpu")
        model.fit(x, y, batch_size=len(x), epochs=15, verbose=0)
        losses[name] = model.evaluate(x, y)["loss"]
    assert losses["lbfgs"] < 1e-3 < losses["adam"], losses
