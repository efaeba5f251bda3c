"""Conformance checks of the connector's declarations: check, discover, settings, mapping."""

from __future__ import annotations

import secrets

import pytest

from hub.connector import READ, CheckResult, FieldInfo, Kind
from hub.errors import MissingSecretError
from hub.testing.base import SuiteBase, requires
from hub.testing.harness import Harness, is_secret


class ContractChecks(SuiteBase):
    """The class attributes, ``check``, ``discover``, secrets in settings, and the mapping file."""

    def test_class_attributes(self) -> None:
        cls = self.connector
        assert isinstance(cls.name, str) and cls.name.isidentifier(), f"name {cls.name!r} must be an identifier"
        assert cls.kind in set(Kind), f"kind {cls.kind!r} is not one of {[k.value for k in Kind]}"
        assert cls.streams, "a connector declares at least one stream"
        names = [s.name for s in cls.streams]
        assert len(set(names)) == len(names), f"stream names repeat: {names}"
        for spec in cls.streams:
            assert spec.batch_size >= 1, f"{spec.name}: batch_size must be at least 1"
            assert spec.primary_key, f"{spec.name}: primary_key is empty"
            assert spec.capabilities, f"{spec.name}: declares no capability"

    def test_check_accepts_the_sandbox_credentials(self, kit: Harness) -> None:
        result = kit.connect().check()
        assert isinstance(result, CheckResult), f"check() returned {result!r}, not a CheckResult"
        assert result.ok, f"check() refused the sandbox's credentials: {result.message}"
        assert result.message, "check() should say what it checked"

    def test_check_reports_refused_credentials(self, kit: Harness) -> None:
        secret_fields = [n for n, f in self.connector.Settings.model_fields.items() if is_secret(f.annotation)]
        if not secret_fields:
            pytest.skip(f"{self.connector.name} settings declare no secret")
        wrong = {name: f"wrong-{secrets.token_hex(8)}" for name in secret_fields}
        conn = kit.connect(**wrong)
        result = conn.check()
        assert isinstance(result, CheckResult), f"check() returned {result!r}, not a CheckResult"
        assert not result.ok, "check() accepted credentials the vendor refuses"
        assert result.message, "check() should say why the credentials were refused"
        for value in wrong.values():
            assert value not in result.message, "check() printed the secret it was given"

    def test_missing_secret_names_the_setting(self, kit: Harness) -> None:
        fields = self.connector.Settings.model_fields
        secret_fields = [n for n, f in fields.items() if is_secret(f.annotation)]
        if not secret_fields:
            pytest.skip(f"{self.connector.name} settings declare no secret")
        raw = {k: v for k, v in kit.raw_settings().items() if k not in secret_fields}
        with pytest.raises(MissingSecretError) as caught:
            kit.connect(self.connector.Settings(**raw)).check()
        text = str(caught.value)
        assert "HUB_CONNECTORS__" in text and f"connectors.{self.connector.name}.settings." in text, (
            f"the error should name the config key and the environment variable to set: {text}"
        )

    def test_settings_never_show_secrets(self, kit: Harness) -> None:
        settings = kit.settings()
        shown = " ".join([repr(settings), str(settings), str(settings.model_dump()), repr(settings.model_dump())])
        for value in settings.secret_values():
            assert value not in shown, "a secret shows in the settings' repr or dump: declare it as SecretStr"

    def test_discover_lists_the_mapped_fields(self, kit: Harness) -> None:
        found = kit.connect().discover()
        assert isinstance(found, dict)
        for spec in self.connector.streams:
            fields = found.get(spec.name)
            assert fields, f"discover() lists no field for stream {spec.name!r}"
            assert all(isinstance(f, FieldInfo) and f.name for f in fields), f"{spec.name}: {fields!r}"
            if not kit.mapped(spec.name):
                continue
            by_name = {f.name: f for f in fields}
            for fm in kit.mapping.stream(spec.name).fields:
                info = by_name.get(fm.field) or by_name.get(fm.field.split(".")[0])
                assert info is not None, (
                    f"{spec.name}: the mapping uses field {fm.field!r} (line {fm.line}), which discover() does not list"
                )
                if fm.outbound:
                    assert info.writable, (
                        f"{spec.name}: the mapping writes {fm.field!r} (line {fm.line}), which discover() says is "
                        "read-only: make it 'direction: in'"
                    )

    def test_mapping_file_covers_the_streams(self, kit: Harness) -> None:
        mapped = [s.name for s in self.connector.streams if kit.mapped(s.name)]
        assert mapped, f"the mapping file {kit.mapping.file} maps none of the streams"

    @requires(READ)
    def test_mapping_round_trip(self, kit: Harness, stream: str) -> None:
        """canonical -> vendor -> canonical gives the same record (what the hub compares)."""
        if not kit.mapped(stream):
            pytest.skip(f"stream {stream!r} is not mapped")
        if not any(f.outbound for f in kit.mapping.stream(stream).fields):
            pytest.skip(f"stream {stream!r} maps nothing out (read only): nothing goes round")
        canonical = kit.canonical(stream)
        vendor = kit.vendor_fields(stream, canonical)
        back = kit.mapping.to_canonical(stream, vendor, connector=self.connector.name)
        kit.mapping.validate(stream, back)
        assert kit.mapping.diff(stream, canonical, back) == {}, (
            f"{stream}: fields that do not survive canonical -> vendor -> canonical: "
            f"{kit.mapping.diff(stream, canonical, back)}"
        )

