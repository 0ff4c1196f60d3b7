"""Notifications (v1, one per Chirp group; v2 grouped, as Chirp already groups them), the unread count, and the
notifications marker, which is Chirp's read position.

Chirp's kinds as Mastodon's types: a reply is a "mention" (Mastodon has no reply type), a repost a "reblog", a like
a "favourite", a quote Mastodon 4.4's "quote".
"""

import asyncio
from datetime import UTC, datetime

from chirp.notification.v1 import notification_pb2 as kinds
from chirp.notification.v1 import notification_service_pb2 as notification
from services.edge import filters, hydrate, pages, render
from services.edge.calls import Call, Routes, json_response, user

routes = Routes()

TYPE_OF = {
    kinds.NOTIFICATION_KIND_NEW_FOLLOWER: "follow",
    kinds.NOTIFICATION_KIND_MENTION: "mention",
    kinds.NOTIFICATION_KIND_REPLY: "mention",
    kinds.NOTIFICATION_KIND_REPOST: "reblog",
    kinds.NOTIFICATION_KIND_QUOTE: "quote",
    kinds.NOTIFICATION_KIND_LIKE: "favourite",
}
# Accounts a grouped notification shows at most (Mastodon's sample_account_ids).
SAMPLE_ACCOUNTS = 8


def _wanted(call: Call) -> set[str]:
    types = set(call.query_list("types")) or set(TYPE_OF.values())
    return types - set(call.query_list("exclude_types"))


async def _page(call: Call, maximum: int, mine: list):
    """A page of the viewer's notifications of the wanted types, and whether older ones may follow; those about a
    post the viewer's filters hide are left out (reading on, so a page is not empty while others remain)."""
    params = pages.page_params(call, default=40 if maximum > 40 else 20, maximum=maximum)
    wanted = _wanted(call)
    chirp_kinds = [kind for kind, name in TYPE_OF.items() if name in wanted]
    only = chirp_kinds[0] if len(chirp_kinds) == 1 else kinds.NOTIFICATION_KIND_UNSPECIFIED

    async def fetch(token: str, size: int):
        request = notification.ListNotificationsRequest(
            user_id=call.user_id, page_size=size, page_token=token, kind=only
        )
        answer = await call.rpc(call.backends.notification.ListNotifications, request)
        return answer.notifications, answer.next_page_token

    def position(found) -> tuple[int, str]:
        return pages.notification_position(found.notification_id)

    async def shown(found) -> list[bool]:
        if not mine:
            return [True] * len(found)
        posts = await hydrate.posts(call, {each.post_id for each in found if each.post_id})
        return [each.post_id not in posts or filters.keeps(mine, posts[each.post_id].text) for each in found]

    kept = filters.filtering(fetch, shown, lambda each: pages.notification_token(each.notification_id))
    found, more = await pages.by_id(kept, params, pages.notification_token, position, pages.notification_position)
    return [each for each in found if TYPE_OF.get(each.kind) in wanted], more


def _links(call: Call, found, more: bool) -> dict[str, str]:
    if not found:
        return {}
    return pages.link_header(call, found[-1].notification_id if more else None, found[0].notification_id)


async def _statuses(call: Call, found, mine: list) -> dict[int, dict]:
    posts = await hydrate.posts(call, {each.post_id for each in found if each.post_id})
    return {int(shown["id"]): shown for shown in await hydrate.statuses(call, list(posts.values()), filters=mine)}


def _actor(each) -> render.Author:
    return render.Author(each.actor_id, each.actor_handle)


@routes.get("/api/v1/notifications", user("read:notifications"))
async def index(call: Call):
    mine = await filters.reader_filters(call, "notifications")
    found, more = await _page(call, 80, mine)
    statuses = await _statuses(call, found, mine)
    shown = []
    for each in found:
        if each.post_id and each.post_id not in statuses:
            continue  # its post was deleted a moment ago
        shown.append(
            {
                "id": each.notification_id,
                "type": TYPE_OF[each.kind],
                "created_at": render.iso_of(each.create_time),
                "group_key": each.group_key,
                "account": render.account(_actor(each), call.base),
                "status": statuses.get(each.post_id) if each.post_id else None,
            }
        )
    return json_response(shown, headers=_links(call, found, more))


@routes.get("/api/v2/notifications", user("read:notifications"))
async def grouped(call: Call):
    """Mastodon 4.3's GroupedNotificationsResults: each Chirp group once, with up to SAMPLE_ACCOUNTS of its
    accounts, the accounts and statuses it names listed once beside."""
    mine = await filters.reader_filters(call, "notifications")
    found, more = await _page(call, 80, mine)

    async def actors(each):
        if each.actor_count <= 1:
            return [_actor(each)]
        request = notification.ListNotificationActorsRequest(
            user_id=call.user_id, notification_id=each.notification_id, page_size=SAMPLE_ACCOUNTS
        )
        answer = await call.rpc(call.backends.notification.ListNotificationActors, request)
        return [render.Author(actor.user_id, actor.handle) for actor in answer.actors] or [_actor(each)]

    samples, statuses = await asyncio.gather(asyncio.gather(*map(actors, found)), _statuses(call, found, mine))
    accounts: dict[int, dict] = {}
    groups = []
    for each, sample in zip(found, samples, strict=True):
        if each.post_id and each.post_id not in statuses:
            continue
        for person in sample:
            accounts.setdefault(person.user_id, render.account(person, call.base))
        groups.append(
            {
                "group_key": each.group_key,
                "notifications_count": each.actor_count,
                "type": TYPE_OF[each.kind],
                "most_recent_notification_id": each.notification_id,
                "page_min_id": each.notification_id,
                "page_max_id": each.notification_id,
                "latest_page_notification_at": render.iso_of(each.create_time),
                "sample_account_ids": [str(person.user_id) for person in sample],
                "status_id": str(each.post_id) if each.post_id else None,
            }
        )
    payload = {
        "accounts": list(accounts.values()),
        "statuses": [statuses[post_id] for post_id in dict.fromkeys(e.post_id for e in found) if post_id in statuses],
        "notification_groups": groups,
    }
    return json_response(payload, headers=_links(call, found, more))


@routes.get("/api/v1/notifications/unread_count", user("read:notifications"))
async def unread_count(call: Call):
    request = notification.GetUnreadCountRequest(user_id=call.user_id)
    answer = await call.rpc(call.backends.notification.GetUnreadCount, request)
    return json_response({"count": answer.unread_count})


async def _notifications_marker(call: Call) -> dict | None:
    """Chirp's read position as Mastodon's marker: the newest notification no longer unread."""
    request = notification.ListNotificationsRequest(user_id=call.user_id, page_size=100)
    answer = await call.rpc(call.backends.notification.ListNotifications, request)
    read = next((each for each in answer.notifications if not each.unread), None)
    if read is None:
        return None
    return {"last_read_id": read.notification_id, "version": 1, "updated_at": render.iso_of(read.create_time)}


@routes.get("/api/v1/markers", user("read:statuses"))
async def markers(call: Call):
    """Only the notifications marker is kept (Chirp has a read position for notifications, none for home)."""
    wanted = call.query_list("timeline")
    found = {}
    if "notifications" in wanted:
        marker = await _notifications_marker(call)
        if marker is not None:
            found["notifications"] = marker
    return json_response(found)


@routes.post("/api/v1/markers", user("write:statuses"))
async def save_markers(call: Call):
    body = await call.body()
    marker = body.get("notifications")
    last_read = marker.get("last_read_id") if isinstance(marker, dict) else body.get("notifications[last_read_id]")
    found = {}
    if last_read:
        pages.notification_position(str(last_read))
        request = notification.MarkReadRequest(
            user_id=call.user_id, notification_id=str(last_read), request_id=call.request_id()
        )
        answer = await call.rpc(call.backends.notification.MarkRead, request)
        updated = render.iso(datetime.now(UTC))
        found["notifications"] = {"last_read_id": answer.read_up_to, "version": 1, "updated_at": updated}
    return json_response(found)


@routes.post("/api/v1/notifications/clear", user("write:notifications"))
async def clear(call: Call):
    request = notification.ClearNotificationsRequest(user_id=call.user_id, request_id=call.request_id())
    await call.rpc(call.backends.notification.ClearNotifications, request)
    return json_response({})


@routes.post("/api/v1/notifications/{id}/dismiss", user("write:notifications"))
async def dismiss(call: Call):
    notification_id = call.request.path_params["id"]
    pages.notification_position(notification_id)  # 404 for what is no notification id
    request = notification.DismissNotificationRequest(
        user_id=call.user_id, notification_id=notification_id, request_id=call.request_id()
    )
    await call.rpc(call.backends.notification.DismissNotification, request)
    return json_response({})
