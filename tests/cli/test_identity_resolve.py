"""``hub identity resolve`` de-duplicates a file without a hub.yaml."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import cli


def test_resolve_a_csv_export(tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    src.write_text(
        "id,氏名,フリガナ,メール,電話\n"
        "1,山田 太郎,ヤマダ タロウ,taro@example.jp,090-1234-5678\n"
        "2,山田　太郎,ﾔﾏﾀﾞ ﾀﾛｳ,TARO@example.jp ,０９０－１２３４－５６７８\n"
        "3,佐藤 花子,サトウ ハナコ,hanako@example.jp,080-2222-3333\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        cli.main,
        ["identity", "resolve", str(src), "--out", str(out), "--column", "氏名=name", "--column", "メール=email",
         "--column", "電話=phone", "--column", "id=source_id", "--json"],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3 and {"source", "source_id", "entity_id", "confidence"} <= set(rows[0])
    by_id = {r["source_id"]: r["entity_id"] for r in rows}
    assert by_id["1"] == by_id["2"] != by_id["3"]


def test_bad_mapping_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    src.write_text("a\n1\n", encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["identity", "resolve", str(src), "--out", str(tmp_path / "o.jsonl"), "--column", "a=nonsense"])
    assert result.exit_code == 2 and "nonsense" in result.output
