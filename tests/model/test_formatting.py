import math

import pytest

from reachplan.model.formatting import format_people, format_share_of_futures, format_usd


@pytest.mark.parametrize(
    ("value", "kwargs", "text"),
    [
        (1_234_567.0, {}, "$1.2M"),
        (1_000_000.0, {}, "$1.0M"),
        (999_999.0, {}, "$999,999"),  # under a million: whole dollars, never "$1.0M"
        (150_000.0, {}, "$150,000"),  # never "$0.1M"
        (0.0, {}, "$0"),
        (-2e6, {}, "$-2.0M"),
        (-5e5, {}, "$-500,000"),
        (1_234_567.0, {"decimals": 2}, "$1.23M"),
        (150_000.0, {"unit": "M"}, "$0.1M"),
        (12_345_678.0, {"unit": "exact"}, "$12,345,678"),
        (math.nan, {}, "-"),
        (math.inf, {"unit": "M", "missing": "n/a"}, "n/a"),
        (None, {"missing": "n/a"}, "n/a"),
    ],
)
def test_format_usd(value, kwargs, text):
    assert format_usd(value, **kwargs) == text


@pytest.mark.parametrize(
    ("value", "kwargs", "text"),
    [(12_345.4, {}, "12,345"), (12_345.6, {}, "12,346"), (0.0, {}, "0"),
     (math.nan, {}, "-"), (None, {"missing": "n/a"}, "n/a"), (-math.inf, {}, "-")],
)
def test_format_people(value, kwargs, text):
    assert format_people(value, **kwargs) == text


@pytest.mark.parametrize(("share", "text"), [
    (0.0, "0%"), (1 / 200, "<1%"), (0.004, "<1%"), (0.37, "37%"), (0.994, "99%"),
    (199 / 200, ">99%"), (1.0, "100%"), (None, "n/a"), (float("nan"), "n/a"),
])
def test_format_share_of_futures_never_rounds_to_a_wrong_0_or_100(share, text):
    assert format_share_of_futures(share) == text
