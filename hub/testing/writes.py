"""Conformance checks of writes: upsert round trip, idempotent re-writes, batch limits, one bad
record failing alone, deletes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from hub.connector import DELETE, UPSERT, WriteOp, WriteResult
from hub.testing.base import SuiteBase, requires
from hub.testing.harness import Harness, live_ids, records

# Statuses a vendor answers when it refuses a request outright (a batch over its limit).
_REFUSED = frozenset({400, 413, 414, 422})


class WriteChecks(SuiteBase):
    """Writes through the connector, checked against what the vendor then holds."""

    @requires(UPSERT)
    def test_upsert_round_trip(self, kit: Harness, stream: str) -> None:
        """canonical -> vendor (write) -> read -> canonical: in sync, first as a create (an update
        in a stream the mapping says the hub never creates in), then as an update by vendor id."""
        conn = kit.connect()
        ops = kit.ops(stream, 2)
        samples = [kit.canonical(stream) for _ in ops]
        ops = [kit.op(stream, c, key=op.key, target_id=op.target_id) for c, op in zip(samples, ops, strict=True)]
        results = conn.write(stream, ops)
        _check_results(results, ops, statuses={"created" if kit.creatable(stream) else "updated"})
        stored = {r.id: r for r in records(kit.read(conn, stream)) if not r.deleted}
        for sample, result in zip(samples, results, strict=True):
            _assert_in_sync(kit, stream, sample, stored, result.target_id)
        changed = kit.canonical(stream)
        update = kit.op(stream, changed, key=ops[0].key, target_id=results[0].target_id)
        [result] = conn.write(stream, [update])
        assert result.status == "updated" and result.target_id == results[0].target_id, (
            f"{stream}: updating {results[0].target_id} answered {result}"
        )
        stored = {r.id: r for r in records(kit.read(conn, stream)) if not r.deleted}
        _assert_in_sync(kit, stream, changed, stored, result.target_id)

    @requires(UPSERT)
    def test_rewriting_the_same_batch_is_idempotent(self, kit: Harness, stream: str) -> None:
        """A batch written again (a retried run) creates nothing new: ``op.key`` identifies it."""
        conn = kit.connect()
        ops = kit.ops(stream, 3)
        before = kit.vendor_count(stream)
        first = conn.write(stream, ops)
        _check_results(first, ops)
        second = conn.write(stream, ops)
        _check_results(second, ops)
        assert [r.target_id for r in second] == [r.target_id for r in first], (
            f"{stream}: the same batch written twice went to different records: {first} then {second}"
        )
        assert kit.vendor_count(stream) == before + kit.new_records(ops), (
            f"{stream}: writing the same batch twice added {kit.vendor_count(stream) - before} records, "
            f"not {kit.new_records(ops)}"
        )

    @requires(UPSERT)
    def test_full_batches_stay_within_vendor_limits(self, kit: Harness, stream: str) -> None:
        """A batch of ``batch_size`` ops (the most the hub sends) goes through, and
        ``write_batches`` returns one result list per batch."""
        conn = kit.connect()
        size = conn.stream(stream).batch_size
        batches = [kit.ops(stream, size), kit.ops(stream, 1)]
        before, sent = kit.vendor_count(stream), len(kit.fake.requests)
        results = list(conn.write_batches(stream, batches))
        assert [len(r) for r in results] == [size, 1], f"{stream}: write_batches answered {[len(r) for r in results]}"
        for batch, result in zip(batches, results, strict=True):
            _check_results(result, batch)
        refused = [r for r in kit.fake.requests[sent:] if r[2] in _REFUSED]
        assert not refused, f"{stream}: the vendor refused requests while a full batch was written: {refused[:3]}"
        assert kit.vendor_count(stream) == before + sum(kit.new_records(b) for b in batches)

    @requires(UPSERT)
    def test_vendor_error_fails_only_that_record(self, kit: Harness, stream: str) -> None:
        bad = kit.invalid_fields(stream)
        if bad is None:
            pytest.skip(f"no record the vendor refuses is known for {stream}: set invalid={{{stream!r}: {{...}}}}")
        conn = kit.connect()
        ops = kit.ops(stream, 3)
        ops[1] = WriteOp(f"conformance-{stream.lower()}-invalid", ops[1].target_id, bad)
        results = conn.write(stream, ops)
        assert [r.key for r in results] == [op.key for op in ops], f"{stream}: results out of order: {results}"
        assert results[1].status == "failed" and results[1].error, (
            f"{stream}: the vendor should refuse {bad}, but the write answered {results[1]}"
        )
        for result in (results[0], results[2]):
            assert result.ok and result.target_id, f"{stream}: a good record failed beside a bad one: {result}"
        live = set(live_ids(kit.read(conn, stream)))
        assert {results[0].target_id, results[2].target_id} <= live

    @requires(DELETE)
    def test_delete_removes_the_record(self, kit: Harness, stream: str) -> None:
        seeded = kit.seed(stream, 2)
        conn = kit.connect()
        [result] = conn.write(stream, [WriteOp(f"conformance-{stream.lower()}-gone", seeded[0], {}, "delete")])
        assert result.status == "deleted", f"{stream}: deleting {seeded[0]} answered {result}"
        live = live_ids(kit.read(conn, stream))
        assert seeded[0] not in live and seeded[1] in live


def _check_results(results: Sequence[WriteResult], ops: Sequence[WriteOp], *, statuses: set[str] | None = None) -> None:
    assert isinstance(results, list) and len(results) == len(ops), (
        f"write() must return one result per op: {len(ops)} ops, {len(results) if isinstance(results, list) else results!r}"
    )
    assert [r.key for r in results] == [op.key for op in ops], "results must come in the order of the ops"
    failed = [r for r in results if not r.ok]
    assert not failed, f"writes failed: {failed[:3]}"
    assert all(r.target_id for r in results), f"every written record needs its vendor id: {results[:3]}"
    assert len({r.target_id for r in results}) == len(results), "two ops were written to one record"
    if statuses is not None:
        wrong = [r for r in results if r.status not in statuses]
        assert not wrong, f"expected {sorted(statuses)}: {wrong[:3]}"


def _assert_in_sync(kit: Harness, stream: str, sample: dict, stored: dict, target_id: str | None) -> None:
    assert target_id in stored, f"{stream}: record {target_id} was written but a full read does not return it"
    if not kit.mapped(stream):
        return
    back = kit.mapping.to_canonical(stream, stored[target_id].data, connector=kit.cls.name)
    diff = kit.mapping.diff(stream, sample, back)
    assert diff == {}, (
        f"{stream}: what was written does not read back in sync (vendor field: (read, written)): {diff}"
    )
