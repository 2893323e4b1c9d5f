"""In-memory fakes of the OpenSearch, Chroma (API v2) and Pinecone REST APIs, as httpx handlers.

Each keeps its data, evaluates the documented filter languages and scores by cosine as the
real service reports it (OpenSearch faiss cosinesimil: 2 - d = 1 + cos; Chroma: distance
1 - cos; Pinecone cosine metric: cos). Every request is recorded (method, path, params,
parsed body) so tests can compare bodies with the documented DSL. ``serve_http`` exposes a
handler on a loopback port for real clients (opensearch-py).
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import httpx


def cosine(a: list[float], b: list[float]) -> float:
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    return sum(x * y for x, y in zip(a, b)) / (na * nb) if na and nb else 0.0


class Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def record(self, request: httpx.Request) -> Any:
        raw = request.content.decode() if request.content else ""
        body: Any
        if request.headers.get("content-type", "").startswith("application/x-ndjson"):
            body = [json.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            body = json.loads(raw) if raw else None
        entry = {"method": request.method, "path": request.url.path, "params": dict(request.url.params),
                 "body": body, "headers": dict(request.headers)}
        self.requests.append(entry)
        return body

    def last(self, method: str, path_end: str) -> dict[str, Any]:
        return [r for r in self.requests if r["method"] == method and r["path"].endswith(path_end)][-1]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)  # type: ignore[attr-defined]


def _json(status: int, payload: Any) -> httpx.Response:
    return httpx.Response(status, json=payload)


# ---------------------------------------------------------------- OpenSearch
class FakeOpenSearch(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.indices: dict[str, dict[str, Any]] = {}  # name -> {"mapping": ..., "docs": {id: source}}
        self.pipelines: dict[str, Any] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = self.record(request)
        parts = [p for p in request.url.path.split("/") if p]
        if request.method == "PUT" and parts[:2] == ["_search", "pipeline"]:
            self.pipelines[parts[2]] = body
            return _json(200, {"acknowledged": True})
        if request.method == "POST" and parts == ["_bulk"]:
            return _json(200, self._bulk(body))
        index = parts[0]
        if request.method == "PUT" and len(parts) == 1:
            if index in self.indices:
                return _json(400, {"error": {"type": "resource_already_exists_exception", "reason": f"index [{index}] already exists"}, "status": 400})
            self.indices[index] = {"mapping": body, "docs": {}}
            return _json(200, {"acknowledged": True, "index": index})
        if index not in self.indices:
            return _json(404, {"error": {"type": "index_not_found_exception"}, "status": 404})
        docs = self.indices[index]["docs"]
        action = parts[1] if len(parts) > 1 else ""
        if action == "_count":
            return _json(200, {"count": len(docs)})
        if action == "_refresh":
            return _json(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
        if action == "_search":
            return _json(200, self._search(docs, body, dict(request.url.params)))
        return _json(400, {"error": {"type": "unsupported"}})

    def _bulk(self, lines: list[dict[str, Any]]) -> dict[str, Any]:
        items, i = [], 0
        while i < len(lines):
            [(op, meta)] = lines[i].items()
            docs = self.indices.setdefault(meta["_index"], {"mapping": None, "docs": {}})["docs"]
            if op == "index":
                doc_id = meta.get("_id") or uuid.uuid4().hex
                docs[doc_id] = lines[i + 1]
                items.append({"index": {"_id": doc_id, "status": 201, "result": "created"}})
                i += 2
            elif op == "delete":
                found = docs.pop(meta["_id"], None) is not None
                items.append({"delete": {"_id": meta["_id"], "status": 200 if found else 404}})
                i += 1
            else:
                raise AssertionError(f"unexpected bulk op {op}")
        return {"took": 1, "errors": False, "items": items}

    @staticmethod
    def _matches(doc: dict[str, Any], clauses: list[dict[str, Any]]) -> bool:
        for clause in clauses:
            [(kind, spec)] = clause.items()
            [(field, wanted)] = spec.items()
            if kind == "term" and doc.get(field) != wanted:
                return False
            if kind == "terms" and doc.get(field) not in wanted:
                return False
        return True

    def _knn(self, docs: dict[str, Any], clause: dict[str, Any]) -> dict[str, float]:
        [(field, spec)] = clause["knn"].items()
        allowed = spec.get("filter", {}).get("bool", {}).get("filter", [])
        scored = {i: 1.0 + cosine(spec["vector"], d[field]) for i, d in docs.items() if self._matches(d, allowed)}
        return dict(sorted(scored.items(), key=lambda kv: -kv[1])[: spec["k"]])

    def _keyword(self, docs: dict[str, Any], clause: dict[str, Any]) -> dict[str, float]:
        [(field, spec)] = clause["bool"]["must"][0]["match"].items()
        terms = set(spec["query"].lower().split())
        out = {}
        for i, d in docs.items():
            if self._matches(d, clause["bool"].get("filter", [])):
                overlap = len(terms & set(str(d.get(field, "")).lower().split()))
                if overlap:
                    out[i] = float(overlap)
        return out

    def _search(self, docs: dict[str, Any], body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        query = body["query"]
        if "knn" in query:
            scores = self._knn(docs, query)
        elif "hybrid" in query:
            pipeline = self.pipelines[params["search_pipeline"]]
            combo = pipeline["phase_results_processors"][0]["normalization-processor"]["combination"]
            weights = combo["parameters"]["weights"]
            keyword, vector = query["hybrid"]["queries"]
            per_clause = [self._keyword(docs, keyword), self._knn(docs, vector)]
            normalised = []
            for scores_ in per_clause:
                lo, hi = (min(scores_.values()), max(scores_.values())) if scores_ else (0, 0)
                normalised.append({i: (s - lo) / (hi - lo) if hi > lo else 1.0 for i, s in scores_.items()})
            ids = set().union(*normalised)
            scores = {i: sum(w * n.get(i, 0.0) for w, n in zip(weights, normalised)) / sum(weights) for i in ids}
        else:  # ids of a source
            clauses = query["bool"]["filter"]
            scores = {i: 0.0 for i, d in docs.items() if self._matches(d, clauses)}
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])[: body.get("size", 10)]
        hits = []
        for doc_id, score in ranked:
            hit: dict[str, Any] = {"_index": "x", "_id": doc_id, "_score": score}
            if body.get("_source") is not False:
                hit["_source"] = {k: v for k, v in docs[doc_id].items() if k not in body.get("_source", {}).get("excludes", [])}
            hits.append(hit)
        return {"took": 1, "timed_out": False, "hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits}}


# ---------------------------------------------------------------- Chroma
class FakeChroma(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.collections: dict[str, dict[str, Any]] = {}  # id -> {"name", "metadata", "records": {id: record}}

    @staticmethod
    def _where(meta: dict[str, Any], where: dict[str, Any] | None) -> bool:
        if not where:
            return True
        if "$and" in where:
            return all(FakeChroma._where(meta, w) for w in where["$and"])
        [(field, cond)] = where.items()
        if not isinstance(cond, dict):
            return meta.get(field) == cond
        [(op, value)] = cond.items()
        return meta.get(field) == value if op == "$eq" else meta.get(field) in value

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = self.record(request)
        parts = [p for p in request.url.path.split("/") if p]
        assert parts[:2] == ["api", "v2"] and parts[2] == "tenants" and parts[4] == "databases" and parts[6] == "collections", parts
        if len(parts) == 7 and request.method == "POST":
            for cid, c in self.collections.items():
                if c["name"] == body["name"]:
                    return _json(200, {"id": cid, "name": c["name"], "metadata": c["metadata"]})
            cid = str(uuid.uuid4())
            self.collections[cid] = {"name": body["name"], "metadata": body.get("metadata"), "records": {}}
            return _json(200, {"id": cid, "name": body["name"], "metadata": body.get("metadata")})
        records = self.collections[parts[7]]["records"]
        action = parts[8]
        if action == "upsert":
            for i, rid in enumerate(body["ids"]):
                records[rid] = {"embedding": body["embeddings"][i], "document": body["documents"][i], "metadata": body["metadatas"][i]}
            return _json(200, {})
        if action == "count":
            return _json(200, len(records))
        if action == "get":
            return _json(200, {"ids": [r for r, rec in records.items() if self._where(rec["metadata"], body.get("where"))],
                               "include": body.get("include")})
        if action == "delete":
            for rid in body["ids"]:
                records.pop(rid, None)
            return _json(200, {})
        if action == "query":
            [vector] = body["query_embeddings"]
            found = sorted(((1.0 - cosine(vector, rec["embedding"]), rid) for rid, rec in records.items()
                            if self._where(rec["metadata"], body.get("where"))))[: body["n_results"]]
            return _json(200, {"ids": [[r for _, r in found]], "distances": [[d for d, _ in found]],
                               "documents": [[records[r]["document"] for _, r in found]],
                               "metadatas": [[records[r]["metadata"] for _, r in found]], "embeddings": None,
                               "include": body["include"]})
        return _json(404, {"error": "NotFound", "message": action})


# ---------------------------------------------------------------- Pinecone
class FakePinecone(Recorder):
    def __init__(self, api_key: str = "pc-test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.namespaces: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _match(meta: dict[str, Any], flt: dict[str, Any] | None) -> bool:
        for field, cond in (flt or {}).items():
            [(op, value)] = cond.items()
            if op == "$eq" and meta.get(field) != value:
                return False
            if op == "$in" and meta.get(field) not in value:
                return False
        return True

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = self.record(request)
        if request.headers.get("Api-Key") != self.api_key:
            return httpx.Response(401, text="Unauthorized")
        path = request.url.path
        if path == "/vectors/upsert":
            ns = self.namespaces.setdefault(body.get("namespace", ""), {})
            for v in body["vectors"]:
                ns[v["id"]] = v
            return _json(200, {"upsertedCount": len(body["vectors"])})
        if path == "/query":
            ns = self.namespaces.get(body.get("namespace", ""), {})
            scored = sorted(((cosine(body["vector"], v["values"]), i) for i, v in ns.items()
                             if self._match(v.get("metadata", {}), body.get("filter"))), reverse=True)[: body["topK"]]
            matches = [{"id": i, "score": s, **({"metadata": ns[i]["metadata"]} if body.get("includeMetadata") else {})} for s, i in scored]
            return _json(200, {"matches": matches, "namespace": body.get("namespace", ""), "usage": {"readUnits": 1}})
        if path == "/vectors/list":
            params = request.url.params
            ns = self.namespaces.get(params.get("namespace", ""), {})
            ids = sorted(i for i in ns if i.startswith(params.get("prefix", "")))
            start = int(params.get("paginationToken", 0))
            limit = int(params.get("limit", 100))
            page = {"vectors": [{"id": i} for i in ids[start : start + limit]], "namespace": params.get("namespace", "")}
            if start + limit < len(ids):
                page["pagination"] = {"next": str(start + limit)}
            return _json(200, page)
        if path == "/vectors/delete":
            ns = self.namespaces.get(body.get("namespace", ""), {})
            for i in body["ids"]:
                ns.pop(i, None)
            return _json(200, {})
        if path == "/describe_index_stats":
            return _json(200, {"namespaces": {n: {"vectorCount": len(v)} for n, v in self.namespaces.items()},
                               "dimension": 8, "indexFullness": 0, "totalVectorCount": sum(len(v) for v in self.namespaces.values())})
        return _json(404, {"code": 5, "message": "Not Found"})


def serve_http(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[ThreadingHTTPServer, str, list[dict[str, str]]]:
    """Serve an httpx handler on 127.0.0.1 (for real clients); returns (server, base url, request headers seen)."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            content = self.rfile.read(length) if length else b""
            seen.append({k.lower(): v for k, v in self.headers.items()})
            request = httpx.Request(self.command, f"http://{self.headers.get('host')}{self.path}",
                                    headers=dict(self.headers), content=content)
            response = handler(request)
            response.read()
            self.send_response(response.status_code)
            self.send_header("content-type", response.headers.get("content-type", "application/json"))
            self.send_header("content-length", str(len(response.content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.content)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", seen
