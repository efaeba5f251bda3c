"""Conformance checks of reads: paging that ends, states that resume with no gap and no duplicate
(also when many records share one cursor timestamp), tombstones."""

from __future__ import annotations

from hub.connector import INCREMENTAL, READ, TOMBSTONES, Page, Record
from hub.testing.base import SuiteBase, requires
from hub.testing.harness import Harness, duplicates, live_ids, records, tombstone_ids
from hub.testing.samples import as_json

# Seconds the fake's clock moves on before changes that must read as news: past the minute, for
# vendors that keep modification times to the minute.
MOVE_ON = 61.0


class ReadChecks(SuiteBase):
    """Full reads, incremental reads and tombstones, against records seeded in the fake."""

    @requires(READ)
    def test_full_read_pages_and_terminates(self, kit: Harness, stream: str) -> None:
        seeded = kit.seed(stream, 3 * self.page_size + 2, spread=1.0)
        pages = kit.read(kit.connect(), stream)
        got = live_ids(pages)
        assert not duplicates(got), f"a full read of {stream} returned records twice: {duplicates(got)}"
        missing = set(seeded) - set(got)
        assert not missing, f"a full read of {stream} missed {len(missing)} of {len(seeded)} records: {sorted(missing)}"
        filled = [p for p in pages if p.records]
        assert len(filled) >= 2, (
            f"{len(seeded)} {stream} came in one page: the kit asks for pages of {self.page_size} records through "
            "'*page_size' settings; give the suite settings= or fake_options= that make pages that small"
        )
        spec = self.connector.stream(stream)
        for record in records(pages):
            _check_record(record, stream, has_cursor=spec.cursor_field is not None)

    @requires(READ)
    def test_full_read_resumes_from_every_page_state(self, kit: Harness, stream: str) -> None:
        kit.seed(stream, 2 * self.page_size + 3, spread=1.0)
        conn = kit.connect()
        pages = kit.read(conn, stream)
        everything = live_ids(pages)
        for i, page in enumerate(pages[:-1]):
            resumed = kit.read(conn, stream, page.state)
            combined = live_ids(pages[: i + 1]) + live_ids(resumed)
            assert not duplicates(combined), (
                f"{stream}: resuming after page {i + 1} read again {duplicates(combined)} (state {page.state})"
            )
            gap = set(everything) - set(combined)
            assert not gap, f"{stream}: resuming after page {i + 1} skipped {sorted(gap)} (state {page.state})"

    @requires(READ | INCREMENTAL)
    def test_incremental_read_returns_the_changes(self, kit: Harness, stream: str) -> None:
        seeded = kit.seed(stream, 3)
        conn = kit.connect()
        state = _final_state(kit.read(conn, stream))
        kit.fake.advance_clock(MOVE_ON)
        changed = seeded[0]
        self.update_in_vendor(kit.fake, stream, changed, as_json(kit.vendor_fields(stream, kit.canonical(stream))))
        added = kit.seed(stream, 2)
        pages = kit.read(conn, stream, state)
        got = live_ids(pages)
        assert not duplicates(got), f"an incremental read of {stream} returned records twice: {duplicates(got)}"
        missing = {changed, *added} - set(got)
        assert not missing, f"an incremental read of {stream} missed changed/new records {sorted(missing)}"
        again = kit.read(conn, stream, _final_state(pages))
        assert not set(live_ids(again)) & {changed, *added}, (
            f"{stream}: re-reading from the final state of an incremental read returned the same changes again"
        )

    @requires(READ | INCREMENTAL)
    def test_incremental_read_with_one_shared_timestamp(self, kit: Harness, stream: str) -> None:
        """Many records with one cursor value (a bulk job, a vendor keeping seconds or minutes):
        resuming after any page neither skips nor repeats one, nor does the next read."""
        kit.seed(stream, 2)
        conn = kit.connect()
        state = _final_state(kit.read(conn, stream))
        with kit.same_timestamp():
            shared = kit.seed(stream, 2 * self.page_size + 1)
            pages = kit.read(conn, stream, state)
            got = live_ids(pages)
            assert not duplicates(got), f"{stream}: records sharing one timestamp were read twice: {duplicates(got)}"
            missing = set(shared) - set(got)
            assert not missing, f"{stream}: {len(missing)} of {len(shared)} records sharing one timestamp were skipped"
            for i, page in enumerate(pages[:-1]):
                resumed = kit.read(conn, stream, page.state)
                combined = live_ids(pages[: i + 1]) + live_ids(resumed)
                assert not duplicates(combined), (
                    f"{stream}: resuming after page {i + 1} inside one timestamp read {duplicates(combined)} again "
                    f"(state {page.state})"
                )
                gap = set(shared) - set(combined)
                assert not gap, (
                    f"{stream}: resuming after page {i + 1} inside one timestamp skipped {sorted(gap)} (state {page.state})"
                )
            # Records written later at that same timestamp are still news to the final state.
            late = kit.seed(stream, 2)
            after = live_ids(kit.read(conn, stream, _final_state(pages)))
        assert set(late) <= set(after), (
            f"{stream}: records written at the last timestamp read, after the read, were skipped by the next one"
        )
        repeated = set(shared) & set(after)
        assert not repeated, f"{stream}: the next read returned {sorted(repeated)} again"

    @requires(READ | INCREMENTAL)
    def test_record_changed_again_at_the_checkpoint_timestamp(self, kit: Harness, stream: str) -> None:
        """A record read, then changed again before the vendor's clock ticked on (a timestamp kept
        to the second or the minute): the next read must still return the change."""
        conn = kit.connect()
        with kit.same_timestamp():
            seeded = kit.seed(stream, 2)
            state = _final_state(kit.read(conn, stream))
            self.update_in_vendor(kit.fake, stream, seeded[0], as_json(kit.vendor_fields(stream, kit.canonical(stream))))
        kit.fake.advance_clock(MOVE_ON)  # the next run comes later (the change keeps its timestamp)
        got = live_ids(kit.read(conn, stream, state))
        assert seeded[0] in got, (
            f"{stream}: record {seeded[0]} changed again at the timestamp the last read ended on was skipped "
            "(a checkpoint that skips ids already read at that timestamp must tell a new version apart, "
            "or leave the vendor's current second/minute to the next read)"
        )

    @requires(READ | TOMBSTONES)
    def test_deleted_records_come_back_as_tombstones(self, kit: Harness, stream: str) -> None:
        seeded = kit.seed(stream, 3)
        conn = kit.connect()
        incremental = conn.stream(stream).can(INCREMENTAL)
        state = _final_state(kit.read(conn, stream)) if incremental else None
        gone = seeded[1]
        kit.delete(conn, stream, gone)
        kit.fake.advance_clock(MOVE_ON)  # vendors may log deletions by the minute: the next run comes later
        pages = kit.read(conn, stream, state)
        assert gone in tombstone_ids(pages), f"{stream}: deleted record {gone} did not come back as a tombstone"
        assert gone not in live_ids(pages), f"{stream}: deleted record {gone} also came back as a live record"
        for record in records(pages):
            if record.deleted:
                assert isinstance(record.id, str) and record.id, f"{stream}: a tombstone without an id: {record!r}"


def _final_state(pages: list[Page]) -> dict:
    assert pages, "a read yields at least one page (carrying the state to resume from), even with no record"
    return pages[-1].state


def _check_record(record: Record, stream: str, *, has_cursor: bool) -> None:
    assert isinstance(record, Record), f"{stream}: {record!r} is not a Record"
    assert isinstance(record.id, str) and record.id, f"{stream}: record id {record.id!r} must be a non-empty str"
    assert isinstance(record.data, dict), f"{stream}: record {record.id} data is {type(record.data).__name__}"
    if record.updated_at is not None:
        assert record.updated_at.tzinfo is not None, f"{stream}: record {record.id} updated_at is naive"
    elif has_cursor:
        raise AssertionError(f"{stream} has a cursor field but record {record.id} carries no updated_at")
