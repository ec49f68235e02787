import pandas as pd

from reachplan.model.plan import Plan


def test_cells_are_masked_not_zero(tiny):
    plan = Plan.from_tables(tiny)
    cells = plan.cell_requirements()
    assert cells[("POL", "HEALTH", 2024)] == 100.0
    assert ("POL", "WASH", 2025) not in cells.index  # not planned: absent, not zero
    assert cells.sum() == 550.0


def test_objective_shares(tiny):
    shares = Plan.from_tables(tiny).objective_shares()
    assert shares.loc[("POL", "HEALTH", 2024)].tolist() == [0.5, 0.5]
    assert shares.loc[("MDA", "WASH", 2024)].tolist() == [1.0, 0.0]
    assert (shares.sum(axis=1).round(12) == 1).all()


def test_fingerprint_ignores_row_order_but_not_values(tiny):
    a = Plan.from_tables(tiny)
    shuffled = dict(tiny)
    shuffled["requirements"] = tiny["requirements"].sample(frac=1, random_state=1)
    assert Plan.from_tables(shuffled).fingerprint == a.fingerprint
    changed = dict(tiny)
    req = tiny["requirements"].copy()
    req.loc[0, "requirements_usd"] = 101.0
    changed["requirements"] = req
    assert Plan.from_tables(changed).fingerprint != a.fingerprint


def test_indices_come_from_the_tables(tiny):
    plan = Plan.from_tables(tiny)
    assert list(plan.locations_index) == ["MDA", "POL"]  # canonical: sorted by code
    assert list(plan.years) == [2024, 2025]
    assert plan.requirement_by("year").to_dict() == {2024: 400.0, 2025: 150.0}
    assert isinstance(plan.population("targeted"), pd.Series)
    assert plan.population("targeted")[("MDA", 2024)] == 300.0


def test_plan_pickles_for_worker_processes(tiny):
    import pickle

    plan = Plan.from_tables(tiny)
    again = pickle.loads(pickle.dumps(plan))
    assert again.fingerprint == plan.fingerprint
    assert again.cell_requirements().equals(plan.cell_requirements())
