"""Close the figures each test drew (matplotlib keeps pyplot figures open)."""

import pytest


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
