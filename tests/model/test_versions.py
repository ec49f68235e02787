import importlib.metadata

from reachplan.model.versions import NOT_INSTALLED, PACKAGES, package_versions


def test_installed_packages_give_their_version_and_missing_ones_say_so():
    versions = package_versions(("numpy", "no-such-package-reachplan-test"))
    assert list(versions) == ["numpy", "no-such-package-reachplan-test"]
    assert versions["numpy"] == importlib.metadata.version("numpy")
    assert versions["no-such-package-reachplan-test"] == NOT_INSTALLED == "not installed"


def test_default_names_cover_the_solver_stack():
    assert set(package_versions()) == set(PACKAGES) >= {"reachplan", "pulp", "highspy"}
