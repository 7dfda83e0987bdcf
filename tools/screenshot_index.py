"""Screenshot ``runs/index.html`` with headless Chromium and check the picture shows the page.

    python tools/screenshot_index.py [runs/index.html] [--out runs/index.png] [--width 1400]
                                     [--height 4000]

Needs Debian's ``chromium`` (``apt-get install -y chromium``) or Google Chrome on the PATH.
The check (exit status 1 when it fails): the PNG has the window's size, the table's "holds"
cell colours (green and/or red) are present, and so are saturated pixels outside those
colours (the matplotlib figures' curves and images), i.e. the table and its figures rendered.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: the "holds" cells' backgrounds in lamina.experiments.reproduce's page
YES, NO = (0xD7, 0xF5, 0xD7), (0xF8, 0xD4, 0xD4)


def browser() -> str | None:
    """The first Chromium-like browser on the PATH, or None."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(page: str, png: str, width: int = 1400, height: int = 4000,
               timeout: float = 120.0) -> str:
    """Render ``page`` (an HTML file) headless into ``png``; returns the PNG's path."""
    exe = browser()
    if exe is None:
        raise FileNotFoundError("No Chromium found. Expected one of " + ", ".join(BROWSERS)
                                + " on the PATH. Fix: apt-get install -y chromium")
    url = "file://" + os.path.abspath(page)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={os.path.abspath(png)}", url]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not os.path.exists(png):
        raise RuntimeError(f"{exe} failed (status {proc.returncode}): {proc.stderr[-2000:]}")
    return png


def _rgb(png: str) -> np.ndarray:
    import matplotlib.image as mpimg

    image = mpimg.imread(png)
    if image.dtype != np.uint8:
        image = np.round(image * 255).astype(np.uint8)
    return image[..., :3]


def check(png: str, width: int | None = None, height: int | None = None,
          min_figure: int = 500) -> dict:
    """What the screenshot shows: its size, the pixels of the green/red "holds" cells, the
    saturated pixels outside them (figures), the non-white fraction; ``"ok"`` is True when
    it has the expected size, a coloured table cell and at least ``min_figure`` figure pixels."""
    rgb = _rgb(png)
    pixels = rgb.reshape(-1, 3).astype(int)
    cells = sum(int(np.all(pixels == c, axis=1).sum()) for c in (YES, NO))
    in_cells = np.zeros(len(pixels), bool)
    for c in (YES, NO):
        in_cells |= np.all(np.abs(pixels - c) <= 3, axis=1)
    saturation = pixels.max(axis=1) - pixels.min(axis=1)
    figure_pixels = int(((saturation > 60) & ~in_cells).sum())
    non_white = float((pixels.min(axis=1) < 245).mean())
    size_ok = (width is None or rgb.shape[1] == width) and (height is None or rgb.shape[0] == height)
    return {"width": rgb.shape[1], "height": rgb.shape[0], "cell_pixels": cells,
            "figure_pixels": figure_pixels, "non_white": round(non_white, 4),
            "ok": bool(size_ok and cells > 0 and figure_pixels >= min_figure)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", nargs="?", default="runs/index.html")
    parser.add_argument("--out", default=None, help="PNG path (default: beside the page)")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=4000)
    args = parser.parse_args(argv)
    out = args.out or os.path.splitext(args.page)[0] + ".png"
    screenshot(args.page, out, args.width, args.height)
    found = check(out, args.width, args.height)
    print(f"{out}: {found}")
    return 0 if found["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
