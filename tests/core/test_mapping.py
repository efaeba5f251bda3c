from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import MappingError
from hub.mapping import load_mapping_file
from hub.transforms import BUILTINS

TRANSFORMS = {t.name: t for t in BUILTINS}

GOOD = """\
connector: tool
streams:
  people:
    entity: person
    fields:
      - {field: name, canonical: [family_name, given_name], transform: name}
      - {field: kana_sei, canonical: family_name_kana, transform: kana}
      - {field: email, canonical: "emails[0].address", transform: email}
      - {field: mobile, canonical: "phones[type=mobile].number", transform: phone}
      - {field: stage, canonical: lifecycle_stage.stage, transform: {value_map: stages}}
      - {field: stage, canonical: lifecycle_stage.vendor_value, direction: in}
      - {field: optout, canonical: consents.email.status, transform: {consent: {inverted: true}}}
      - {field: company_id, canonical: organization_id, ref: companies}
      - {field: extra.note, canonical: custom.tool.note, direction: in}
  companies:
    entity: organization
    fields:
      - {field: name, canonical: name}
value_maps:
  stages: {lead: lead, sql: sql, customer: customer}
"""


def load(tmp_path: Path, text: str, streams: list[str] | None = None):  # type: ignore[no-untyped-def]
    f = tmp_path / "tool.yaml"
    f.write_text(text, encoding="utf-8")
    return load_mapping_file(f, TRANSFORMS, streams=streams or ["people", "companies"])


def test_inbound_outbound_and_diff(tmp_path: Path) -> None:
    m, issues = load(tmp_path, GOOD)
    assert issues == [] and m is not None
    vendor = {
        "name": "山田　太郎",
        "kana_sei": "ﾔﾏﾀﾞ",
        "email": " Taro@Example.JP",
        "mobile": "０９０-1234-5678",
        "stage": "sql",
        "optout": "true",
        "company_id": 7,
        "extra": {"note": "VIP"},
    }
    c = m.to_canonical("people", vendor)
    assert c["family_name"] == "山田" and c["given_name"] == "太郎" and c["family_name_kana"] == "ヤマダ"
    assert c["emails"] == [{"address": "taro@example.jp"}]
    assert c["phones"] == [{"type": "mobile", "number": "+819012345678"}]
    assert c["lifecycle_stage"] == {"stage": "sql", "vendor_value": "sql"}
    assert c["consents"] == {"email": {"status": "opted_out"}}
    assert c["organization_id"] == "@tool:companies:7"
    assert c["custom"] == {"tool": {"note": "VIP"}}
    m.validate("people", c)
    golden = {**c, "organization_id": "E1", "emails": [{"address": "other@example.jp"}, {"address": "taro@example.jp"}]}
    out = m.to_vendor("people", golden, vendor_id=lambda stream, eid: "7" if eid == "E1" else None)
    assert out["name"] == "山田 太郎" and out["email"] == "other@example.jp" and out["company_id"] == "7"
    assert out["stage"] == "sql" and out["optout"] == "true" and "extra" not in out
    # the tool holds one of the golden emails, its own formatting: no change
    assert m.diff("people", golden, c, resolve=lambda ref: "E1") == {}
    golden2 = {**golden, "phones": [{"type": "mobile", "number": "+819099998888"}]}
    assert m.diff("people", golden2, c, resolve=lambda ref: "E1") == {"mobile": ("+819012345678", "+819099998888")}


def test_bad_values_name_the_field(tmp_path: Path) -> None:
    m, _ = load(tmp_path, GOOD)
    with pytest.raises(MappingError) as exc:
        m.to_canonical("people", {"email": "nope"})  # type: ignore[union-attr]
    assert exc.value.field == "email"
    with pytest.raises(MappingError) as exc:
        m.to_canonical("people", {"stage": "martian"})  # type: ignore[union-attr]
    assert exc.value.field == "stage" and "martian" in str(exc.value)


def test_validation_reports_file_and_line(tmp_path: Path) -> None:
    bad = GOOD.replace("canonical: family_name_kana", "canonical: family_kana").replace(
        "transform: email}", "transform: emale}"
    ).replace("  companies:\n", "  compnies:\n")
    _, issues = load(tmp_path, bad)
    text = "\n".join(str(i) for i in issues)
    assert "tool.yaml:7: field 'kana_sei': unknown canonical field 'family_kana'" in text
    assert "tool.yaml:8: field 'email': unknown transform 'emale'" in text
    assert "tool.yaml:16: unknown stream 'compnies'" in text
    assert len(issues) == 3


def test_value_map_must_exist_and_yaml_errors_located(tmp_path: Path) -> None:
    _, issues = load(tmp_path, GOOD.replace("{value_map: stages}", "{value_map: stagez}"))
    assert any("value map 'stagez' is not defined" in i.message and i.line == 10 for i in issues)
    _, issues = load(tmp_path, "streams: [\n")
    assert issues and "not valid YAML" in issues[0].message


def test_builtin_mappings_are_valid() -> None:
    from hub.plugins import default

    plugins = default()
    for name, cls in plugins.connectors.items():
        path = Path(__file__).resolve().parents[2] / "mappings" / f"{name}.yaml"
        _, issues = load_mapping_file(path, plugins.transforms, streams=[s.name for s in cls.streams])
        assert issues == [], issues


def test_invalid_canonical_records_still_name_the_field(tmp_path: Path) -> None:
    mapping, _ = load(tmp_path, GOOD)
    with pytest.raises(MappingError, match="lifecycle_stage") as err:
        mapping.validate("people", {"lifecycle_stage": {"stage": "nope"}})
    assert err.value.field == "stage"
    with pytest.raises(MappingError, match="'bogus'"):
        mapping.validate("people", {"bogus": 1})
    mapping.validate("people", {"emails": [{"address": "a@x.com"}]})


def test_empty_vendor_values_map_to_nothing(tmp_path: Path) -> None:
    mapping, _ = load(tmp_path, GOOD)
    empty = dict.fromkeys(["name", "kana_sei", "email", "mobile", "stage", "optout", "company_id"])
    assert mapping.to_canonical("people", {**empty, "extra": None}) == {}
    assert mapping.to_canonical("people", "not a record") == {}  # type: ignore[arg-type]
