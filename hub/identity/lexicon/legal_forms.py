"""Legal-form words stripped from organisation names before they are compared.

株式会社 Foo, Foo(株), ㈱Foo, Foo Co., Ltd. and Foo Inc. are the same company for matching.
Japanese forms are matched anywhere (they prefix or suffix the name); Latin forms only as
whole words at the end, so "Company of Heroes" keeps its "Company".
"""

from __future__ import annotations

JA_FORMS: tuple[str, ...] = (
    "特定非営利活動法人", "一般社団法人", "一般財団法人", "公益社団法人", "公益財団法人",
    "独立行政法人", "地方独立行政法人", "国立大学法人", "公立大学法人", "社会福祉法人",
    "社会医療法人", "医療法人社団", "医療法人財団", "医療法人", "学校法人", "宗教法人",
    "農事組合法人", "協同組合", "NPO法人", "株式会社", "有限会社", "合同会社", "合資会社",
    "合名会社", "相互会社", "カブシキガイシャ", "カブシキカイシャ", "ユウゲンガイシャ",
    "ユウゲンカイシャ", "ゴウドウガイシャ", "(株)", "(有)", "(合)", "(同)", "(資)", "(名)",
    "(財)", "(社)", "(医)", "(学)", "(福)", "(特非)", "カ)", "(カ", "ユ)", "(ユ",
)
"""Matched after NFKC, so ㈱ (U+3231) arrives here as (株)."""

LATIN_FORMS: tuple[str, ...] = (
    "co ltd", "co., ltd", "co.,ltd", "company limited", "kabushiki kaisha", "kabushikigaisha",
    "k.k", "kk", "g.k", "gk", "y.k", "yk", "ltd", "limited", "inc", "incorporated", "corp",
    "corporation", "company", "co", "llc", "l.l.c", "llp", "lp", "plc", "gmbh", "ag", "sa",
    "s.a", "sas", "sarl", "srl", "s.r.l", "spa", "s.p.a", "bv", "b.v", "nv", "n.v", "pty",
    "pty ltd", "pte", "pte ltd", "oy", "ab", "as", "a/s", "aps", "kg", "ohg", "se", "ulc",
)
"""Lower-case, matched as trailing words (and a leading "kabushiki kaisha")."""
