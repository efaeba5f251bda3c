"""``hub demo``: sandbox HubSpot and Zendesk with overlapping customers, synced end to end."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hub import config as hub_config
from hub import plugins as hub_plugins
from hub import views
from hub.engine import Engine
from hub.progress import Progress
from hub.report import RunReport
from hub.sandbox import demo_data
from hub.store import Store, default_url
from hub.templates import SANDBOX


def run_demo(directory: Path | None, *, people: int = 500, as_json: bool = False, seed: int = 0) -> int:
    """Run the guided demo; returns the exit code."""
    from rich.console import Console

    con = Console(quiet=as_json, soft_wrap=True)
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="hub-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    (root / "hub.yaml").write_text(SANDBOX, encoding="utf-8")
    ws = hub_config.load(root / "hub.yaml")
    plugins = hub_plugins.default()
    fakes = {name: plugins.sandbox(name)(state_path=ws.sandbox_state(name)) for name in ("hubspot", "zendesk")}
    data = demo_data.generate(people, seed=seed)
    demo_data.seed_fakes(data, fakes["hubspot"], fakes["zendesk"])
    for fake in fakes.values():
        fake.save()
    store = Store(default_url(root))
    engine = Engine(ws, store, plugins, fakes=fakes)
    summary: dict[str, Any] = {"workspace": str(root), "seeded": data.summary()}

    con.rule("[bold]Seamless Hub demo[/bold]")
    con.print(f"workspace: {root}")
    counts = {t: {s: len(fakes[t].records(s)) for s in fakes[t].streams} for t in fakes}
    con.print(f"sandbox HubSpot: {counts['hubspot']}   sandbox Zendesk: {counts['zendesk']}")

    con.rule("1. first sync: read both tools, resolve identities, write golden records back")
    first = _sync(engine, as_json)
    summary["first_sync"] = first.to_dict()
    _print_run(con, first)
    st = views.status(store)
    con.print(
        f"people in the hub: {st['entities'].get('person', 0)} (from {counts['hubspot'].get('contacts', 0)} HubSpot contacts "
        f"+ {counts['zendesk'].get('users', 0)} Zendesk users); organizations: {st['entities'].get('organization', 0)}; "
        f"tickets: {st['entities'].get('ticket', 0)}"
    )
    ident = st["identity"]
    if ident["model"]:
        con.print(
            f"identity: a match model learnt on {ident['model']['records']} person records; "
            f"{ident['reviews_open']} uncertain pairs wait for `hub identity review`"
        )
    summary["identity"] = ident

    con.rule("2. a user changes one person in each tool")
    changes = _edit_one_in_each(fakes, store)
    for c in changes:
        con.print(f"  {c['tool']}: {c['who']} — {c['field']} := {c['value']!r}")
    summary["edits"] = changes
    planned = engine.sync(plan=True)
    con.print("[bold]hub plan[/bold] (nothing written yet):")
    for op in planned.plan:
        con.print(f"  {op.connector}/{op.stream} {op.action} {op.target_id}: " + ", ".join(f"{f}: {o!r} -> {n!r}" for f, (o, n) in op.changes.items()))
    summary["plan"] = [vars(op) for op in planned.plan]

    con.rule("3. second sync: each change reaches the other tool")
    second = _sync(engine, as_json)
    summary["second_sync"] = second.to_dict()
    _print_run(con, second)

    con.rule("4. third sync: nothing changed, nothing written (no ping-pong)")
    third = _sync(engine, as_json)
    summary["third_sync"] = third.to_dict()
    _print_run(con, third)

    con.rule("5. the 360° view of one person")
    eid = changes[0]["entity_id"] if changes else None
    if eid:
        view = views.person(store, eid)
        summary["person"] = view
        if not as_json:
            from cli import render_person

            render_person(view)
    con.print(f"\nexplore further:  hub -c {root / 'hub.yaml'} status | runs | person show EMAIL | identity review | sandbox dump hubspot")
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, default=str))
    store.dispose()
    worst = max(first.exit_code, second.exit_code, third.exit_code)
    return worst if worst == 3 else 0


def _sync(engine: Engine, quiet: bool) -> RunReport:
    with Progress(enabled=not quiet) as progress:
        return engine.sync(progress=progress)


def _print_run(con: Any, r: RunReport) -> None:
    for name in sorted(set(r.read) | set(r.written)):
        w = r.written.get(name, {})
        con.print(
            f"  {name:8} read {r.read.get(name, 0):5}   created {w.get('created', 0):4}   updated {w.get('updated', 0):4}"
            f"   failed {w.get('failed', 0):3}   requests {r.requests.get(name, 0)}"
        )
    con.print(
        f"  entities created {r.entities_created}, merged {r.entities_merged}; conflicts resolved {r.conflicts_resolved}; "
        f"dead letters {r.dead_letters}; records written {r.writes}; {r.seconds:.1f}s"
    )


def _edit_one_in_each(fakes: dict[str, Any], store: Store) -> list[dict[str, Any]]:
    """Pick two people known to both tools: a sales rep qualifies one in HubSpot (lifecycle
    stage and mobile), a support agent corrects the other's phone in Zendesk."""
    from sqlalchemy import select

    from hub.store.models import Entity, Link, SourceRecord

    with store.session() as s:
        rows = s.execute(
            select(Link.entity_id, SourceRecord.connector, SourceRecord.source_id, Entity.data)
            .join(SourceRecord, SourceRecord.id == Link.source_record_id)
            .join(Entity, Entity.id == Link.entity_id)
            .where(SourceRecord.stream.in_(["contacts", "users"]), SourceRecord.deleted.is_(False))
        ).all()
    tools: dict[str, dict[str, str]] = {}
    stage: dict[str, str | None] = {}
    for eid, connector, sid, data in rows:
        tools.setdefault(eid, {})[connector] = sid
        stage[eid] = (data.get("lifecycle_stage") or {}).get("stage")
    both = sorted(eid for eid, t in tools.items() if {"hubspot", "zendesk"} <= set(t))
    leads = [e for e in both if stage.get(e) in ("lead", "mql", "sql", "opportunity")]
    if len(both) < 2 or not leads:
        return []
    a = leads[0]
    b = next(e for e in both if e != a)
    hs_id, zd_id = tools[a]["hubspot"], tools[b]["zendesk"]
    fakes["hubspot"].update("contacts", hs_id, {"lifecyclestage": "customer", "mobilephone": "080-2468-1357", "jobtitle": "営業部長"})
    fakes["zendesk"].update("users", zd_id, {"phone": "+81 3-5555-0101"})
    for fake in fakes.values():
        fake.save()
    return [
        {"tool": "hubspot", "who": f"contact {hs_id}", "entity_id": a, "field": "lifecyclestage, mobilephone, jobtitle", "value": "customer, 080-2468-1357, 営業部長"},
        {"tool": "zendesk", "who": f"user {zd_id}", "entity_id": b, "field": "phone", "value": "+81 3-5555-0101"},
    ]
