"""The bench's workload, pure and seeded: who follows whom, who writes, what they write, and when requests are sent.

Pure so that its statistical shape (power-law followers, 80/20 authors, Poisson arrivals) is unit-tested without
servers (tests/unit/test_bench_workload.py).
"""

import itertools
import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from services.text import analyze

DEMO_NETWORK = Path(__file__).resolve().parent.parent / "services" / "cli" / "demo_network.json"
HASHTAGS = ("chirp", "bologna", "météo", "radio", "データ", "новости", "empleo", "kafka")
MIX = (("home", 0.6), ("user", 0.3), ("post", 0.1))


@dataclass(frozen=True)
class Graph:
    """Users 0..size-1 (handles in `handles`) and the follow edges (follower, followee)."""

    handles: list[str]
    names: list[str]
    follows: list[tuple[int, int]]

    @property
    def size(self) -> int:
        return len(self.handles)

    def followers(self) -> list[list[int]]:
        """Followers of each user, by user index."""
        found: list[list[int]] = [[] for _ in self.handles]
        for follower, followee in self.follows:
            found[followee].append(follower)
        return found


def power_law_graph(size: int, mean_following: float, rng: random.Random, exponent: float = 1.0) -> Graph:
    """Popularity follows Zipf's law over a random ranking of users (so follower counts are power-law distributed,
    a handful of accounts followed by a large share of everyone); how many accounts each user follows is
    heavy-tailed too (Pareto, mean `mean_following`)."""
    ranking = list(range(size))
    rng.shuffle(ranking)
    cumulative = list(itertools.accumulate((rank + 1) ** -exponent for rank in range(size)))
    people = json.loads(DEMO_NETWORK.read_text())["people"]
    names = [account["name"] for person in people for account in person["accounts"]]
    follows: list[tuple[int, int]] = []
    for follower in range(size):
        wanted = max(1, min(size // 10 or 1, round(rng.paretovariate(2.0) * mean_following / 2)))
        chosen: set[int] = set()
        for _ in range(4):  # popular accounts are drawn again and again: draw until enough distinct ones
            for rank in rng.choices(range(size), cum_weights=cumulative, k=wanted * 2):
                followee = ranking[rank]
                if followee != follower and len(chosen) < wanted:
                    chosen.add(followee)
            if len(chosen) == wanted:
                break
        follows.extend((follower, followee) for followee in sorted(chosen))
    return Graph([f"u{index:06d}" for index in range(size)], [names[i % len(names)] for i in range(size)], follows)


def fanout_threshold(followers: list[list[int]], above: int) -> int:
    """The follower count above which only the `above` most followed accounts lie (ties may make it fewer)."""
    counts = sorted((len(f) for f in followers), reverse=True)
    return counts[min(above, len(counts) - 1)]


class Authors:
    """Draws authors so that a fifth of the accounts write four fifths of the posts, like real social networks."""

    HEAVY_SHARE_OF_USERS = 0.2
    HEAVY_SHARE_OF_POSTS = 0.8

    def __init__(self, candidates: list[int], rng: random.Random) -> None:
        shuffled = list(candidates)
        rng.shuffle(shuffled)
        cut = max(1, round(len(shuffled) * self.HEAVY_SHARE_OF_USERS))
        self.heavy, self.light = shuffled[:cut], shuffled[cut:] or shuffled[:cut]
        self._rng = rng

    def draw(self) -> int:
        group = self.heavy if self._rng.random() < self.HEAVY_SHARE_OF_POSTS else self.light
        return self._rng.choice(group)


class Texts:
    """Post texts from the project's multilingual samples, with mentions of bench users, hashtags and links."""

    def __init__(self, handles: list[str], rng: random.Random) -> None:
        samples = json.loads(DEMO_NETWORK.read_text())["posts"]
        self._bodies = [re.sub(r"\s*@\w+", "", text).strip() for _, text in samples]
        self._handles = handles
        self._rng = rng

    def draw(self) -> str:
        rng = self._rng
        extras = []
        if rng.random() < 0.4:
            extras.append(f"@{rng.choice(self._handles)}")
        if rng.random() < 0.4:
            extras.append(f"#{rng.choice(HASHTAGS)}")
        if rng.random() < 0.3:
            extras.append(f"https://example.com/{rng.randrange(10**6)}")
        body = rng.choice(self._bodies)
        text = " ".join([body, *extras])
        while not analyze(text).valid and extras:  # classic profile: 140 characters; drop extras until it fits
            extras.pop()
            text = " ".join([body, *extras])
        return text


def poisson_offsets(rate: float, duration: float, rng: random.Random) -> list[float]:
    """Intended send times (seconds from the start) of an open-loop load: exponential gaps, mean 1/rate. The sender
    keeps to these whatever the server does, so a stall shows as latency instead of fewer requests."""
    offsets, now = [], 0.0
    while True:
        now += rng.expovariate(rate)
        if now >= duration:
            return offsets
        offsets.append(now)


def operation_mix(count: int, rng: random.Random, mix: tuple[tuple[str, float], ...] = MIX) -> list[str]:
    """DeathStarBench-like request mix: 60% home-timeline reads, 30% user-timeline reads, 10% posts."""
    kinds = [kind for kind, _ in mix]
    return rng.choices(kinds, weights=[share for _, share in mix], k=count)


def share_of_top(counts: Counter, fraction: float, population: int) -> float:
    """Share of all events owned by the top `fraction` of a population, for checking skew."""
    top = sorted(counts.values(), reverse=True)[: max(1, round(population * fraction))]
    return sum(top) / max(1, sum(counts.values()))
