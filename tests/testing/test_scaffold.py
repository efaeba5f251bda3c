"""``hub plugin new``: the generated plugin is a complete project that passes the conformance kit."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from hub import transforms
from hub.errors import ConfigError
from hub.mapping import load_mapping_file
from hub.scaffold import STREAMS, create_plugin

REPO = Path(__file__).resolve().parents[2]

# A plugin author's own test beside the suite, using the fixtures of the pytest11 plugin.
OWN_TEST = '''
from hub import http
from hub_{name} import {cls}, Fake{cls}


def test_fixtures_of_the_pytest_plugin(hub_no_sleep, hub_kit):
    http.sleep(2.5)
    assert hub_no_sleep == [2.5]
    kit = hub_kit({cls}, Fake{cls})
    ids = kit.seed("{stream}", 3)
    assert [r.id for p in kit.read(kit.connect(), "{stream}") for r in p.records] == ids
'''


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", sorted(STREAMS))
def test_every_kind_generates_a_complete_project(tmp_path: Path, kind: str) -> None:
    root = create_plugin("acme", kind, tmp_path)
    assert root == tmp_path / "seamless-hub-acme"
    assert _files(root) == {
        "pyproject.toml", "README.md", "tests/test_conformance.py", "hub_acme/__init__.py",
        "hub_acme/connector.py", "hub_acme/fake.py", "hub_acme/mappings/acme.yaml",
    }
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "seamless-hub-acme"
    assert project["project"]["entry-points"]["seamless_hub"] == {"acme": "hub_acme"}
    assert project["tool"]["setuptools"]["package-data"] == {"hub_acme": ["mappings/*.yaml"]}
    for path in root.rglob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    connector = (root / "hub_acme" / "connector.py").read_text(encoding="utf-8")
    assert f"Kind.{kind.upper()}" in connector and json.dumps(STREAMS[kind]) in connector
    mapping, issues = load_mapping_file(root / "hub_acme" / "mappings" / "acme.yaml",
                                        {t.name: t for t in transforms.BUILTINS}, streams=list(STREAMS[kind]))
    assert issues == [] and mapping is not None
    assert {s: m.entity for s, m in mapping.streams.items()} == STREAMS[kind]
    assert "TestAcme = connector_test_class(Acme, FakeAcme" in (root / "tests" / "test_conformance.py").read_text()


def test_names_are_checked(tmp_path: Path) -> None:
    create_plugin("acme_crm2", "crm", tmp_path)
    assert (tmp_path / "seamless-hub-acme-crm2" / "hub_acme_crm2" / "connector.py").read_text().count("class AcmeCrm2(")
    for bad in ("Acme", "1acme", "acme-crm", "a", "class", "acme_"):
        with pytest.raises(ConfigError, match="plugin name"):
            create_plugin(bad, "crm", tmp_path)
    with pytest.raises(ConfigError, match="kind 'erp' must be one of crm, sfa, ma, cms, helpdesk"):
        create_plugin("acme", "erp", tmp_path)
    with pytest.raises(ConfigError, match="not empty"):
        create_plugin("acme_crm2", "crm", tmp_path)


def _pytest(tests: Path, pythonpath: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``tests`` in a new interpreter, the way a plugin author would."""
    args = [sys.executable, "-m", "pytest", str(tests), "-q", "-p", "no:cacheprovider"]
    installed = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    if "hub.testing.pytest_plugin" not in installed:  # this checkout is not pip-installed
        args += ["-p", "hub.testing.pytest_plugin"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath)}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def _assert_passed(result: subprocess.CompletedProcess[str]) -> None:
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", summary) and not re.search(r"\d+ (failed|errors?|skipped|xfailed)", summary), summary


def _generate_with_own_test(tmp_path: Path, name: str, kind: str) -> Path:
    root = create_plugin(name, kind, tmp_path / "src")
    cls = "".join(p.capitalize() for p in name.split("_"))
    stream = next(iter(STREAMS[kind]))
    (root / "tests" / "test_own.py").write_text(OWN_TEST.format(name=name, cls=cls, stream=stream), encoding="utf-8")
    return root


def test_generated_plugin_passes_the_kit_from_its_source_tree(tmp_path: Path) -> None:
    root = _generate_with_own_test(tmp_path, "acme", "helpdesk")
    result = _pytest(root / "tests", [root, REPO], cwd=tmp_path)
    _assert_passed(result)


@pytest.mark.slow
def test_generated_plugin_installs_with_pip_and_passes_the_kit(tmp_path: Path) -> None:
    root = _generate_with_own_test(tmp_path, "acme_shop", "ma")
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(root)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (target / "hub_acme_shop" / "mappings" / "acme_shop.yaml").exists()
    # The tests run against the installed package (the source tree is not on the path).
    result = _pytest(root / "tests", [target, REPO], cwd=tmp_path)
    _assert_passed(result)
    probe = subprocess.run(
        [sys.executable, "-c", "from hub import plugins; p = plugins.load(); "
         "print(p.connectors['acme_shop'].__module__, p.sandboxes['acme_shop'].__name__, "
         "[str(d) for d in p.mapping_dirs], [str(e) for e in p.errors])"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(REPO)])},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith("hub_acme_shop.connector FakeAcmeShop")
    assert str(target / "hub_acme_shop" / "mappings") in probe.stdout
