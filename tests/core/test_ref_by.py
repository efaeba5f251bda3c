from __future__ import annotations

from pathlib import Path

from hub.mapping import load_mapping_file, parse_ref
from hub.transforms import BUILTINS

T = {t.name: t for t in BUILTINS}


def test_ref_by_email_is_an_identity_reference(tmp_path: Path) -> None:
    f = tmp_path / "blog.yaml"
    f.write_text(
        """connector: blog
streams:
  comments:
    entity: activity
    fields:
      - {field: kind, canonical: type}
      - {field: author_email, canonical: person_id, transform: email, ref_by: email, direction: in}
""",
        encoding="utf-8",
    )
    m, issues = load_mapping_file(f, T, streams=["comments"])
    assert issues == []
    c = m.to_canonical("comments", {"kind": "note", "author_email": " Guest@Example.COM"})  # type: ignore[union-attr]
    assert c["person_id"] == "@@email:guest@example.com"
    assert parse_ref(c["person_id"]) == ("", "email", "guest@example.com")
    f.write_text(f.read_text().replace(", direction: in}", "}"), encoding="utf-8")
    _, issues = load_mapping_file(f, T, streams=["comments"])
    assert any("read-only" in i.message for i in issues)
