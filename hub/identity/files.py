"""Resolving files without a hub: JSONL or CSV in, one entity assignment per record out.

``hub identity resolve INPUT --out OUT.jsonl`` is a thin wrapper around :func:`resolve_file`.
INPUT is JSONL (one canonical Person per line, with ``source`` and ``source_id``) or CSV (a
header row; ``columns`` maps its headers to flat canonical fields, see
:mod:`hub.identity.columns`). OUT has one line per input record, in input order:
``{"source", "source_id", "entity_id", "confidence"}``.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from hub.identity.columns import is_known_column
from hub.identity.config import ResolverConfig
from hub.identity.resolver import Result, resolve, resolve_columns

Format = Literal["jsonl", "csv"]
_SUFFIXES: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "csv"}


def detect_format(path: Path) -> Format:
    """The input format from the file name; ValueError when it says nothing."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the format of {path.name!r}: pass fmt='jsonl' or fmt='csv'")
    return fmt


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.name} line {number}: not JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path.name} line {number}: expected an object")
            if "source" not in record or "source_id" not in record:
                raise ValueError(f"{path.name} line {number}: a record needs 'source' and 'source_id'")
            yield record


def _csv_columns(path: Path, columns: Mapping[str, str] | None) -> tuple[dict[str, list[str]], int]:
    """Read a CSV into flat canonical columns; returns them and the row count."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return {}, 0
        rows = list(reader)
    mapping = dict(columns or {})
    unknown = [c for c in mapping.values() if not is_known_column(c)]
    if unknown:
        raise ValueError(f"column mapping names unknown fields {unknown}")
    missing = [c for c in mapping if c not in header]
    if missing:
        raise ValueError(f"mapped columns {missing} are not in the header of {path.name}")
    out: dict[str, list[str]] = {}
    for i, name in enumerate(header):
        target = mapping.get(name, name if is_known_column(name) else None)
        if target is None:
            continue  # a column nobody mapped and the resolver does not know: ignored
        if target in out:
            raise ValueError(f"two columns map to {target!r}")
        out[target] = [row[i] if i < len(row) else "" for row in rows]
    n = len(rows)
    if "record_id" not in out:
        out.setdefault("source", [path.stem] * n)
        out.setdefault("source_id", [str(i + 1) for i in range(n)])
    return out, n


def resolve_file(
    input_path: str | Path,
    out_path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    fmt: Format | None = None,
    default_region: str = "JP",
    thresholds: tuple[float, float] | None = None,
    config: ResolverConfig | None = None,
) -> dict[str, Any]:
    """Resolve the records of a file and write one entity assignment per record.

    Args:
        input_path: JSONL of canonical Person records, or CSV.
        out_path: Where to write JSONL lines ``{"source", "source_id", "entity_id",
            "confidence"}``, one per input record, in input order.
        columns: CSV only: header -> flat canonical field (``family_name``, ``email``,
            ``phone``, ``postal_code``, ``id:<scheme>``…). Headers already named like a field
            need no entry; other unmapped headers are ignored.
        fmt: ``"jsonl"`` or ``"csv"``; from the file suffix when omitted.
        default_region: Phone region for records that name no country.
        thresholds: ``(low, high)`` match probabilities: link at or above ``high``, review
            between, nothing below.
        config: Every other setting (``default_region`` and ``thresholds`` override it).

    Returns:
        Counts and timings: records, entities, records in multi-record entities, review pairs,
        candidate pairs, seconds.
    """
    started = time.perf_counter()
    src, dst = Path(input_path), Path(out_path)
    fmt = fmt or detect_format(src)
    base = config or ResolverConfig()
    overrides: dict[str, Any] = {"default_region": default_region}
    if thresholds is not None:
        overrides["low"], overrides["high"] = thresholds
    cfg = ResolverConfig(**{**_fields(base), **overrides})
    if fmt == "jsonl":
        if columns:
            raise ValueError("a column mapping applies to CSV input only")
        result = resolve(_jsonl(src), cfg)
        order = result._table.record_ids if result._table else []
        sources = _split_ids(src)
    elif fmt == "csv":
        flat, _ = _csv_columns(src, columns)
        result = resolve_columns(flat, cfg) if flat else resolve([], cfg)
        order = result._table.record_ids if result._table else []
        if "record_id" in flat:
            sources = [("", rid) for rid in flat["record_id"]]
        else:
            sources = list(zip(flat.get("source", []), flat.get("source_id", [])))
    else:
        raise ValueError(f"unknown format {fmt!r}")
    written = _write(dst, result, order, sources)
    stats = {
        "records": written,
        "entities": len(result.clusters),
        "linked_records": sum(len(v) for v in result.clusters.values() if len(v) > 1),
        "review": len(result.review),
        "candidate_pairs": result.stats.get("candidate_pairs", 0),
        "seconds": round(time.perf_counter() - started, 3),
        "format": fmt,
    }
    return stats


def _split_ids(path: Path) -> list[tuple[str, str]]:
    """(source, source_id) of every JSONL record, in file order (read again: small and cheap)."""
    return [(str(r["source"]), str(r["source_id"])) for r in _jsonl(path)]


def _write(dst: Path, result: Result, order: list[str], sources: list[tuple[str, str]]) -> int:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w", encoding="utf-8") as fh:
        for rid, (source, sid) in zip(order, sources):
            line = {
                "source": source,
                "source_id": sid,
                "entity_id": result.entity_of[rid],
                "confidence": result.confidence.get(rid, 1.0),
            }
            if not source:
                line["record_id"] = rid
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return len(order)


def _fields(config: ResolverConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in ResolverConfig.__dataclass_fields__}
