"""``mesh policy test`` and ``mesh audit verify|query``."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import click

from llm_mesh.cli.common import _load, config_option, data_option
from llm_mesh.cli.progress import Progress, progress_option


def _engines_for(config: Any, app: str | None, route: str | None, policy: str | None):
    from llm_mesh.policy.governance import governance_of
    from llm_mesh.policy.hook import bound_policies, build_engines

    if not config.policies:
        raise click.UsageError("the config declares no policies")
    engines = build_engines(config)
    if policy is not None:
        if policy not in engines:
            raise click.UsageError(f"unknown policy {policy!r}; policies: {', '.join(sorted(engines))}")
        return [engines[policy]]
    if app is not None and app not in config.apps:
        raise click.UsageError(f"unknown app {app!r}")
    names = bound_policies(governance_of(config), app or "", route or "")
    if not names:
        raise click.UsageError("no policy is bound to this app/route; name one with --policy")
    return [engines[n] for n in names]


@click.group()
def policy() -> None:
    """Inspect PII/secret policies."""


@policy.command("test")
@click.option("--input", "text", required=True, help="the text to check ('-' reads stdin)")
@click.option("--app", "app_name", default=None, help="apply the policies bound to this app")
@click.option("--route", default=None, help="and to this route")
@click.option("--policy", "policy_name", default=None, help="a named policy instead of the bindings")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@config_option
def policy_test(text: str, app_name: str | None, route: str | None, policy_name: str | None, as_json: bool, config_file: str | None) -> None:
    """Show what the policy would do to TEXT: findings (type, span, action) and the rewritten text."""
    from llm_mesh.policy.actions import PolicyBlocked
    from llm_mesh.policy.redact_service import run_policies

    if text == "-":
        text = sys.stdin.read()
    config, _ = _load(config_file)
    engines = _engines_for(config, app_name, route, policy_name)
    blocked: PolicyBlocked | None = None
    try:
        result = run_policies(engines, [text])
    except PolicyBlocked as exc:
        blocked = exc
        result = run_policies([_no_block(e) for e in engines], [text])
        by_name = {e.name: e for e in engines}
        for f in result["findings"][0]:
            f["action"] = by_name[f["policy"]].rule_for(f["type"]).action.value
    if as_json:
        out = {"policies": [e.name for e in engines], "findings": result["findings"][0], "text": result["texts"][0],
               "blocked": blocked.message if blocked else None, "classifications": result["classifications"]}
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"policies: {', '.join(e.name for e in engines)}")
    findings = result["findings"][0]
    if not findings:
        click.echo("findings: none")
    for f in findings:
        click.echo(f"  {f['type']:<22} {f['start']:>6}..{f['end']:<6} {f['action']:<7} score {f['score']}  ({f['policy']})")
    if blocked is not None:
        click.echo(f"verdict: BLOCKED - {blocked.message} (text below: what the other actions would give)")
    else:
        click.echo(f"verdict: {'rewritten' if result['texts'][0] != text else 'unchanged'}")
    click.echo(f"classifications: {', '.join(result['classifications']) or 'none'}")
    click.echo("text:")
    click.echo(result["texts"][0])


def _no_block(engine):
    """A copy of an engine whose block actions redact instead (to show the rest of the verdict)."""
    import copy

    from llm_mesh.policy.actions import Action
    from llm_mesh.policy.engine import EntityRule

    clone = copy.copy(engine)
    clone._actions = {k: EntityRule(Action.REDACT, r.alert) if r.action is Action.BLOCK else r for k, r in engine._actions.items()}
    if engine._default.action is Action.BLOCK:
        clone._default = EntityRule(Action.REDACT)
    clone._rule_cache = {}
    from llm_mesh.policy.actions import NullAlertSink

    clone.alert_sink = NullAlertSink()
    return clone


# ----------------------------------------------------------------------------- audit

_REL = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str | None) -> float | None:
    """Epoch seconds, ISO date/time (UTC unless it says otherwise), or relative: 30m, 12h, 7d."""
    if value is None:
        return None
    m = _REL.match(value.strip())
    if m:
        return time.time() - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use epoch seconds, an ISO date/time or 30m/12h/7d") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def _audit_store(data_dir: str, dynamodb: bool, endpoint_url: str | None):
    if dynamodb:
        from llm_mesh.stores.dynamodb import open_dynamodb_stores

        stores = open_dynamodb_stores(endpoint_url=endpoint_url)
    else:
        from llm_mesh.stores.sqlite import open_sqlite_stores

        stores = open_sqlite_stores(Path(data_dir) / "mesh.db")
    store = getattr(stores, "audit", None)
    if store is None:
        raise click.UsageError("this store has no audit table (set MESH_TABLE_AUDIT on DynamoDB)")
    return stores, store


store_options = [
    data_option,
    click.option("--dynamodb", is_flag=True, help="use the DynamoDB tables named by MESH_TABLE_* instead of SQLite"),
    click.option("--endpoint-url", default=None, help="DynamoDB endpoint (DynamoDB Local)"),
]


def _with_store(fn):
    for option in reversed(store_options):
        fn = option(fn)
    return fn


@click.group()
def audit() -> None:
    """The tamper-evident audit trail."""


def _anchor_sink(store, dynamodb: bool):
    from llm_mesh.audit.anchors import default_anchor_sink

    return default_anchor_sink(None if dynamodb else getattr(store, "data_dir", None))


def _save_heads(store, anchors_file: str | None, anchors: dict, partitions: tuple[str, ...]) -> None:
    if not anchors_file:
        raise click.UsageError("--save-anchors needs --anchors FILE")
    heads = {}
    for p in (list(partitions) or store.partitions()):
        head = store.head(p)
        if head is not None:
            heads[p] = [head.seq, head.hash]
    Path(anchors_file).write_text(json.dumps({**{p: list(v) for p, v in anchors.items()}, **heads}, indent=1, sort_keys=True))
    click.echo(f"anchors saved to {anchors_file} ({len(heads)} partition(s))")


@audit.command("verify")
@_with_store
@click.option("--anchors", "anchors_file", default=None, type=click.Path(dir_okay=False),
              help="JSON file of partition heads kept from an earlier run (catches removal of the latest records)")
@click.option("--save-anchors", is_flag=True, help="write the current heads to --anchors when the chain is intact")
@click.option("--partition", "partitions", multiple=True, help="only these partitions")
@progress_option
def audit_verify(data_dir: str, dynamodb: bool, endpoint_url: str | None, anchors_file: str | None, save_anchors: bool,
                 partitions: tuple[str, ...], show_progress: bool | None) -> None:
    """Recompute every chain (HMAC with the chain key) and check it against every anchor the
    writers kept (the data dir's anchor file, or the S3 bucket named by MESH_AUDIT_ANCHOR_BUCKET).
    Exit 0: intact; 1: broken (the output names each partition and the first bad sequence);
    3: unkeyed (a legacy plain-sha256 chain: consistent, but anyone could have re-sealed it)."""
    from llm_mesh.audit.verify import UNKEYED, verify_store

    stores, store = _audit_store(data_dir, dynamodb, endpoint_url)
    anchors: dict[str, tuple[int, str]] = {}
    if anchors_file and Path(anchors_file).exists():
        anchors = {p: (int(v[0]), str(v[1])) for p, v in json.loads(Path(anchors_file).read_text()).items()}
    progress = Progress(show_progress)
    progress.stage("audit verify: listing partitions")
    report = verify_store(store, partitions=list(partitions) or None, anchors=anchors,
                          anchor_sink=_anchor_sink(store, dynamodb), progress=progress.callback("audit verify: partitions"))
    progress.finish()
    click.echo(report.summary())
    if report.ok and save_anchors:
        _save_heads(store, anchors_file, anchors, partitions)
    close = getattr(stores, "close", None)
    if close:
        close()
    sys.exit(1 if not report.ok else 3 if report.status == UNKEYED else 0)


@audit.command("query")
@_with_store
@click.option("--app", "app_name", default=None)
@click.option("--since", default=None, help="epoch, ISO date/time or relative (30m, 12h, 7d)")
@click.option("--until", default=None)
@click.option("--model", default=None)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON record per line (payload ciphertext omitted)")
def audit_query(data_dir: str, dynamodb: bool, endpoint_url: str | None, app_name: str | None, since: str | None,
                until: str | None, model: str | None, limit: int, as_json: bool) -> None:
    """Audit records, newest first, filtered by app, time and model."""
    from llm_mesh.cli.common import _table, _time

    stores, store = _audit_store(data_dir, dynamodb, endpoint_url)
    records = store.query(app=app_name, since=parse_time(since), until=parse_time(until), model=model, limit=limit)
    if as_json:
        for r in records:
            click.echo(json.dumps({**r.__dict__, "payload": r.payload is not None}, sort_keys=True))
        return
    rows = []
    for r in records:
        policy = r.decisions.get("policy") or {}
        counts = ",".join(f"{k}={v}" for per in (policy.get("counts") or {}).values() for k, v in per.items())
        verdict = "blocked" if policy.get("blocked") else (r.decisions.get("error") or "")
        rows.append((_time(r.timestamp), r.record_id[-12:], r.app, r.purpose or "", r.route, f"{r.provider}/{r.model}",
                     str(r.status), f"{r.prompt_tokens}/{r.completion_tokens}", r.cost_usd, counts, verdict))
    _table(("TIME", "REQUEST", "APP", "PURPOSE", "ROUTE", "PROVIDER/MODEL", "STATUS", "TOKENS", "COST", "POLICY", "VERDICT"), rows)
