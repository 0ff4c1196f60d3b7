"""Accounts: the viewer's own (verify and update credentials, sign-up by an app), anyone's profile, statuses,
followers and following, relationships, and follow, block and mute."""

import asyncio

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.identity.v1 import identity_service_pb2 as identity
from chirp.timeline.v1 import timeline_service_pb2 as timeline
from services.edge import filters, hydrate, pages, render
from services.edge.calls import PUBLIC, Call, Routes, app_or_user, flag, json_response, parse_id, text_param, user
from services.edge.errors import HttpError, unprocessable

routes = Routes()


@routes.post("/api/v1/accounts", app_or_user("write:accounts"))
async def register(call: Call):
    """Mastodon's sign-up by an app: answers a user token for that app (registrations must be open)."""
    body = await call.body()
    if not flag(body.get("agreement")):
        raise unprocessable("Agreement must be accepted")
    request = identity.SignUpRequest(
        username=text_param(body, "username"),
        email=text_param(body, "email"),
        password=text_param(body, "password"),
        app_token=call.token,
        scopes=list(call.viewer.principal.scopes) if call.viewer else [],
        request_id=call.request_id(),
    )
    answer = await call.rpc(call.backends.identity.SignUp, request)
    token = answer.access_token
    return json_response(
        {
            "access_token": token.access_token,
            "token_type": "Bearer",
            "scope": " ".join(token.scopes),
            "created_at": token.create_time.seconds,
        }
    )


@routes.get("/api/v1/accounts/verify_credentials", user("read:accounts"))
async def verify_credentials(call: Call):
    return json_response(render.credential_account(await hydrate.author(call, call.user_id), call.base))


@routes.patch("/api/v1/accounts/update_credentials", user("write:accounts"))
async def update_credentials(call: Call):
    """display_name and note (the bio); Chirp has no avatars, headers, fields or locked accounts."""
    body = await call.body()
    changes = {
        name: text_param(body, key) for key, name in (("display_name", "display_name"), ("note", "bio")) if key in body
    }
    if changes:
        request = graph.UpdateProfileRequest(user_id=call.user_id, request_id=call.request_id(), **changes)
        await call.rpc(call.backends.graph.UpdateProfile, request)
    return json_response(render.credential_account(await hydrate.author(call, call.user_id), call.base))


@routes.get("/api/v1/accounts/lookup", PUBLIC)
async def lookup(call: Call):
    acct = (call.query("acct") or "").removeprefix("@")
    handle, _, domain = acct.partition("@")
    if not handle or (domain and domain != call.request.url.hostname):
        raise HttpError(404, "Record not found")
    found = await call.rpc(call.backends.graph.ResolveHandle, graph.ResolveHandleRequest(handle=handle))
    return json_response(render.account(await hydrate.author(call, found.user.user_id), call.base))


@routes.get("/api/v1/accounts/relationships", user("read:follows"))
async def relationships(call: Call):
    ids = [parse_id(value) for value in call.query_list("id")[:40] if str(value).isdigit()]

    async def one(other_id: int):
        try:
            answer = await call.rpc(
                call.backends.graph.GetRelationship,
                graph.GetRelationshipRequest(user_id=call.user_id, other_id=other_id),
            )
        except HttpError as error:
            if error.status == 404:
                return None
            raise
        return render.relationship(other_id, answer.relationship)

    found = await asyncio.gather(*map(one, ids))
    return json_response([each for each in found if each is not None])


@routes.get("/api/v1/accounts/{id}", PUBLIC)
async def show(call: Call):
    return json_response(render.account(await hydrate.author(call, call.path_id()), call.base))


@routes.get("/api/v1/accounts/{id}/statuses", PUBLIC)
async def statuses(call: Call):
    """Pinned and media-only are always empty (Chirp has neither); exclude_replies and exclude_reblogs filter."""
    user_id = call.path_id()
    if flag(call.query("pinned")) or flag(call.query("only_media")):
        return json_response([])
    params = pages.page_params(call)

    async def fetch(token: str, size: int):
        answer = await call.rpc(
            call.backends.timeline.GetUserTimeline,
            timeline.GetUserTimelineRequest(user_id=user_id, page_size=size, page_token=token),
        )
        return answer.posts, answer.next_page_token

    mine = await filters.reader_filters(call, "account")
    shown = filters.filtering(
        fetch, filters.by_text(mine, lambda p: p.text), lambda p: pages.timeline_token(str(p.post_id))
    )
    posts, more = await pages.by_id(shown, params, pages.timeline_token, lambda p: p.post_id, parse_id)
    if flag(call.query("exclude_replies")):
        posts = [post for post in posts if not post.in_reply_to_post_id]
    if flag(call.query("exclude_reblogs")):
        posts = [post for post in posts if not post.reposted_by_id]
    rendered = await hydrate.timeline_statuses(call, posts, mine)
    return json_response(rendered, headers=_links(call, [p.post_id for p in posts], more))


def _links(call: Call, ids: list[int], more: bool) -> dict[str, str]:
    if not ids:
        return {}
    return pages.link_header(call, str(ids[-1]) if more else None, str(ids[0]))


async def _edges(call: Call, method, request_type, user_id: int | None = None):
    """Followers, following, blocks, mutes: ordered by account, not by time, so the Link header carries the
    service's page token as max_id."""
    params = pages.page_params(call, default=40, maximum=80)
    owner = call.path_id() if user_id is None else user_id
    request = request_type(user_id=owner, page_size=params.limit, page_token=params.max_id or "")
    answer = await call.rpc(method, request)
    shown = await hydrate.accounts(call, [u.user_id for u in answer.users])
    return json_response(shown, headers=pages.link_header(call, answer.next_page_token or None, None))


@routes.get("/api/v1/accounts/{id}/followers", PUBLIC)
async def followers(call: Call):
    return await _edges(call, call.backends.graph.ListFollowers, graph.ListFollowersRequest)


@routes.get("/api/v1/accounts/{id}/following", PUBLIC)
async def following(call: Call):
    return await _edges(call, call.backends.graph.ListFollowing, graph.ListFollowingRequest)


async def _relate(call: Call, method, request_type, actor: str, other: str):
    """Follow, block, mute and their undoing answer the Relationship after the change."""
    other_id = call.path_id()
    await call.rpc(method, request_type(**{actor: call.user_id, other: other_id}, request_id=call.request_id()))
    answer = await call.rpc(
        call.backends.graph.GetRelationship, graph.GetRelationshipRequest(user_id=call.user_id, other_id=other_id)
    )
    return json_response(render.relationship(other_id, answer.relationship))


@routes.post("/api/v1/accounts/{id}/follow", user("write:follows"))
async def follow(call: Call):
    return await _relate(call, call.backends.graph.FollowUser, graph.FollowUserRequest, "follower_id", "followee_id")


@routes.post("/api/v1/accounts/{id}/unfollow", user("write:follows"))
async def unfollow(call: Call):
    return await _relate(
        call, call.backends.graph.UnfollowUser, graph.UnfollowUserRequest, "follower_id", "followee_id"
    )


@routes.post("/api/v1/accounts/{id}/block", user("write:blocks"))
async def block(call: Call):
    return await _relate(call, call.backends.graph.BlockUser, graph.BlockUserRequest, "blocker_id", "blocked_id")


@routes.post("/api/v1/accounts/{id}/unblock", user("write:blocks"))
async def unblock(call: Call):
    return await _relate(call, call.backends.graph.UnblockUser, graph.UnblockUserRequest, "blocker_id", "blocked_id")


@routes.post("/api/v1/accounts/{id}/mute", user("write:mutes"))
async def mute(call: Call):
    return await _relate(call, call.backends.graph.MuteUser, graph.MuteUserRequest, "muter_id", "muted_id")


@routes.post("/api/v1/accounts/{id}/unmute", user("write:mutes"))
async def unmute(call: Call):
    return await _relate(call, call.backends.graph.UnmuteUser, graph.UnmuteUserRequest, "muter_id", "muted_id")


@routes.get("/api/v1/blocks", user("read:blocks"))
async def blocks(call: Call):
    return await _edges(call, call.backends.graph.ListBlockedUsers, graph.ListBlockedUsersRequest, call.user_id)


@routes.get("/api/v1/mutes", user("read:mutes"))
async def mutes(call: Call):
    return await _edges(call, call.backends.graph.ListMutedUsers, graph.ListMutedUsersRequest, call.user_id)
