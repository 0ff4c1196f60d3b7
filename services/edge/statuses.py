"""Statuses: post (with in_reply_to_id and Mastodon 4.4's quoted_status_id), read, delete, context, favourite and
reblog. Chirp posts are all public: visibility is accepted and shown as "public"; what Chirp does not have
(media, polls, content warnings, scheduling) is refused with 422 rather than dropped.

A repost is a status of its own, as Mastodon's reblog is: its id is the repost's id (post service, issue 15), its
`reblog` the original. Reading that id answers the reblog; deleting it undoes the repost; favouriting or
reblogging it acts on the original, as Mastodon does. Post and repost ids come from the same generator, so an id
names one or the other, never both."""

import asyncio

from chirp.post.v1 import post_pb2
from chirp.post.v1 import post_service_pb2 as post_pb
from services.edge import filters, hydrate, pages, render
from services.edge.calls import PUBLIC, Call, Routes, json_response, parse_id, text_param, user
from services.edge.errors import HttpError, unprocessable

routes = Routes()

# Descendants a context shows at most, and how deep it looks.
MAX_DESCENDANTS = 60
MAX_DEPTH = 4
UNSUPPORTED = {"media_ids": "media", "poll": "polls", "scheduled_at": "scheduled posts"}


@routes.post("/api/v1/statuses", user("write:statuses"))
async def create(call: Call):
    body = await call.body()
    for name, what in UNSUPPORTED.items():
        if body.get(name):
            raise unprocessable(f"Chirp has no {what}")
    if text_param(body, "spoiler_text"):
        raise unprocessable("Chirp has no content warnings (spoiler_text)")
    in_reply_to = body.get("in_reply_to_id")
    quoted = body.get("quoted_status_id") or body.get("quote_id")
    request = post_pb.CreatePostRequest(
        author_id=call.user_id,
        text=text_param(body, "status"),
        request_id=call.request_id(),
        in_reply_to_post_id=parse_id(in_reply_to) if in_reply_to else 0,
        quoted_post_id=parse_id(quoted) if quoted else 0,
    )
    # The author is the viewer: asked for beside the post, not after it (one round of calls, not two). Its counts
    # are the graph's, which counts the new post when its event arrives, so they are what asking after would show.
    author = asyncio.ensure_future(hydrate.authors(call, [call.user_id]))
    author.add_done_callback(_retrieved)
    try:
        created = await call.rpc(call.backends.post.CreatePost, request)
    except BaseException:
        author.cancel()
        raise
    return json_response(await hydrate.status(call, created.post, known=await author))


def _retrieved(task: asyncio.Future) -> None:
    """A side call's failure is the request's only if the request still needs it: never an unretrieved error."""
    if not task.cancelled():
        task.exception()


async def _target(call: Call) -> tuple[post_pb2.Post, post_pb.GetRepostResponse | None]:
    """What the path's id names: a post, or a repost (a reblog status) with the post it reposts; 404 for neither."""
    status_id = call.path_id()
    try:
        return (await call.rpc(call.backends.post.GetPost, post_pb.GetPostRequest(post_id=status_id))).post, None
    except HttpError as error:
        if error.status != 404:
            raise
    repost = await call.rpc(call.backends.post.GetRepost, post_pb.GetRepostRequest(repost_id=status_id))
    return repost.post, repost


async def _post(call: Call) -> post_pb2.Post:
    """The post the path's id names, or that the repost it names reposts."""
    return (await _target(call))[0]


def _own(call: Call, repost: post_pb.GetRepostResponse) -> bool:
    return call.viewer is not None and call.viewer.user_id == repost.user_id


@routes.get("/api/v1/statuses/{id}", PUBLIC)
async def show(call: Call):
    post, repost = await _target(call)
    if repost is not None:
        return json_response(await hydrate.reblog(call, repost, render.Viewpoint(reblogged=_own(call, repost))))
    return json_response(await hydrate.status(call, post))


@routes.delete("/api/v1/statuses/{id}", user("write:statuses"))
async def delete(call: Call):
    """Answers the deleted status with its `text`, as Mastodon does for "delete and redraft". Deleting a reblog
    undoes the repost (only the reblogger may) and answers the reblog as it was."""
    post, repost = await _target(call)
    if repost is not None:
        if not _own(call, repost):
            raise HttpError(403, "This action is not allowed")
        shown = await hydrate.reblog(call, repost, render.Viewpoint(reblogged=True))
        await _undo_repost(call, post)
        return json_response(shown | {"reblogged": False})
    shown = await hydrate.status(call, post)
    request = post_pb.DeletePostRequest(post_id=post.post_id, user_id=call.user_id, request_id=call.request_id())
    await call.rpc(call.backends.post.DeletePost, request)
    return json_response(shown | {"text": post.text})


@routes.get("/api/v1/statuses/{id}/context", PUBLIC)
async def context(call: Call):
    """Ancestors root first; descendants depth-first, as Mastodon orders a thread: read level by level (one call
    per post of a level, MAX_DEPTH levels) until MAX_DESCENDANTS are found."""
    thread = await call.rpc(call.backends.post.GetThread, post_pb.GetThreadRequest(post_id=call.path_id()))

    async def replies_of(post_id: int) -> list:
        answer = await call.rpc(
            call.backends.post.GetThread, post_pb.GetThreadRequest(post_id=post_id, page_size=MAX_DESCENDANTS)
        )
        return list(answer.replies)

    children = {thread.post.post_id: list(thread.replies)}
    level, found = list(thread.replies), len(thread.replies)
    for _ in range(MAX_DEPTH - 1):
        if not level or found >= MAX_DESCENDANTS:
            break
        answers = await asyncio.gather(*(replies_of(reply.post_id) for reply in level))
        children |= {reply.post_id: replies for reply, replies in zip(level, answers, strict=True)}
        level = [reply for replies in answers for reply in replies]
        found += len(level)

    def depth_first(post_id: int) -> list:
        return [each for reply in children.get(post_id, []) for each in (reply, *depth_first(reply.post_id))]

    descendants = depth_first(thread.post.post_id)[:MAX_DESCENDANTS]
    mine = await filters.reader_filters(call, "thread")
    ancestors, shown = await asyncio.gather(
        hydrate.statuses(call, list(thread.ancestors), filters=mine), hydrate.statuses(call, descendants, filters=mine)
    )
    return json_response({"ancestors": ancestors, "descendants": shown})


async def _react(call: Call, method, request_type):
    post = await _post(call)
    request = request_type(post_id=post.post_id, user_id=call.user_id, request_id=call.request_id())
    await call.rpc(method, request)
    return post


@routes.post("/api/v1/statuses/{id}/favourite", user("write:favourites"))
async def favourite(call: Call):
    post = await _react(call, call.backends.post.LikePost, post_pb.LikePostRequest)
    post.stats.like_count = max(post.stats.like_count, 1)
    return json_response(await hydrate.status(call, post, render.Viewpoint(favourited=True)))


@routes.post("/api/v1/statuses/{id}/unfavourite", user("write:favourites"))
async def unfavourite(call: Call):
    post = await _react(call, call.backends.post.UnlikePost, post_pb.UnlikePostRequest)
    return json_response(await hydrate.status(call, post, render.Viewpoint(favourited=False)))


@routes.post("/api/v1/statuses/{id}/reblog", user("write:statuses"))
async def reblog(call: Call):
    """Mastodon answers the reblog: a status with the repost's own id (the same again for a repeated reblog), the
    reblogged status inside it."""
    post = await _post(call)
    request = post_pb.RepostPostRequest(post_id=post.post_id, user_id=call.user_id, request_id=call.request_id())
    repost_id = (await call.rpc(call.backends.post.RepostPost, request)).repost_id
    post.stats.repost_count = max(post.stats.repost_count, 1)
    reposted = post_pb.GetRepostResponse(repost_id=repost_id, user_id=call.user_id, post=post)
    return json_response(await hydrate.reblog(call, reposted, render.Viewpoint(reblogged=True)))


@routes.post("/api/v1/statuses/{id}/unreblog", user("write:statuses"))
async def unreblog(call: Call):
    """Answers the original status, as Mastodon does; the id may be the original's or the reblog's."""
    post = await _post(call)
    await _undo_repost(call, post)
    return json_response(await hydrate.status(call, post, render.Viewpoint(reblogged=False)))


async def _undo_repost(call: Call, post: post_pb2.Post) -> None:
    request = post_pb.UndoRepostRequest(post_id=post.post_id, user_id=call.user_id, request_id=call.request_id())
    await call.rpc(call.backends.post.UndoRepost, request)


async def _reactors(call: Call, method, request_type):
    """Who favourited or reblogged: ordered by account, so the Link header carries the service's page token."""
    params = pages.page_params(call, default=40, maximum=80)
    request = request_type(post_id=call.path_id(), page_size=params.limit, page_token=params.max_id or "")
    answer = await call.rpc(method, request)
    shown = await hydrate.accounts(call, list(answer.user_ids))
    return json_response(shown, headers=pages.link_header(call, answer.next_page_token or None, None))


@routes.get("/api/v1/statuses/{id}/favourited_by", PUBLIC)
async def favourited_by(call: Call):
    return await _reactors(call, call.backends.post.ListPostLikers, post_pb.ListPostLikersRequest)


@routes.get("/api/v1/statuses/{id}/reblogged_by", PUBLIC)
async def reblogged_by(call: Call):
    return await _reactors(call, call.backends.post.ListPostReposters, post_pb.ListPostRepostersRequest)
