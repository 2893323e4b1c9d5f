"""`mesh kb ingest` on 1,000 documents: progress bar, incremental re-ingest, delete by source."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from llm_mesh.cli.main import cli

CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"support": {"provider": "echo", "model": "echo-1", "knowledge_base": "docs"}},
    "apps": {"local": {"routes": "*", "admin": True}},
    "knowledge_bases": {"docs": {"embedding": {"kind": "hashing", "dimensions": 128}, "readers": "*"}},
}


def test_ingest_a_thousand_documents_then_only_changes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mesh.yaml").write_text(yaml.safe_dump(CONFIG))
    corpus = tmp_path / "corpus"
    for n in range(1000):
        folder = corpus / f"part{n % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = (".md", ".txt", ".html")[n % 3]
        body = f"Document {n} about topic {n % 37}. " * 20
        (folder / f"doc{n}{suffix}").write_text(f"<p>{body}</p>" if suffix == ".html" else body)
    runner = CliRunner()
    first = runner.invoke(cli, ["kb", "ingest", "docs", "corpus"])
    assert first.exit_code == 0, first.output
    assert "1000 added, 0 updated, 0 unchanged" in first.output
    assert "1000/1000" in first.output  # tqdm's bar (stderr is mixed into output by CliRunner)

    (corpus / "part3" / "doc3.md").write_text("A brand new text about refunds.")
    (corpus / "part4" / "doc4.txt").unlink()
    second = runner.invoke(cli, ["kb", "ingest", "docs", "corpus", "--prune"])
    assert second.exit_code == 0, second.output
    assert "0 added, 1 updated, 998 unchanged, 1 removed" in second.output

    deleted = runner.invoke(cli, ["kb", "delete", "docs", "--source", "corpus/part3/doc3.md"])
    assert deleted.exit_code == 0 and "1 chunks removed" in deleted.output
    listing = runner.invoke(cli, ["kb", "list", "docs"])
    assert "corpus/part3/doc3.md" not in listing.output and "corpus/part5/doc5.html" in listing.output
    state = json.loads((tmp_path / ".mesh" / "kb" / "docs" / "state.json").read_text())
    assert state["count"] == 998  # one chunk per document: 1000 - pruned - deleted
