"""``mesh kb``, ``mesh prompts`` and ``mesh experiments``: knowledge bases and the prompt catalogue, locally."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

from llm_mesh.cli.common import _load, _stores, _table, config_option, data_option
from llm_mesh.cli.progress import progress_option


def _runtime(config_file: str | None, data_dir: str) -> Any:
    from llm_mesh.identity import ApiKeyAuthenticator
    from llm_mesh.runtime import build_runtime
    from llm_mesh.secrets import EnvSecretResolver

    config, _ = _load(config_file)
    stores = _stores(data_dir)
    return build_runtime(config, stores, EnvSecretResolver(), ApiKeyAuthenticator(config, stores.keys), home="local", background_log=False)


def _knowledge_base(config_file: str | None, data_dir: str, name: str) -> Any:
    from llm_mesh.kb.rag import find_rag_hook

    runtime = _runtime(config_file, data_dir)
    hook = find_rag_hook(runtime.service)
    if hook is None or name not in hook.knowledge_bases.configs:
        click.echo(f"no knowledge base named {name!r} in the config", err=True)
        sys.exit(2)
    hook.knowledge_bases.bind_service(runtime.service)
    return hook.knowledge_bases.get(name)


@click.group()
def kb() -> None:
    """Knowledge bases: ingest, list and delete documents."""


@kb.command("ingest")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--prune", is_flag=True, help="remove sources under the given folders that no longer exist")
@config_option
@data_option
def kb_ingest(name: str, paths: tuple[str, ...], prune: bool, config_file: str | None, data_dir: str) -> None:
    """Ingest files and folders (text, Markdown, HTML, PDF); unchanged files are skipped by content hash."""
    from tqdm import tqdm

    from llm_mesh.kb.ingest import discover

    knowledge_base = _knowledge_base(config_file, data_dir, name)
    files = list(discover(paths))
    with tqdm(total=len(files), unit="file", desc=f"ingest {name}", file=sys.stderr) as bar:
        report = asyncio.run(knowledge_base.ingester().ingest(paths, prune=prune, progress=bar.update, files=files))
    summary = report.as_dict()
    click.echo(f"{summary['added']} added, {summary['updated']} updated, {summary['unchanged']} unchanged, "
               f"{summary['removed']} removed, {len(report.failed)} failed; {summary['chunks']} chunks in {summary['seconds']}s")
    for source, reason in report.failed.items():
        click.echo(f"  failed {source}: {reason}", err=True)


@kb.command("delete")
@click.argument("name")
@click.option("--source", "sources", multiple=True, required=True, help="source to remove (as listed by mesh kb list)")
@config_option
@data_option
def kb_delete(name: str, sources: tuple[str, ...], config_file: str | None, data_dir: str) -> None:
    """Delete every chunk of the given sources."""
    knowledge_base = _knowledge_base(config_file, data_dir, name)
    ingester = knowledge_base.ingester()
    for source in sources:
        click.echo(f"{source}: {ingester.delete(source)} chunks removed")
    knowledge_base.store.flush()


@kb.command("list")
@click.argument("name")
@config_option
@data_option
def kb_list(name: str, config_file: str | None, data_dir: str) -> None:
    """The documents of a knowledge base."""
    knowledge_base = _knowledge_base(config_file, data_dir, name)
    rows = [(d.source, d.title, str(len(d.chunk_ids)), d.content_hash[:12]) for d in knowledge_base.documents.list_documents(name)]
    _table(("SOURCE", "TITLE", "CHUNKS", "HASH"), rows)


def _prompt_hook(config_file: str | None, data_dir: str) -> Any:
    from llm_mesh.prompts.hook import find_prompt_hook

    hook = find_prompt_hook(_runtime(config_file, data_dir).service)
    if hook is None:
        click.echo("the config has no prompts section", err=True)
        sys.exit(2)
    return hook


@click.group()
def prompts() -> None:
    """The prompt catalogue: versions, labels, diff, rollback."""


@prompts.command("list")
@config_option
@data_option
def prompts_list(config_file: str | None, data_dir: str) -> None:
    hook = _prompt_hook(config_file, data_dir)
    rows = []
    for name in hook.catalogue.names():
        versions = [v.version for v in hook.catalogue.versions(name)]
        labels = ", ".join(f"{k}=v{v}" for k, v in sorted(hook.catalogue.labels(name, fresh=True).items()))
        rows.append((name, ",".join(map(str, versions)), labels))
    _table(("PROMPT", "VERSIONS", "LABELS"), rows)


@prompts.command("show")
@click.argument("reference")
@config_option
@data_option
def prompts_show(reference: str, config_file: str | None, data_dir: str) -> None:
    """Show NAME, NAME@label or NAME@version."""
    version, _ = _prompt_hook(config_file, data_dir).catalogue.resolve(reference)
    click.echo(json.dumps(version.as_dict(), indent=2))


@prompts.command("diff")
@click.argument("name")
@click.argument("a", type=int)
@click.argument("b", type=int)
@config_option
@data_option
def prompts_diff(name: str, a: int, b: int, config_file: str | None, data_dir: str) -> None:
    click.echo(_prompt_hook(config_file, data_dir).catalogue.diff(name, a, b))


@prompts.command("label")
@click.argument("name")
@click.argument("label")
@click.argument("version", type=int)
@config_option
@data_option
def prompts_label(name: str, label: str, version: int, config_file: str | None, data_dir: str) -> None:
    """Point LABEL of prompt NAME at VERSION."""
    _prompt_hook(config_file, data_dir).catalogue.move_label(name, label, version, "cli")
    click.echo(f"{name}@{label} -> v{version}")


@prompts.command("rollback")
@click.argument("name")
@click.argument("label")
@config_option
@data_option
def prompts_rollback(name: str, label: str, config_file: str | None, data_dir: str) -> None:
    move = _prompt_hook(config_file, data_dir).catalogue.rollback(name, label, "cli")
    click.echo(f"{name}@{label} -> v{move.version}")


@click.group()
def experiments() -> None:
    """Prompt A/B experiments: report and promote."""


@experiments.command("report")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@progress_option
@config_option
@data_option
def experiments_report(name: str, as_json: bool, show_progress: bool | None, config_file: str | None, data_dir: str) -> None:
    from llm_mesh.cli.progress import Progress
    from llm_mesh.http.prompts import _finite

    progress = Progress(show_progress)
    progress.stage(f"experiment {name}: opening the store")
    hook = _prompt_hook(config_file, data_dir)
    progress.stage(f"experiment {name}: reading outcomes and testing variants")
    report = _finite(hook.experiments.report(name))
    progress.finish(f"experiment {name}: {sum(v['requests'] for v in report['variants'])} outcomes")
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    rows = []
    for v in report["variants"]:
        rows.append((v["variant"], f"v{v['version']}", str(v["requests"]), str(v["errors"]),
                     f"{v['latency_ms']['mean']:.1f}" if v["latency_ms"] else "-",
                     f"{v['cost_usd']['mean']:.6f}" if v["cost_usd"] else "-",
                     f"{v['feedback']['mean']:.3f} (n={v['feedback']['count']})" if v["feedback"] else "-"))
    _table(("VARIANT", "VERSION", "REQUESTS", "ERRORS", "LATENCY MS", "COST USD", "FEEDBACK"), rows)
    for pair, tests in report["tests"].items():
        fb, lat = tests["feedback_welch"], tests["latency_welch"]
        click.echo(f"{pair}: feedback p={fb['p']:.4f}" if fb and fb["p"] is not None else f"{pair}: feedback p=-", nl=False)
        click.echo(f", latency p={lat['p']:.4f}" if lat and lat["p"] is not None else ", latency p=-")
    click.echo(f"winner ({report['metric']}, alpha {report['significance_level']}): {report['winner'] or 'none yet'}")


@experiments.command("promote")
@click.argument("name")
@click.option("--variant", default=None, help="default: the significant winner")
@config_option
@data_option
def experiments_promote(name: str, variant: str | None, config_file: str | None, data_dir: str) -> None:
    result = _prompt_hook(config_file, data_dir).experiments.promote(name, variant, "cli")
    click.echo(f"{result['prompt']}@{result['label']} -> v{result['version']} (variant {result['promoted']})")


def register(cli: click.Group) -> None:
    for group in (kb, prompts, experiments):
        cli.add_command(group)
