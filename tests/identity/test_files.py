"""``resolve_file``: JSONL and CSV in, one assignment per record out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from hub.identity import resolve_file
from hub.identity.columns import flat_record, table_from_columns
from hub.identity.config import ResolverConfig
from hub.identity.features import extract
from hub.identity.table import FeatureTable
from tests.identity.builders import background, person


def test_jsonl(tmp_path: Path) -> None:
    records = [*background(20), person("hs", "1", family_name="森", given_name="花", email="hana@mori.jp"), person("sf", "1", email="Hana@Mori.jp")]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    stats = resolve_file(src, tmp_path / "out.jsonl")
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert stats["records"] == len(records) == len(lines)
    assert [(x["source"], x["source_id"]) for x in lines] == [(r["source"], r["source_id"]) for r in records]
    by = {(x["source"], x["source_id"]): x for x in lines}
    assert by[("hs", "1")]["entity_id"] == by[("sf", "1")]["entity_id"]
    assert set(lines[0]) == {"source", "source_id", "entity_id", "confidence"}


def test_csv_with_column_mapping(tmp_path: Path) -> None:
    src = tmp_path / "contacts.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "姓", "名", "メール", "電話", "会社", "memo"])
        w.writerow(["1", "髙橋", "誠", "m.takahashi@delta.jp", "090-7788-1234", "デルタ株式会社", "x"])
        w.writerow(["2", "高橋", "誠", "M.Takahashi@delta.jp", "", "(株)デルタ", "y"])
        w.writerow(["3", "高橋", "誠", "", "", "", "z"])
    mapping = {"ID": "source_id", "姓": "family_name", "名": "given_name", "メール": "email", "電話": "phone", "会社": "organization_name"}
    stats = resolve_file(src, tmp_path / "out.jsonl", columns=mapping, thresholds=(0.5, 0.9))
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert stats["records"] == 3 and [x["source"] for x in lines] == ["contacts"] * 3
    assert lines[0]["entity_id"] == lines[1]["entity_id"]


def test_unknown_format_and_bad_mapping(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="format"):
        resolve_file(src, tmp_path / "out.jsonl")
    csv_src = tmp_path / "in.csv"
    csv_src.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown fields"):
        resolve_file(csv_src, tmp_path / "out.jsonl", columns={"a": "shoe_size"})


def test_columns_build_the_table_records_would() -> None:
    config = ResolverConfig()
    rows = [
        {"source": "c", "source_id": "1", "name": "山田 太郎 様", "name_kana": "ヤマダ タロウ", "email": "Taro@Acme.co.jp",
         "email_2": "info@acme.co.jp", "phone": "090-1357-2468", "postal_code": "〒100-0001", "region": "東京都",
         "locality": "千代田区", "street": "千代田1丁目1番1号", "organization_name": "アクメ株式会社", "id:ssn": "123-4567", "ref:sf": "003X"},
        {"source": "c", "source_id": "2", "family_name": "Smith", "given_name": "John", "birth_date": "1980-02-03", "website": "https://www.acme.com"},
    ]
    keys = sorted({k for r in rows for k in r})
    columns = {k: [r.get(k, "") for r in rows] for k in keys}
    from_columns = table_from_columns(columns, config)
    from_records = FeatureTable()
    from_records.extend([extract(flat_record({k: r.get(k, "") for k in keys}), config) for r in rows])
    for col in from_columns.cols:
        assert [from_columns.value(col, i) for i in range(2)] == [from_records.value(col, i) for i in range(2)], col
    assert from_columns.identifiers == from_records.identifiers
