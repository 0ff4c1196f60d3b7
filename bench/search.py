"""The search phase of the bench (issue 12), run last so that the search service takes no CPU from the other phases:

1. The search service starts and catches up with everything the run published so far: index throughput through
   the whole pipeline (Kafka, the projection, the analyzer, the index), in posts per second.
2. The backend's raw add rate, in this process: pre-analyzed synthetic posts straight into the backend the run's
   search service uses (CHIRP_SEARCH_BACKEND: a TantivyBackend, or an OpenSearchBackend on CHIRP_OPENSEARCH_URL with
   `make bench SEARCH=opensearch`), which also builds the large index (the plan's `search_index_posts`, 1,000,000 in
   full mode) that step 3 queries.
3. Query p99 on that index, in this process (no gRPC): words of every frequency, AND, phrases, OR, exclusions,
   from:, #tags, by relevance and by latest. People typeahead p99 on a synthetic people index of its own.
4. Post to searchable at 100 posts/s through the post API: for a sample, a reader polls SearchPosts for a word only
   that post holds until it is found (the watchers poll as the home-freshness ones do).
5. Query and typeahead p99 through the search service's gRPC API, on the run's own index and people.
"""

import asyncio
import itertools
import random
import shutil
import time
import uuid
from typing import TYPE_CHECKING

import grpc

from bench.load import Latencies, open_loop
from bench.workload import poisson_offsets
from chirp.search.v1 import search_service_pb2 as search_pb
from chirp.search.v1 import search_service_pb2_grpc
from services.cli.credentials import AioBearerInterceptor, OperatorCredentials
from services.cli.launcher import DATA_DIR
from services.runtime.topics import POST_EVENTS
from services.search.backends import (
    PeopleSearch,
    PersonDocument,
    PostDocument,
    PostSearch,
    SearchBackend,
    Sort,
    backend_for,
)
from services.search.domain import parse, parse_people
from services.text import analyze as measure
from services.text.terms import analyze

if TYPE_CHECKING:
    from bench.scenarios import Bench
    from services.runtime.config import Settings

VOCABULARY = 50_000
TERMS_PER_POST = 14
AUTHORS = 20_000
BUILD_BATCH = 20_000
# Synthetic names for the people index: first names and surnames drawn independently.
FIRST = (
    "anna marco lucia giulia sofia luca elena pietro irina olga pavel carmen diego lucía pablo marie louis "
    "camille hugo emma james oliver amelia jack yuki haruto sakura ren hans greta joão ana tiago"
).split()
LAST = (
    "rossi bianchi verdi ferrari russo ivanov petrova smirnov garcía lópez martínez dubois martin bernard "
    "smith jones taylor brown tanaka suzuki satō müller schmidt silva santos costa"
).split()
FRESH_GIVE_UP_SECONDS = 15.0
FRESH_WATCHED_PER_SECOND = 10


def _zipf_vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    words = [f"t{i:x}" for i in range(VOCABULARY)]
    return words, list(itertools.accumulate(1 / (rank + 1) for rank in range(VOCABULARY)))


def _queries(words: list[str], rng: random.Random) -> list[tuple[str, str, Sort]]:
    """(kind, query, order) of the measured query mix: words of every frequency and the operators."""
    frequent, middle, rare = words[:50], words[100:2000], words[5000:]
    mix = []
    for _ in range(40):
        mix += [
            ("frequent word", rng.choice(frequent), Sort.RELEVANCE),
            ("middle word", rng.choice(middle), Sort.RELEVANCE),
            ("rare word", rng.choice(rare), Sort.RELEVANCE),
            ("two words", f"{rng.choice(frequent)} {rng.choice(middle)}", Sort.RELEVANCE),
            ("phrase", f'"{rng.choice(frequent)} {rng.choice(frequent)}"', Sort.RELEVANCE),
            ("OR", f"{rng.choice(middle)} OR {rng.choice(middle)}", Sort.RELEVANCE),
            ("exclusion", f"{rng.choice(middle)} -{rng.choice(frequent)}", Sort.RELEVANCE),
            ("from:", f"{rng.choice(frequent)} from:user{rng.randrange(AUTHORS)}", Sort.RELEVANCE),
            ("#tag", f"#tag{rng.randrange(500)}", Sort.RELEVANCE),
            ("frequent word, latest", rng.choice(frequent), Sort.LATEST),
            ("two words, latest", f"{rng.choice(frequent)} {rng.choice(middle)}", Sort.LATEST),
        ]
    rng.shuffle(mix)
    return mix


async def build_index(backend: SearchBackend, posts: int, rng: random.Random, now_ms: int) -> dict:
    """`posts` synthetic pre-analyzed posts (Zipf-distributed terms, a hashtag in one in five) in batches."""
    import numpy  # matplotlib's dependency (the bench extra) and py3langid's

    words, weights = _zipf_vocabulary(rng)
    cdf = numpy.array(weights) / weights[-1]
    draws = numpy.random.default_rng(rng.randrange(2**32))
    added = 0
    adding = 0.0
    began = time.monotonic()
    while added < posts:
        batch = []
        first = added + 1
        last = min(posts, added + BUILD_BATCH)
        drawn = numpy.searchsorted(cdf, draws.random((last - first + 1, TERMS_PER_POST))).tolist()
        for number, row in zip(range(first, last + 1), drawn, strict=True):
            terms = [words[min(i, VOCABULARY - 1)] for i in row]
            tags = (f"tag{rng.randrange(500)}",) if number % 5 == 0 else ()
            text = " ".join([*terms, *(f"#{tag}" for tag in tags)])
            author = rng.randrange(AUTHORS)
            batch.append(
                PostDocument(
                    post_id=number,
                    author_id=author,
                    author_handle=f"user{author}",
                    text=text,
                    terms=" ".join([*terms, *(f"#{tag}" for tag in tags)]),
                    language="en",
                    hashtags=tags,
                    create_time_ms=now_ms - (posts - number) * 100,
                )
            )
        started = time.monotonic()
        await backend.index_posts(batch)
        adding += time.monotonic() - started
        added += len(batch)
    started = time.monotonic()
    await backend.refresh()
    committing = time.monotonic() - started
    seconds = time.monotonic() - began
    return {
        "posts": posts,
        "seconds": round(seconds, 1),
        "add_seconds": round(adding, 1),
        "commit_seconds": round(committing, 1),
        "generate_seconds": round(seconds - adding - committing, 1),
        # What the backend takes in, without the generator's time: the raw add rate.
        "raw_add_rate": round(posts / (adding + committing), 1) if adding + committing else 0.0,
        "words": words,
    }


async def query_latencies(backend: SearchBackend, words: list[str], rng: random.Random, now_ms: int) -> dict:
    overall = Latencies()
    began = time.monotonic()
    for kind, query, order in _queries(words, rng):
        search = PostSearch(parse(query), sort=order, limit=20, now_ms=now_ms)
        started = time.monotonic()
        await backend.search_posts(search)
        elapsed = time.monotonic() - started
        overall.record(elapsed)
        overall.part(kind).record(elapsed)
    overall.seconds = time.monotonic() - began
    return overall.summary()


async def typeahead_latencies(backend: SearchBackend, people: int, rng: random.Random) -> dict:
    documents = []
    for user_id in range(1, people + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        handle = f"{first[:4]}{last[:4]}{user_id}"
        documents.append(
            PersonDocument(
                user_id=user_id,
                handle=handle,
                display_name=f"{first.title()} {last.title()}",
                bio="",
                terms=f"{handle} {first} {last}",
                names=(handle, first, last),
                follower_count=int(rng.paretovariate(1.2)),
                create_time_ms=0,
            )
        )
    began = time.monotonic()
    for start in range(0, len(documents), BUILD_BATCH):
        await backend.index_people(documents[start : start + BUILD_BATCH])
    await backend.refresh()
    build_seconds = time.monotonic() - began
    latencies = Latencies()
    began = time.monotonic()
    for _ in range(600):
        name = rng.choice(FIRST + LAST)
        prefix = name[: rng.randint(1, min(4, len(name)))]
        started = time.monotonic()
        await backend.search_people(PeopleSearch(parse_people(prefix, prefix=True), limit=10))
        latencies.record(time.monotonic() - started)
    latencies.seconds = time.monotonic() - began
    return {"people": people, "build_seconds": round(build_seconds, 1), **latencies.summary()}


async def analyzer_rate(texts, count: int) -> float:
    drawn = [texts.draw() for _ in range(count)]
    began = time.monotonic()
    for text in drawn:
        analyze(text)
    return round(count / (time.monotonic() - began), 1)


async def run(bench: "Bench") -> None:
    plan = bench.plan
    results: dict = {}
    bench.results["search"] = results
    rng = random.Random(7)

    # 1. The service catches up with the run's log: index throughput through the pipeline.
    bench._phase("search_catch_up")
    # A loaded machine takes a while to start a process that loads the analyzer's models.
    process = await asyncio.to_thread(bench.system.start, "search", label="search", timeout=240)
    bench.monitor.watch("search", process.pid)
    posts_in_log = sum(
        end
        for tp, end in (await bench.lag.end_offsets(bench.topics())).items()
        if tp.topic == bench.settings.topic(POST_EVENTS.name)
    )
    drained, waited = await _drain(bench)
    results["catch_up"] = {
        "post_events": posts_in_log,
        # From the last look that still saw the whole backlog (the group joined, the models loaded) to the first
        # that saw none.
        "seconds": round(drained, 1),
        "seconds_with_start": round(waited, 1),
        "post_events_per_second": round(posts_in_log / drained, 1) if drained else 0.0,
    }
    results["analyzer_posts_per_second"] = await analyzer_rate(bench.texts, 2000)

    # 2 and 3. The raw add rate, building the large index, then queries and typeahead on it (in this process).
    bench._phase("search_index_build")
    results["backend"] = bench.settings.search_backend
    folder = DATA_DIR / "bench-search" / uuid.uuid4().hex[:8]
    # The run's own index beside the service's: a folder of its own (tantivy), indices of their own (OpenSearch).
    settings = bench.settings.model_copy(
        update={"search_index_dir": str(folder), "keyspace_prefix": f"{bench.settings.keyspace_prefix}_bench"}
    )
    backend = backend_for(settings, 1)
    await backend.open()
    now_ms = int(time.time() * 1000)
    try:
        build = await build_index(backend, plan.search_index_posts, rng, now_ms)
        words = build.pop("words")
        results["index_build"] = build
        bench._phase("search_queries")
        results["queries_in_process"] = await query_latencies(backend, words, rng, now_ms)
        results["typeahead_in_process"] = await typeahead_latencies(backend, plan.search_people, rng)
        results["index_stats"] = (await backend.stats()).details
    finally:
        drop = getattr(backend, "drop", None)  # OpenSearch: delete the run's indices
        if drop is not None:
            await drop()
        await backend.close()
        shutil.rmtree(folder, ignore_errors=True)

    # 4 and 5. Through the service.
    bench._phase("search_freshness")
    operator = [AioBearerInterceptor(OperatorCredentials(bench.settings).bearer)]
    async with grpc.aio.insecure_channel(bench.settings.search_addr, interceptors=operator) as channel:
        api = search_service_pb2_grpc.SearchServiceStub(channel)
        results["searchable"] = await _freshness(bench, api, rng)
        bench._phase("search_api_reads")
        results["queries_api"] = await _api_queries(bench, api, rng)


async def _drain(bench: "Bench") -> tuple[float, float]:
    """(seconds from the last lag poll that saw the whole backlog to the first that saw none, seconds in all)."""
    group = bench.settings.consumer_group("search")
    task = bench.progress.add_task("search catching up", total=None)
    began = time.monotonic()
    backlog = await bench.lag.of(group, bench.topics())
    untouched = began
    while (lag := await bench.lag.of(group, bench.topics())) > 0:
        if lag >= backlog:
            untouched = time.monotonic()
        bench.progress.update(task, description=f"search catching up (lag {lag})")
        if time.monotonic() - began > 600:
            raise TimeoutError(f"search still lags by {lag} after 600 s")
        await asyncio.sleep(0.1)
    bench.progress.update(task, total=1, completed=1)
    return time.monotonic() - untouched, time.monotonic() - began


def fitting(text: str) -> str:
    """`text` without the words at its end that take it past the post limit. Cutting it at 140 characters did not
    fit it: a link cut short still weighs 23 (11 of 529 posts refused as INVALID_ARGUMENT in one run)."""
    while not measure(text).valid and " " in text:
        text = text.rsplit(" ", 1)[0]
    return text


async def _freshness(bench: "Bench", api, rng: random.Random) -> dict:
    """Posts at plan.search_fresh_rate for plan.search_fresh_seconds, each with a word of its own; for a sample,
    SearchPosts is polled for that word until the post is found."""
    plan = bench.plan
    loop = asyncio.get_running_loop()
    found, watches = Latencies(), set()
    share = min(1.0, FRESH_WATCHED_PER_SECOND / plan.search_fresh_rate)

    async def watch(word: str, post_id: int, answered: float) -> None:
        while (waited := loop.time() - answered) < FRESH_GIVE_UP_SECONDS:
            try:
                page = await api.SearchPosts(search_pb.SearchPostsRequest(query=word, page_size=5), timeout=10)
                if any(hit.post_id == post_id for hit in page.results):
                    found.record(loop.time() - answered)
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(min(0.25, max(0.01, waited / 10)))
        found.record(loop.time() - answered, ok=False)
        found.failed(TimeoutError("not searchable"))

    async def operation(index: int) -> None:
        word = f"fresh{uuid.uuid4().hex[:10]}"
        author = bench.authors.draw()
        request = bench._post_request(author)
        request.text = fitting(f"{word} {request.text}")
        response = await bench.post_api.CreatePost(request, timeout=10)
        if rng.random() < share:
            task = asyncio.create_task(watch(word, response.post.post_id, loop.time()))
            watches.add(task)
            task.add_done_callback(watches.discard)

    offsets = poisson_offsets(plan.search_fresh_rate, plan.search_fresh_seconds, rng)
    task = bench.progress.add_task(f"searchable at {plan.search_fresh_rate:g}/s", total=len(offsets))
    posting = await open_loop(offsets, operation, tick=lambda: bench.progress.advance(task))
    while watches:
        await asyncio.wait(set(watches))
    return {"offered_rate": plan.search_fresh_rate, "create_post": posting.summary(), "searchable": found.summary()}


async def _api_queries(bench: "Bench", api, rng: random.Random) -> dict:
    """One caller at a time, so the figure is the service time: words from the run's posts, and typeahead of the
    run's handles."""
    bodies = [bench.texts.draw() for _ in range(200)]
    words = [w for body in bodies for w in body.split() if w.isalpha() and len(w) > 3] or ["ciao"]
    handles = bench.graph.handles
    posts, people = Latencies(), Latencies()
    began = time.monotonic()
    for _ in range(bench.plan.search_api_queries):
        query = rng.choice(words) if rng.random() < 0.7 else f"{rng.choice(words)} {rng.choice(words)}"
        started = time.monotonic()
        try:
            await api.SearchPosts(search_pb.SearchPostsRequest(query=query, page_size=20), timeout=10)
            posts.record(time.monotonic() - started)
        except grpc.aio.AioRpcError as error:
            posts.failed(error)
        handle = rng.choice(handles)
        started = time.monotonic()
        try:
            prefix = handle[: rng.randint(1, 4)]
            await api.SearchPeople(search_pb.SearchPeopleRequest(query=prefix, prefix=True, page_size=10), timeout=10)
            people.record(time.monotonic() - started)
        except grpc.aio.AioRpcError as error:
            people.failed(error)
    posts.seconds = people.seconds = time.monotonic() - began
    return {"posts": posts.summary(), "typeahead": people.summary()}


async def compare_backends(names: list[str], posts: int, people: int, base: "Settings") -> dict:
    """Steps 2 and 3 alone, on each backend in turn, with the same synthetic posts, people and queries (the same
    seed) for each: `python -m bench search-backends`. Needs no service, Kafka or Cassandra; OpenSearch at
    CHIRP_OPENSEARCH_URL, in indices of this run's own (deleted afterwards)."""
    figures: dict = {"posts": posts, "people": people, "backends": {}}
    for name in names:
        folder = DATA_DIR / "bench-search" / uuid.uuid4().hex[:8]
        settings = base.model_copy(
            update={
                "search_backend": name,
                "search_index_dir": str(folder),
                "keyspace_prefix": f"benchcompare{uuid.uuid4().hex[:8]}",
            }
        )
        backend = backend_for(settings, 1)
        await backend.open()
        rng = random.Random(7)
        now_ms = int(time.time() * 1000)
        try:
            build = await build_index(backend, posts, rng, now_ms)
            words = build.pop("words")
            figures["backends"][name] = {
                "index_build": build,
                "queries": await query_latencies(backend, words, rng, now_ms),
                "typeahead": await typeahead_latencies(backend, people, rng),
                "index_stats": (await backend.stats()).details,
            }
        finally:
            drop = getattr(backend, "drop", None)
            if drop is not None:
                await drop()
            await backend.close()
            shutil.rmtree(folder, ignore_errors=True)
    return figures


def compare_table(figures: dict) -> str:
    """The markdown table of compare_backends' figures, a column per backend."""
    names = list(figures["backends"])
    rows = [
        ("raw add rate (docs/s)", lambda f: f["index_build"]["raw_add_rate"]),
        ("build (s)", lambda f: f["index_build"]["seconds"]),
        ("query p50 (ms)", lambda f: f["queries"]["p50_ms"]),
        ("query p99 (ms)", lambda f: f["queries"]["p99_ms"]),
        ("query max (ms)", lambda f: f["queries"]["max_ms"]),
        ("typeahead p50 (ms)", lambda f: f["typeahead"]["p50_ms"]),
        ("typeahead p99 (ms)", lambda f: f["typeahead"]["p99_ms"]),
    ]
    lines = [
        f"**Search backends on {figures['posts']:,} posts and {figures['people']:,} people (in process)**",
        "",
        "| figure | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---:" for _ in names) + " |",
    ]
    for label, value in rows:
        lines.append(f"| {label} | " + " | ".join(str(value(figures["backends"][n])) for n in names) + " |")
    kinds = sorted({k for n in names for k in figures["backends"][n]["queries"].get("by_kind", {})})
    for kind in kinds:
        cells = [
            str(figures["backends"][n]["queries"].get("by_kind", {}).get(kind, {}).get("p99_ms", "")) for n in names
        ]
        lines.append(f"| query p99, {kind} (ms) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
