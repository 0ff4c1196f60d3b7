"""The relevance set (tests/search/relevance/*.json) run against a search backend: recall@10 per language, and the
precision cases. `python -m tests.search.evaluate [tantivy]` prints the figures."""

import asyncio
import json
import re
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from services.runtime.config import Settings
from services.search.backends import PostSearch, SearchBackend, backend_for
from services.search.domain import parse
from tests.search.backends import NOW_MS, post

RELEVANCE = Path(__file__).parent / "relevance"
LANGUAGES = ("it", "ru", "es", "fr", "en", "ja")
TOP = 10


@dataclass
class Outcome:
    queries: int = 0
    found: int = 0  # relevant posts in the top 10, over all queries
    relevant: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.relevant if self.relevant else 1.0


def load(name: str) -> dict:
    return json.loads((RELEVANCE / f"{name}.json").read_text(encoding="utf-8"))


def sets() -> dict[str, dict]:
    return {name: load(name) for name in (*LANGUAGES, "precision")}


async def index_all(backend: SearchBackend, data: dict[str, dict]) -> dict[int, str]:
    """Every post of every set in one index (each language's posts are the others' distractors); id -> name."""
    names: dict[int, str] = {}
    documents = []
    for number, item in enumerate((p for d in data.values() for p in d["posts"]), start=1):
        names[number] = item["id"]
        documents.append(post(number, item["text"], author_id=number % 7, age_hours=number % 48))
    await backend.index_posts(documents)
    await backend.refresh()
    return names


async def evaluate(backend: SearchBackend) -> tuple[dict[str, Outcome], list[str]]:
    """Recall@10 per language, and the precision cases that failed (a near miss in the top 10, or a relevant post
    out of it)."""
    data = sets()
    names = await index_all(backend, data)
    outcomes: dict[str, Outcome] = {}
    failures: list[str] = []
    for name, content in data.items():
        outcome = outcomes.setdefault(name, Outcome())
        for query in content["queries"]:
            found = await backend.search_posts(PostSearch(parse(query["query"]), limit=TOP, now_ms=NOW_MS))
            top = {names[hit.post_id] for hit in found.hits}
            hits = [r for r in query["relevant"] if r in top]
            outcome.queries += 1
            outcome.relevant += len(query["relevant"])
            outcome.found += len(hits)
            if len(hits) < len(query["relevant"]):
                outcome.misses.append(query["query"])
            intruders = [n for n in query.get("not_relevant", []) if n in top]
            if name == "precision" and (intruders or len(hits) < len(query["relevant"])):
                failures.append(f"{query['query']!r}: intruders {intruders}, found {hits} of {query['relevant']}")
    return outcomes, failures


def own_forms(content: dict) -> list[str]:
    """Queries whose own form appears in one of their relevant posts (the set promises it never does): as a whole
    word, or for Japanese (no spaces) anywhere in the text."""
    texts = {p["id"]: p["text"].lower() for p in content["posts"]}
    found = []
    for query in content["queries"]:
        word = query["query"].lower()
        japanese = re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", word) is not None
        for relevant in query["relevant"]:
            text = texts[relevant]
            if (word in text) if japanese else re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text):
                found.append(f"{query['query']} in {relevant}")
    return found


async def _main(name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        # Indices of its own on OpenSearch (CHIRP_OPENSEARCH_URL), deleted afterwards.
        prefix = f"relevance{uuid.uuid4().hex[:8]}"
        backend = backend_for(Settings(search_backend=name, search_index_dir=folder, keyspace_prefix=prefix), 1)
        await backend.open()
        try:
            outcomes, failures = await evaluate(backend)
        finally:
            drop = getattr(backend, "drop", None)
            if drop is not None:
                await drop()
            await backend.close()
    print(f"backend {name}: recall@{TOP}")
    for language, outcome in outcomes.items():
        missed = f"  missed: {', '.join(outcome.misses)}" if outcome.misses else ""
        print(f"  {language:9} {outcome.queries:3} queries  {outcome.recall:.3f}{missed}")
    print("precision failures:", failures or "none")


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1] if len(sys.argv) > 1 else "tantivy"))
