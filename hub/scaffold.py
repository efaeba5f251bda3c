"""``hub plugin new``: generate a third-party connector plugin that installs and passes the kit.

:func:`create_plugin` writes a pip-installable project -- ``pyproject.toml`` with the
``seamless_hub`` entry point, a connector module, a sandbox fake, a mapping file and tests that run
the conformance kit (:mod:`hub.testing`) in one line -- from the ``.tmpl`` files in
``hub/scaffold_templates``. The generated connector already passes the kit against the generated
fake; the author then makes both follow the real vendor's API.
"""

from __future__ import annotations

import json
import keyword
import re
from importlib import resources
from pathlib import Path

from hub.connector import Kind
from hub.errors import ConfigError

# Streams of a new plugin by kind: what such tools commonly call their people and companies.
STREAMS: dict[str, dict[str, str]] = {
    "crm": {"contacts": "person", "companies": "organization"},
    "sfa": {"contacts": "person", "accounts": "organization"},
    "ma": {"contacts": "person"},
    "cms": {"members": "person"},
    "helpdesk": {"users": "person", "organizations": "organization"},
}

# Mapping-file entries of the generated fake's fields, by entity.
_MAPPED: dict[str, str] = {
    "person": """\
      - field: first_name
        canonical: given_name
        transform: nfkc
      - field: last_name
        canonical: family_name
        transform: nfkc
      - field: email
        canonical: emails[0].address
        transform: email
      - field: phone
        canonical: phones[0].number
        transform: phone
      - field: job_title
        canonical: job_title
      # The hub's key on records it created (the upsert key): links a record the hub wrote to
      # its entity even when a crash kept the hub from recording the write.
      - field: external_key
        canonical: id
        direction: in
""",
    "organization": """\
      - field: name
        canonical: name
      - field: domain
        canonical: domains[0]
        transform: lower
      - field: phone
        canonical: phones[0].number
        transform: phone
      - field: external_key
        canonical: id
        direction: in
""",
}

# template file -> path in the generated project ({package} and {name} filled in)
_FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "plugin_init.py.tmpl": "{package}/__init__.py",
    "connector.py.tmpl": "{package}/connector.py",
    "fake.py.tmpl": "{package}/fake.py",
    "test_conformance.py.tmpl": "tests/test_conformance.py",
}
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def create_plugin(name: str, kind: str, dest: Path) -> Path:
    """Generate the plugin project ``seamless-hub-<name>`` inside ``dest``.

    Args:
        name: the connector name (``acme``): lower-case letters, digits and ``_``. The Python
            package is ``hub_<name>``, the distribution ``seamless-hub-<name>``.
        kind: ``crm``, ``sfa``, ``ma``, ``cms`` or ``helpdesk``; decides the streams.
        dest: the directory to create the project in.

    Returns:
        The project directory (``pip install -e <it>``, then ``pytest`` in it).

    Raises:
        ConfigError: a bad name or kind, or the project directory exists and is not empty.
    """
    if not _NAME.match(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ConfigError(
            f"plugin name {name!r} must be 2-40 lower-case letters, digits or '_', starting with a letter (e.g. acme)"
        )
    kinds = [k.value for k in Kind]
    if kind not in kinds:
        raise ConfigError(f"kind {kind!r} must be one of {', '.join(kinds)}")
    values = _values(name, kind)
    project = Path(dest) / values["dist"]
    if project.exists() and any(project.iterdir()):
        raise ConfigError(f"{project} exists and is not empty: choose another name or directory")
    templates = resources.files("hub.scaffold_templates")
    for template, target in _FILES.items():
        text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], templates.joinpath(template).read_text(encoding="utf-8"))
        _write(project / target.format(package=values["package"], name=name), text)
    _write(project / values["package"] / "mappings" / f"{name}.yaml", _mapping(name, values["Title"], kind))
    return project


def _values(name: str, kind: str) -> dict[str, str]:
    streams = STREAMS[kind]
    title = "".join(part.capitalize() for part in name.split("_"))
    return {
        "name": name,
        "kind": kind,
        "KIND": kind.upper(),
        "Class": title,
        "Title": title,
        "package": f"hub_{name}",
        "dist": f"seamless-hub-{name.replace('_', '-')}",
        "streams": json.dumps(streams),  # a Python dict literal too
        "stream_list": ", ".join(streams),
        "test_options": _test_options(streams),
    }


def _test_options(streams: dict[str, str]) -> str:
    """``invalid=`` for the streams without an email to make invalid (the fake wants a name)."""
    invalid = {s: {"name": ""} for s, entity in streams.items() if entity == "organization"}
    return f", invalid={json.dumps(invalid)}" if invalid else ""


def _mapping(name: str, title: str, kind: str) -> str:
    lines = [
        f"# {title} <-> canonical schema v1 (format: docs/mapping-format.md of Seamless Hub).",
        "# Vendor field names are the generated fake's; rename them to the vendor's.",
        f"connector: {name}",
        "streams:",
    ]
    for stream, entity in STREAMS[kind].items():
        lines += [f"  {stream}:", f"    entity: {entity}", "    fields:", _MAPPED[entity].rstrip("\n")]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
