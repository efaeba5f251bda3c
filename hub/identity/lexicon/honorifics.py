"""Honorifics and titles dropped from personal names before matching."""

from __future__ import annotations

JA_SUFFIXES: tuple[str, ...] = (
    "御中", "先生", "殿", "様", "さま", "サマ", "さん", "サン", "くん", "君", "ちゃん", "氏",
)
"""Trailing Japanese honorifics, longest first where one contains another."""

LATIN_TITLES: frozenset[str] = frozenset(
    {
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mme", "mlle", "herr",
        "frau", "rev", "fr", "jr", "sr", "phd", "md", "esq", "san", "sama", "sensei",
    }
)
"""Lower-case words without their dot, dropped wherever they stand in a Latin name."""
