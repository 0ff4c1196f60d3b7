"""Statuses whole: the authors, and the quoted posts with theirs, that a page of posts names, fetched
concurrently, so an endpoint renders a page in two rounds of calls at most."""

import asyncio
from collections.abc import Iterable, Mapping, Sequence

from chirp.graph.v1 import graph_pb2
from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_pb2
from chirp.post.v1 import post_service_pb2 as post_pb
from chirp.timeline.v1 import timeline_pb2
from services.edge import render
from services.edge.calls import Call
from services.edge.errors import HttpError
from services.edge.filters import apply


async def authors(call: Call, user_ids: Iterable[int]) -> dict[int, render.Author]:
    """The accounts with their counts; ids that name nobody (any more) are left out."""
    wanted = sorted({user_id for user_id in user_ids if user_id})
    answers = await asyncio.gather(*(_user(call, user_id) for user_id in wanted))
    return {author.user_id: author for author in answers if author is not None}


async def accounts(call: Call, user_ids: Sequence[int]) -> list[dict]:
    """The Accounts of `user_ids`, in their order; ids that name nobody (any more) are left out."""
    people = await authors(call, user_ids)
    return [render.account(people[user_id], call.base) for user_id in user_ids if user_id in people]


async def author(call: Call, user_id: int) -> render.Author:
    """One account; 404 when there is none."""
    found = await _user(call, user_id)
    if found is None:
        raise HttpError(404, "Record not found")
    return found


async def _user(call: Call, user_id: int) -> render.Author | None:
    try:
        answer = await call.rpc(call.backends.graph.GetUser, graph.GetUserRequest(user_id=user_id))
    except HttpError as error:
        if error.status == 404:
            return None
        raise
    return render.author_of(answer.user, answer.stats)


async def posts(call: Call, post_ids: Iterable[int]) -> dict[int, post_pb2.Post]:
    """Posts by id; deleted ones are left out."""
    wanted = sorted(set(post_ids))

    async def one(post_id: int) -> post_pb2.Post | None:
        try:
            return (await call.rpc(call.backends.post.GetPost, post_pb.GetPostRequest(post_id=post_id))).post
        except HttpError as error:
            if error.status == 404:
                return None
            raise

    return {found.post_id: found for found in await asyncio.gather(*map(one, wanted)) if found is not None}


async def statuses(
    call: Call,
    found: Sequence[post_pb2.Post],
    viewpoint: render.Viewpoint = render.NOBODY,
    nested: bool = False,
    filters: Sequence[graph_pb2.Filter] = (),
    known: Mapping[int, render.Author] | None = None,
) -> list[dict]:
    """Post service posts as Statuses, with their authors and quoted posts; a quote inside a quote (`nested`) is
    shown by id only, as Mastodon's ShallowQuote. Those the reader's `filters` hide are left out, those they warn
    of are marked (services/edge/filters.py). Authors in `known` (fetched by the caller) are not asked for."""
    known = known or {}
    quoted = {} if nested else await posts(call, {p.quoted_post_id for p in found if p.quoted_post_id})
    wanted = {p.author_id for p in (*found, *quoted.values())}
    people = {**known, **await authors(call, wanted - known.keys())}

    accounts = render.Accounts(call.base)

    def one(post: post_pb2.Post, depth: int, viewpoint: render.Viewpoint) -> dict | None:
        writer = people.get(post.author_id)
        if writer is None:
            return None
        quote = None
        if post.quoted_post_id and depth:
            quote = {"state": "accepted", "quoted_status_id": str(post.quoted_post_id)}
        elif post.quoted_post_id:
            inner = quoted.get(post.quoted_post_id)
            quote = render.accepted_quote(one(inner, 1, render.NOBODY) if inner else None, post.quoted_post_id)
        return render.status(
            post,
            writer,
            call.base,
            reply_to_account=post.in_reply_to_user_id,
            quote_of=quote,
            viewpoint=viewpoint,
            accounts=accounts,
        )

    rendered = ((post, one(post, int(nested), viewpoint)) for post in found)
    judged = (apply(status, post.text, filters) for post, status in rendered if status is not None)
    return [status for status in judged if status is not None]


async def status(
    call: Call,
    post: post_pb2.Post,
    viewpoint: render.Viewpoint = render.NOBODY,
    known: Mapping[int, render.Author] | None = None,
) -> dict:
    shown = await statuses(call, [post], viewpoint, known=known)
    if not shown:
        raise HttpError(404, "Record not found")
    return shown[0]


async def timeline_statuses(
    call: Call, found: Sequence[timeline_pb2.TimelinePost], filters: Sequence[graph_pb2.Filter] = ()
) -> list[dict]:
    """Timeline posts as Statuses: each carries its author; reposts become Mastodon's reblog wrappers; quoted posts
    are fetched (with their authors). The reader's `filters` hide or mark them, as in `statuses`."""
    quoted_posts = await posts(call, {p.quoted_post_id for p in found if p.quoted_post_id})
    quoted = {shown["id"]: shown for shown in await statuses(call, list(quoted_posts.values()), nested=True)}
    rendered = []
    accounts = render.Accounts(call.base)
    for post in found:
        writer = render.Author(post.author_id, post.author_handle, post.author_display_name)
        quote = render.accepted_quote(quoted.get(str(post.quoted_post_id)), post.quoted_post_id)
        shown = render.status(post, writer, call.base, quote_of=quote, accounts=accounts)
        if post.reposted_by_id:
            reposter = render.Author(post.reposted_by_id, post.reposted_by_handle)
            shown = render.reblog(shown, reposter, call.base, post.entry_id, accounts)
        judged = apply(shown, post.text, filters)
        if judged is not None:
            rendered.append(judged)
    return rendered


def entry_id(post: timeline_pb2.TimelinePost) -> int:
    """Where a timeline item sits, and the id its status has: the repost's id for a repost (a reblog status of its
    own), the post's otherwise (0 from a timeline service older than entry ids: the post's then)."""
    return post.entry_id or post.post_id


async def reblog(call: Call, repost: post_pb.GetRepostResponse, viewpoint: render.Viewpoint = render.NOBODY) -> dict:
    """A repost by its id as Mastodon's reblog status: its own id and time, the reblogger, the original inside."""
    original, reblogger = await asyncio.gather(status(call, repost.post, viewpoint), author(call, repost.user_id))
    return render.reblog(original, reblogger, call.base, repost.repost_id) | {"reblogged": viewpoint.reblogged}
