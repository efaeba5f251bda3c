"""Builders for the identity tests: canonical person records in a few keystrokes."""

from __future__ import annotations

from typing import Any

def person(source: str, source_id: str, **fields: Any) -> dict[str, Any]:
    """A canonical Person dict; ``email``/``phone``/``address`` shorthands become lists."""
    rec: dict[str, Any] = {"source": source, "source_id": source_id}
    if "email" in fields:
        rec["emails"] = [{"address": fields.pop("email")}]
    if "phone" in fields:
        rec["phones"] = [{"number": fields.pop("phone")}]
    if "address" in fields:
        rec["addresses"] = [fields.pop("address")]
    rec.update(fields)
    return rec


BACKGROUND_FAMILY = ["伊藤", "渡辺", "加藤", "吉田", "山本", "中島", "松本", "井上"]
BACKGROUND_GIVEN = ["翔", "陽菜", "蓮", "結衣", "大翔", "葵", "湊", "凛", "悠真", "芽依"]


def background(n: int = 60) -> list[dict[str, Any]]:
    """A small population seen in two tools, so that EM has pairs to learn from."""
    out = []
    for i in range(n):
        fam, giv = BACKGROUND_FAMILY[i % 8], BACKGROUND_GIVEN[i % 10]
        common = {"family_name": fam, "given_name": giv, "email": f"user{i}@mail{i % 7}.jp"}
        out.append(person("crm", f"bg{i}", phone=f"090-{1000 + i:04d}-{5000 + 7 * i:04d}", **common))
        if i % 2 == 0:
            out.append(person("ma", f"bg{i}", **common))
    return out
