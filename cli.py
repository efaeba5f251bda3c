"""The ``hub`` command line. It parses, calls the core and renders; it holds no sync logic."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hub.errors import ConfigError, HubError

EXIT_OK, EXIT_DEAD_LETTERS, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True)


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn hub errors into a one-line message and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_USAGE)
        except HubError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_FAILED)

    return wrapper


class Ctx:
    """Lazily opened workspace, store, plugins and engine."""

    def __init__(self, config: Path | None) -> None:
        self.config_path = config
        self._ws: Any = None
        self._store: Any = None
        self._plugins: Any = None

    @property
    def workspace(self) -> Any:
        if self._ws is None:
            from hub import config

            self._ws = config.load(self.config_path)
        return self._ws

    @property
    def plugins(self) -> Any:
        if self._plugins is None:
            from hub import plugins

            self._plugins = plugins.default()
            for err in self._plugins.errors:
                click.echo(f"warning: {err}", err=True)
        return self._plugins

    @property
    def store(self) -> Any:
        if self._store is None:
            from hub.store import Store, default_url

            ws = self.workspace
            url = ws.config.database_url or default_url(ws.root)
            if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
                rel = url[len("sqlite:///") :]
                path = (ws.root / rel).resolve()
                path.parent.mkdir(parents=True, exist_ok=True)
                url = f"sqlite:///{path}"
            self._store = Store(url)
        return self._store

    def engine(self) -> Any:
        from hub.engine import Engine

        return Engine(self.workspace, self.store, self.plugins)


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", type=click.Path(path_type=Path), envvar="HUB_CONFIG", help="Path to hub.yaml (default: ./hub.yaml or a parent's).")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
@click.version_option(package_name="seamless-hub", prog_name="hub")
@click.pass_context
def main(ctx: click.Context, config: Path | None, verbose: int) -> None:
    """Seamless Hub: read every tool, resolve who is who, write the golden record back.

    Exit codes: 0 ok, 1 the run finished with dead letters, 2 usage or configuration error,
    3 the run failed.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbose < 2:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    ctx.obj = Ctx(config)


# -- init ------------------------------------------------------------------------------------
@main.command()
@click.option("--sandbox", "sandbox_dir", type=click.Path(path_type=Path), help="Write a sandbox workspace in DIR whose connectors use the bundled fakes.")
@click.option("--force", is_flag=True, help="Overwrite an existing hub.yaml.")
@handle_errors
def init(sandbox_dir: Path | None, force: bool) -> None:
    """Write a commented starter hub.yaml (or a sandbox workspace with --sandbox DIR)."""
    from hub.templates import SANDBOX, STARTER

    target = (sandbox_dir or Path.cwd()) / "hub.yaml"
    if target.exists() and not force:
        raise ConfigError(f"{target} exists; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(SANDBOX if sandbox_dir else STARTER, encoding="utf-8")
    click.echo(f"wrote {target}")
    if sandbox_dir:
        click.echo(f"next: cd {sandbox_dir} && hub sandbox seed hubspot && hub sandbox seed zendesk && hub sync")


# -- connectors ------------------------------------------------------------------------------
@main.group()
def connectors() -> None:
    """Installed connector plugins and configured connectors."""


@connectors.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def connectors_list(obj: Ctx, as_json: bool) -> None:
    """List installed connector plugins (and how this workspace uses them)."""
    from hub import config

    configured: dict[str, Any] = {}
    if config.find_config() or obj.config_path:
        try:
            configured = obj.workspace.config.connectors
        except ConfigError:
            configured = {}
    rows = []
    for name, cls in sorted(obj.plugins.connectors.items()):
        uses = [n for n, c in configured.items() if (c.type or n) == name]
        rows.append(
            {
                "name": name,
                "kind": str(cls.kind),
                "streams": [s.name for s in cls.streams],
                "sandbox": name in obj.plugins.sandboxes,
                "configured_as": uses,
            }
        )
    if as_json:
        _emit(rows)
        return
    from rich.table import Table

    table = Table("connector", "kind", "streams", "sandbox", "configured as")
    for r in rows:
        table.add_row(r["name"], r["kind"], ", ".join(r["streams"]), "yes" if r["sandbox"] else "", ", ".join(r["configured_as"]))
    _console().print(table)


@main.command()
@click.argument("connector", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def check(obj: Ctx, connector: str | None, as_json: bool) -> None:
    """Test the credentials of every configured connector (or one)."""
    rts = obj.engine().runtimes([connector] if connector else None)
    results = []
    for name, rt in rts.items():
        try:
            res = rt.connector.check()
            results.append({"connector": name, "ok": res.ok, "message": res.message})
        except HubError as err:
            results.append({"connector": name, "ok": False, "message": str(err)})
        finally:
            rt.close()
    if as_json:
        _emit(results)
    else:
        for r in results:
            click.echo(f"{'ok  ' if r['ok'] else 'FAIL'} {r['connector']}: {r['message']}")
    sys.exit(EXIT_OK if all(r["ok"] for r in results) else EXIT_FAILED)


@main.command()
@click.argument("connector")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def discover(obj: Ctx, connector: str, as_json: bool) -> None:
    """List a connector's streams and fields, custom fields included."""
    rt = obj.engine().runtimes([connector])[connector]
    try:
        found = rt.connector.discover()
    finally:
        rt.close()
    data = {stream: [vars(f) for f in fields] for stream, fields in found.items()}
    if as_json:
        _emit(data)
        return
    for stream, fields in data.items():
        click.echo(f"{stream} ({len(fields)} fields)")
        for f in fields:
            flags = " ".join(x for x in ("custom" if f["custom"] else "", "" if f["writable"] else "read-only") if x)
            click.echo(f"  {f['name']:<32} {f['type']:<12} {flags}")


# -- mappings --------------------------------------------------------------------------------
@main.group()
def mappings() -> None:
    """Field mappings (mappings/<connector>.yaml)."""


@mappings.command("validate")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
@pass_ctx
@handle_errors
def mappings_validate(obj: Ctx, as_json: bool, files: tuple[Path, ...]) -> None:
    """Check mapping files: unknown streams, fields and transforms, with file and line.

    Without FILES: the mapping of every configured connector (or every built-in mapping when
    there is no hub.yaml).
    """
    from hub import config
    from hub.mapping import find_mapping_file, load_mapping_file, mapping_dirs

    plugins = obj.plugins
    todo: list[tuple[Path, list[str] | None]] = []
    if files:
        for f in files:
            cls = plugins.connectors.get(f.stem)
            todo.append((f, [s.name for s in cls.streams] if cls else None))
    else:
        has_ws = bool(obj.config_path or config.find_config())
        dirs = mapping_dirs(obj.workspace.root if has_ws else None, plugins.mapping_dirs)
        names = {(c.mapping or c.type or n, c.type or n) for n, c in obj.workspace.config.connectors.items()} if has_ws else {(n, n) for n in plugins.connectors}
        for mname, ctype in sorted(names):
            cls = plugins.connector(ctype)
            todo.append((find_mapping_file(mname, dirs), [s.name for s in cls.streams]))
    issues = []
    for path, streams in todo:
        _, found = load_mapping_file(path, plugins.transforms, streams=streams)
        issues.extend(found)
    if as_json:
        _emit({"files": [str(p) for p, _ in todo], "issues": [{"file": i.file, "line": i.line, "message": i.message} for i in issues]})
    else:
        for i in issues:
            click.echo(str(i))
        click.echo(f"{len(todo)} file(s) checked, {len(issues)} problem(s)", err=True)
    sys.exit(EXIT_USAGE if issues else EXIT_OK)


# -- sync, plan ------------------------------------------------------------------------------
def _progress(as_json: bool) -> Any:
    from hub.progress import Progress

    return Progress(enabled=not as_json and sys.stderr.isatty())


def _render_report(report: Any) -> None:
    from rich.table import Table

    con = _console()
    table = Table("connector", "read", "changed", "created", "updated", "deleted", "failed", "requests", title=f"run {report.run_id} — {report.status}")
    names = sorted(set(report.read) | set(report.written) | set(report.requests))
    for n in names:
        w = report.written.get(n, {})
        table.add_row(
            n,
            str(report.read.get(n, 0)),
            str(report.staged.get(n, 0)),
            str(w.get("created", 0)),
            str(w.get("updated", 0)),
            str(w.get("deleted", 0)),
            str(w.get("failed", 0)),
            str(report.requests.get(n, 0)),
        )
    con.print(table)
    con.print(
        f"entities created {report.entities_created}, merged {report.entities_merged}, updated {report.entities_updated}; "
        f"conflicts resolved {report.conflicts_resolved}; dead letters {report.dead_letters}; {report.seconds:.1f}s"
    )
    for e in report.errors:
        con.print(f"[red]error:[/red] {e}")


@main.command()
@click.option("--connector", "connectors", multiple=True, help="Only this connector (repeatable).")
@click.option("--full", is_flag=True, help="Re-read everything instead of changes since the last cursor.")
@click.option("--allow-mass-delete", is_flag=True, help="Let this run pass the mass-delete brake.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the run's figures.")
@pass_ctx
@handle_errors
def sync(obj: Ctx, connectors: tuple[str, ...], full: bool, allow_mass_delete: bool, as_json: bool) -> None:
    """Pull changes from every enabled connector, resolve, and write the golden records back."""
    engine = obj.engine()
    with _progress(as_json) as progress:
        report = engine.sync(connectors=list(connectors) or None, full=full, allow_mass_delete=allow_mass_delete, progress=progress)
    if as_json:
        _emit(report.to_dict())
    else:
        _render_report(report)
    sys.exit(report.exit_code)


@main.command()
@click.option("--connector", "connectors", multiple=True, help="Only this connector (repeatable).")
@click.option("--full", is_flag=True, help="Plan as if re-reading everything.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def plan(obj: Ctx, connectors: tuple[str, ...], full: bool, as_json: bool) -> None:
    """Compute a sync and print the field-level diff per tool; writes nothing anywhere."""
    engine = obj.engine()
    with _progress(as_json) as progress:
        report = engine.sync(connectors=list(connectors) or None, full=full, plan=True, progress=progress)
    if as_json:
        _emit(report.to_dict())
        sys.exit(EXIT_FAILED if report.errors else EXIT_OK)
    con = _console()
    by_tool: dict[str, list[Any]] = {}
    for op in report.plan:
        by_tool.setdefault(f"{op.connector}/{op.stream}", []).append(op)
    for tool, ops in sorted(by_tool.items()):
        counts = {a: sum(1 for o in ops if o.action == a) for a in ("create", "update", "delete", "archive")}
        con.print(f"[bold]{tool}[/bold]: " + ", ".join(f"{n} {a}" for a, n in counts.items() if n))
        for op in ops[:50]:
            target = op.target_id or "(new)"
            con.print(f"  {op.action} {target} [dim]entity {op.entity_id}[/dim]")
            for field, (old, new) in op.changes.items():
                con.print(f"    {field}: {old!r} -> {new!r}")
        if len(ops) > 50:
            con.print(f"  ... {len(ops) - 50} more (use --json for all)")
    if not report.plan:
        con.print("nothing to write: every tool is in sync")
    for e in report.errors:
        con.print(f"[red]error:[/red] {e}")
    sys.exit(EXIT_FAILED if report.errors else EXIT_OK)


# -- status, runs, person --------------------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def status(obj: Ctx, as_json: bool) -> None:
    """Entities, staged records, cursors, pending work and the last run."""
    from hub import views

    data = views.status(obj.store)
    if as_json:
        _emit(data)
        return
    con = _console()
    con.print("entities: " + (", ".join(f"{k} {v}" for k, v in sorted(data["entities"].items())) or "none"))
    for r in data["source_records"]:
        con.print(f"  {r['connector']}/{r['stream']}: {r['records']} records")
    con.print(f"pending records {data['pending_records']}, pending outbound {data['pending_outbound']}, open dead letters {data['dead_letters_open']}")
    ident = data["identity"]
    model = f"match model learnt on {ident['model']['records']} records" if ident["model"] else "no match model yet"
    con.print(f"identity: {model}; {ident['reviews_open']} pairs to review (hub identity review); {ident['decisions']} manual decisions")
    last = data["last_run"]
    if last:
        con.print(f"last run {last['run_id']} {last['status']} at {last['started_at']} ({last['seconds']}s)")


@main.command()
@click.option("--limit", default=20, show_default=True, help="How many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def runs(obj: Ctx, limit: int, as_json: bool) -> None:
    """Recent sync runs, newest first."""
    from hub import views

    data = views.runs(obj.store, limit)
    if as_json:
        _emit(data)
        return
    from rich.table import Table

    table = Table("run", "status", "started", "seconds", "read", "written", "dead letters")
    for r in data:
        written = sum(sum(v.get(k, 0) for k in ("created", "updated", "deleted")) for v in r["written"].values())
        table.add_row(r["run_id"], r["status"], r["started_at"] or "", str(r["seconds"]), str(sum(r["read"].values())), str(written), str(r["dead_letters"]))
    _console().print(table)


@main.group()
def person() -> None:
    """People in the hub."""


@person.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def person_show(obj: Ctx, key: str, as_json: bool) -> None:
    """The 360° view of a person, by EMAIL, entity ID or CONNECTOR:RECORD_ID."""
    from hub import views

    eid = views.find_entity(obj.store, key)
    if not eid:
        click.echo(f"error: no person found for {key!r}", err=True)
        sys.exit(EXIT_USAGE)
    data = views.person(obj.store, eid)
    if as_json:
        _emit(data)
        return
    render_person(data)


def render_person(data: dict[str, Any]) -> None:
    from rich.table import Table

    con = _console()
    g = data["golden"]
    name = " ".join(x for x in (g.get("family_name"), g.get("given_name")) if x)
    kana = " ".join(x for x in (g.get("family_name_kana"), g.get("given_name_kana")) if x)
    con.print(f"[bold]{name or '(no name)'}[/bold] {('(' + kana + ')') if kana else ''}  [dim]{data['id']}[/dim]")
    if data.get("organization"):
        con.print(f"organization: {data['organization']['name']}")
    table = Table("field", "golden value", "from", "observed", "rule", title="golden record")
    for field, value in sorted(g.items()):
        if field in ("id", "source_refs"):
            continue
        p = data["provenance"].get(field, {})
        table.add_row(field, json.dumps(value, ensure_ascii=False), p.get("source", ""), p.get("observed_at") or "", p.get("rule", ""))
    con.print(table)
    src = Table("tool", "record", "updated", "linked by", title="linked source records")
    for s in data["sources"]:
        src.add_row(f"{s['connector']}/{s['stream']}", s["source_id"] + (" (deleted)" if s["deleted"] else ""), s["updated_at"] or "", s["link_rule"])
    con.print(src)
    if data["tickets"]:
        t = Table("ticket", "subject", "status", "priority", "channel", title="tickets")
        for x in data["tickets"]:
            t.add_row(x["id"][:8], str(x.get("subject")), str(x.get("status")), str(x.get("priority")), str(x.get("channel")))
        con.print(t)
    if data["activities"]:
        for a in data["activities"]:
            con.print(f"  {a.get('occurred_at')} {a.get('type')}: {a.get('subject')}")


# -- dead letters ----------------------------------------------------------------------------
@main.group()
def dlq() -> None:
    """The dead-letter store: records that could not be mapped or written."""


@dlq.command("list")
@click.option("--status", default="open", show_default=True, type=click.Choice(["open", "retried", "dropped", "all"]))
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def dlq_list(obj: Ctx, status: str, limit: int, as_json: bool) -> None:
    """List dead letters with connector, stream, record, field and reason."""
    from hub import views

    rows = views.dead_letters(obj.store, None if status == "all" else status, limit)
    if as_json:
        _emit(rows)
        return
    for r in rows:
        field = f" field {r['field']}" if r["field"] else ""
        click.echo(f"#{r['id']} [{r['stage']}] {r['connector']}/{r['stream']}/{r['source_id']}{field}: {r['reason']}")
    click.echo(f"{len(rows)} dead letter(s)", err=True)


@dlq.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_open", is_flag=True, help="Retry every open dead letter.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def dlq_retry(obj: Ctx, ids: tuple[int, ...], all_open: bool, as_json: bool) -> None:
    """Queue dead letters again and run a sync now (it also reads what was fixed at the source)."""
    from hub import views

    if not ids and not all_open:
        raise click.UsageError("give dead-letter IDs or --all")
    n = views.retry_dead_letters(obj.store, list(ids), all_open=all_open)
    report = obj.engine().sync()
    if as_json:
        _emit({"retried": n, "run": report.to_dict()})
    else:
        click.echo(f"retried {n}; the run left {report.dead_letters} new dead letter(s)")
    sys.exit(report.exit_code)


@dlq.command("drop")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_open", is_flag=True, help="Drop every open dead letter.")
@pass_ctx
@handle_errors
def dlq_drop(obj: Ctx, ids: tuple[int, ...], all_open: bool) -> None:
    """Mark dead letters as dropped (kept for the record, never retried)."""
    from hub import views

    if not ids and not all_open:
        raise click.UsageError("give dead-letter IDs or --all")
    click.echo(f"dropped {views.drop_dead_letters(obj.store, list(ids), all_open=all_open)}")


# -- serve -----------------------------------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON line per run.")
@pass_ctx
@handle_errors
def serve(obj: Ctx, as_json: bool) -> None:
    """Run the schedules of hub.yaml in-process; Ctrl-C finishes the current batch and exits."""
    from hub.scheduler import serve as run_schedules

    schedules = obj.workspace.config.schedules
    if not schedules:
        raise ConfigError("no schedules in hub.yaml; add e.g. schedules: [{name: often, cron: '*/15 * * * *'}]", key="schedules")

    def on_report(sched: Any, report: Any) -> None:
        if as_json:
            _emit({"schedule": sched.name, **report.to_dict()})
        else:
            click.echo(f"{sched.name}: run {report.run_id} {report.status}, {report.writes} written, {report.dead_letters} dead letters")

    click.echo(f"serving {len(schedules)} schedule(s); Ctrl-C to stop", err=True)
    n = run_schedules(obj.engine(), schedules, on_report=on_report)
    click.echo(f"stopped after {n} run(s)", err=True)


# -- identity --------------------------------------------------------------------------------
@main.group()
def identity() -> None:
    """Identity resolution: who is who."""


@identity.command("resolve")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write one JSON line per input record.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), help="Input format (default: from the file name).")
@click.option("--column", "columns", multiple=True, metavar="HEADER=FIELD", help="CSV column mapping, e.g. 氏名=name or E-mail=email (repeatable).")
@click.option("--region", default="JP", show_default=True, help="Phone region for numbers without a country code.")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@handle_errors
def identity_resolve(input_path: Path, out_path: Path, fmt: str | None, columns: tuple[str, ...], region: str, as_json: bool) -> None:
    """De-duplicate a file of people without a hub.yaml.

    INPUT is JSONL (one canonical Person per line plus "source" and "source_id") or CSV; OUT gets
    {"source", "source_id", "entity_id", "confidence"} per input record.
    """
    from hub.identity import resolve_file

    mapping: dict[str, str] = {}
    for c in columns:
        if "=" not in c:
            raise click.UsageError(f"--column {c!r}: use HEADER=FIELD")
        header, field = c.split("=", 1)
        mapping[header] = field
    try:
        stats = resolve_file(input_path, out_path, columns=mapping or None, fmt=fmt, default_region=region)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if as_json:
        _emit(stats)
    else:
        click.echo(
            f"{stats.get('records')} records -> {stats.get('entities')} people "
            f"({stats.get('review', 0)} pairs to review); wrote {out_path}"
        )


def _actor(by: str | None) -> str:
    import getpass

    try:
        return by or getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "admin"


_BY = click.option("--by", help="Who decides (kept in the audit log; default: your login name).")
_NOTE = click.option("--note", help="Why (kept with the decision).")


@identity.command("explain")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def identity_explain(obj: Ctx, a: str, b: str, as_json: bool) -> None:
    """Why A and B are (or are not) one person: shared identifiers, merges, decisions, field weights.

    A and B are each a person (entity ID or e-mail) or a source record (CONNECTOR:ID).
    """
    from hub import decisions

    with obj.engine().manual() as ctx:
        data = decisions.explain(ctx, a, b)
    if as_json:
        _emit(data)
        return
    con = _console()
    verdict = "the same person" if data["same_entity"] else "different people"
    con.print(f"[bold]{a}[/bold] and [bold]{b}[/bold] are {verdict} ({data['a']['entity_id']} / {data['b']['entity_id']})")
    for side in ("a", "b"):
        for r in data[side]["records"]:
            con.print(f"  {side}: {r['record']} linked by {r['linked_by']}{' (manual)' if r['manual'] else ''}")
    for ident in data["shared_identifiers"]:
        con.print(f"  shared identifier: {ident['kind']} {ident['value']}")
    for h in data["history"]:
        con.print(f"  {h['action']} by {h['by']} at {h['at']}: {h.get('rule', '')} {h.get('probability', '')}".rstrip())
    for d in data["decisions"]:
        con.print(f"  decision: {d['kind']} by {d['by']} at {d['at']}{(' - ' + d['note']) if d.get('note') else ''}")
    for r in data["reviews"]:
        con.print(f"  review pair {r['id']}: {r['status']} (p={r['probability']})")
    prob = data.get("probabilistic")
    if prob:
        con.print(f"  match model: p={prob['probability']:.4f} ({prob['decision']}), weight {prob['match_weight']} bits (prior {prob['prior_weight']})")
        for field, info in prob["fields"].items():
            con.print(f"    {field:<10} {info['level']:<14} {info['weight']:+.2f}")
        if prob.get("guard"):
            con.print(f"    guard: {prob['guard']}")
    elif data.get("note"):
        con.print(f"  {data['note']}")


@identity.command("merge")
@click.argument("a")
@click.argument("b")
@_BY
@_NOTE
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def identity_merge(obj: Ctx, a: str, b: str, by: str | None, note: str | None, as_json: bool) -> None:
    """Make B's person part of A's. Sticky and audited; the next sync updates every tool.

    A and B: an entity ID, an e-mail, or a source record (CONNECTOR:ID or CONNECTOR:STREAM:ID).
    """
    from hub import decisions

    with obj.engine().manual() as ctx:
        data = decisions.merge(ctx, a, b, actor=_actor(by), note=note)
    if as_json:
        _emit(data)
    elif data["merged"]:
        click.echo(f"merged {data['merged']} into {data['entity_id']}; run `hub sync` to update the tools")
    else:
        click.echo(f"{a} and {b} are already one person ({data['entity_id']}); the decision is kept")


@identity.command("split")
@click.argument("records", nargs=-1, required=True)
@_BY
@_NOTE
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def identity_split(obj: Ctx, records: tuple[str, ...], by: str | None, note: str | None, as_json: bool) -> None:
    """Split the named source records off their person into a person of their own.

    RECORDS are CONNECTOR:ID or CONNECTOR:STREAM:ID of one person (see `hub person show`). The
    decision is sticky: no later sync joins them again. The next sync restores both people in
    every tool (the tool that held only the merged record gets a record for the other).
    """
    from hub import decisions

    with obj.engine().manual() as ctx:
        data = decisions.split(ctx, list(records), actor=_actor(by), note=note)
    if as_json:
        _emit(data)
        return
    moved = ", ".join(r["record"] for r in data["moved"])
    click.echo(f"split {moved} off {data['entity_id']} into {data['new_entity_id']}; run `hub sync` to update the tools")


@identity.command("review")
@click.option("--accept", "accept", type=int, metavar="ID", help="Accept pair ID: the two are one person.")
@click.option("--reject", "reject", type=int, metavar="ID", help="Reject pair ID: never link the two.")
@click.option("--status", type=click.Choice(["open", "accepted", "rejected", "linked"]), default="open", show_default=True, help="Which pairs to list.")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many pairs.")
@_BY
@_NOTE
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def identity_review(obj: Ctx, accept: int | None, reject: int | None, status: str, limit: int, by: str | None, note: str | None, as_json: bool) -> None:
    """List the pairs waiting for a person, with their evidence, or accept/reject one.

    Two kinds: "one person?" (match probability between identity.low and identity.high, or held
    back by a guard) — accept merges, reject keeps them apart for good; and "does this record
    still belong?" (a record lost the identifier that linked it) — accept keeps it, reject splits
    it off.
    """
    from hub import decisions

    if accept is not None and reject is not None:
        raise click.UsageError("use --accept or --reject, not both")
    with obj.engine().manual() as ctx:
        if accept is not None or reject is not None:
            data: Any = decisions.decide_review(ctx, accept if accept is not None else reject, accept is not None, actor=_actor(by), note=note)  # type: ignore[arg-type]
        else:
            data = decisions.reviews(ctx, status=status, limit=limit)
    if as_json:
        _emit(data)
        return
    if isinstance(data, dict):
        if data.get("merged") or data.get("new_entity_id"):
            done = "merged" if data.get("merged") else f"split off into {data['new_entity_id']}"
            click.echo(f"review pair {data['review']}: {done}; run `hub sync` to update the tools")
        else:
            click.echo(f"review pair {data['review']}: " + ("kept together" if data.get("kept_together") else "kept apart for good"))
        return
    if not data:
        click.echo(f"no {status} review pairs")
        return
    from rich.table import Table

    table = Table("id", "question", "p", "a", "b", "evidence")
    for r in data:
        ev = r.get("evidence") or {}
        fields = ", ".join(f"{k} {v['level']} {v['weight']:+.1f}" for k, v in (ev.get("fields") or {}).items())
        if ev.get("guard"):
            fields = f"{fields}\n{ev['guard']}".strip()
        table.add_row(str(r["id"]), r["question"], f"{r['probability']:.3f}", _who(r["a"]), _who(r["b"]), fields)
    _console().print(table)
    click.echo("accept with `hub identity review --accept ID`, reject with `--reject ID`")


def _who(side: dict[str, Any]) -> str:
    p = side.get("person") or {}
    name = " ".join(str(p[k]) for k in ("family_name", "given_name") if p.get(k))
    extra = ", ".join([*p.get("emails", ()), *p.get("phones", ()), p.get("address", "")]).strip(", ")
    return f"{name or '(no name)'} [{side.get('record')}]\n{extra}"


@identity.command("train")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@handle_errors
def identity_train(obj: Ctx, as_json: bool) -> None:
    """Relearn the match model on the people in the store and apply what it decides.

    A sync learns the first model by itself once identity.train_after people are known; retrain
    after a large import. A store of more than identity.train_sample people is learnt on that
    many, spread over it, and every other pair is scored against the model. Links it finds merge
    people; uncertain pairs go to `hub identity review`.
    """
    data = obj.engine().train_identity()
    if as_json:
        _emit(data)
    else:
        click.echo(f"learnt on {data['records']} records: {data['merged']} merges, {data['review']} pairs to review")


# -- plugins ---------------------------------------------------------------------------------
@main.group()
def plugin() -> None:
    """Write connector plugins."""


@plugin.command("new")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(["crm", "sfa", "ma", "cms", "helpdesk"]), help="What sort of tool it connects.")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Where to create the project.")
@handle_errors
def plugin_new(name: str, kind: str, dest: Path) -> None:
    """Generate a connector plugin package (connector, fake, mapping, conformance tests)."""
    from hub.scaffold import create_plugin

    project = create_plugin(name, kind, dest)
    click.echo(f"created {project}\nnext: pip install -e '{project}[test]' && cd {project} && pytest")


# -- sandbox and demo ------------------------------------------------------------------------
@main.group()
def sandbox() -> None:
    """The bundled sandbox tools of a sandbox workspace (see 'hub init --sandbox')."""


def _fake(obj: Ctx, tool: str) -> Any:
    cc = obj.workspace.config.connectors.get(tool)
    if cc is None or not cc.sandbox:
        raise ConfigError(f"{tool!r} is not a sandbox connector in {obj.workspace.root / 'hub.yaml'}", key=f"connectors.{tool}.sandbox")
    cls = obj.plugins.sandbox(cc.type or tool)
    return cls(state_path=obj.workspace.sandbox_state(tool))


@sandbox.command("seed")
@click.argument("tool")
@click.option("--people", default=200, show_default=True, help="How many customers (shared by both tools' seeds).")
@click.option("--seed", "rng_seed", default=0, show_default=True, help="Random seed.")
@pass_ctx
@handle_errors
def sandbox_seed(obj: Ctx, tool: str, people: int, rng_seed: int) -> None:
    """Put realistic customers into a sandbox tool (hubspot or zendesk)."""
    from hub.sandbox import demo_data

    fake = _fake(obj, tool)
    data = demo_data.generate(people, seed=rng_seed)
    counts = demo_data.seed_one(data, tool, fake)
    fake.save()
    click.echo(f"seeded {tool}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))


@sandbox.command("edit")
@click.argument("tool")
@click.argument("stream")
@click.argument("record_id")
@click.argument("assignments", nargs=-1, required=True)
@pass_ctx
@handle_errors
def sandbox_edit(obj: Ctx, tool: str, stream: str, record_id: str, assignments: tuple[str, ...]) -> None:
    """Change one record as a user of the tool would: FIELD=VALUE ... (dotted for nested)."""
    from hub import paths

    fake = _fake(obj, tool)
    fields: dict[str, Any] = {}
    for a in assignments:
        if "=" not in a:
            raise click.UsageError(f"{a!r}: use FIELD=VALUE")
        k, v = a.split("=", 1)
        paths.set_(fields, k, v)
    try:
        fake.update(stream, record_id, fields)
    except KeyError:
        raise click.UsageError(f"{tool} has no {stream} record {record_id!r}") from None
    fake.save()
    click.echo(f"updated {tool}/{stream}/{record_id}")


@sandbox.command("dump")
@click.argument("tool")
@click.option("--stream", help="Only this stream.")
@pass_ctx
@handle_errors
def sandbox_dump(obj: Ctx, tool: str, stream: str | None) -> None:
    """Print a sandbox tool's records as JSON lines."""
    fake = _fake(obj, tool)
    for s in [stream] if stream else fake.streams:
        for rec in fake.records(s):
            _emit({"stream": s, **rec})


@main.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Workspace directory (default: a new temporary one).")
@click.option("--people", default=500, show_default=True, help="How many customers to seed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the guided tour.")
@handle_errors
def demo(directory: Path | None, people: int, as_json: bool) -> None:
    """Show the hub end to end on sandbox HubSpot and Zendesk (no credentials, no network)."""
    from hub.demo import run_demo

    sys.exit(run_demo(directory, people=people, as_json=as_json))


if __name__ == "__main__":
    main()
