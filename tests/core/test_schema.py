from __future__ import annotations

from pathlib import Path

from schemas.generate import HERE, render


def test_committed_json_schemas_match_the_models() -> None:
    for rel, text in render().items():
        path = HERE / rel
        assert path.exists(), f"{rel} missing: run python -m schemas.generate"
        assert path.read_text(encoding="utf-8") == text, f"{rel} drifted from schemas/canonical.py: run python -m schemas.generate"


def test_person_carries_kana_consents_and_source_refs() -> None:
    import json

    person = json.loads((Path(HERE) / "v1" / "person.schema.json").read_text(encoding="utf-8"))
    props = person["properties"]
    for key in ("family_name_kana", "given_name_kana", "consents", "lifecycle_stage", "source_refs", "custom", "scores"):
        assert key in props
