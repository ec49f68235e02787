"""Static PNG charts: one image per chart, decodable, not blank."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib import image as mpimg

from reachplan.reports.png import png_names, render_pngs
from tests.reports.report_fixture import small_report


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    return render_pngs(small_report().data)


def test_one_image_per_chart(images):
    data = small_report().data
    assert list(images) == png_names(data)
    assert len(images) == 2 + len(data.scenario_names) + data.has_cost_index + (
        data.displacement_totals["simulation"].nunique())
    assert ("cost_index.png" in images) == data.has_cost_index
    assert len(set(images)) == len(images)
    # names from scenario files become safe file names
    assert all(n.replace("_", "").replace(".", "").replace("-", "").isalnum() for n in images)


def test_images_decode_and_show_something(images):
    for name, blob in images.items():
        assert blob[:8] == b"\x89PNG\r\n\x1a\n", name
        pixels = mpimg.imread(io.BytesIO(blob), format="png")
        height, width = pixels.shape[:2]
        assert width >= 600 and height >= 300, name
        # a drawn chart has many distinct colours, a blank canvas one
        flat = pixels[..., :3].reshape(-1, 3)
        assert len(np.unique(np.round(flat * 255).astype(int), axis=0)) > 20, name
