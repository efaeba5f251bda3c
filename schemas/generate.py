"""Generate ``schemas/v<N>/<entity>.schema.json`` from the pydantic models.

Run ``python -m schemas.generate`` after changing :mod:`schemas.canonical`; a test fails when
the committed files drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.canonical import ENTITIES, SCHEMA_VERSION

HERE = Path(__file__).parent


def render() -> dict[str, str]:
    """File name -> JSON text for every entity of the current schema version."""
    out = {}
    for name, model in ENTITIES.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"seamless-hub/canonical/v{SCHEMA_VERSION}/{name}.schema.json"
        out[f"v{SCHEMA_VERSION}/{name}.schema.json"] = json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return out


def main() -> None:
    for rel, text in render().items():
        path = HERE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main()
