"""What this server is (Mastodon's Instance v1 and v2), the health check, and the empty lists of features Chirp
does not have, which clients ask for at start."""

from starlette.responses import PlainTextResponse

from services.edge.calls import PUBLIC, Call, Routes, json_response
from services.text import Profile

routes = Routes()

VERSION = "4.3.0 (compatible; Chirp 0.2)"
TITLE = "Chirp"
DESCRIPTION = "An event-sourced microblogging server speaking Mastodon's client API."
CHARACTERS_RESERVED_PER_URL = 23


def _max_characters(call: Call) -> int:
    return Profile(call.backends.settings.text_profile).max_length


def _streaming_url(call: Call) -> str:
    return "ws" + call.base.removeprefix("http")


def _statuses(call: Call) -> dict:
    return {
        "max_characters": _max_characters(call),
        "max_media_attachments": 0,
        "characters_reserved_per_url": CHARACTERS_RESERVED_PER_URL,
    }


NO_MEDIA = {
    "supported_mime_types": [],
    "image_size_limit": 0,
    "image_matrix_limit": 0,
    "video_size_limit": 0,
    "video_frame_rate_limit": 0,
    "video_matrix_limit": 0,
}
NO_POLLS = {"max_options": 0, "max_characters_per_option": 0, "min_expiration": 0, "max_expiration": 0}


@routes.get("/api/v1/instance", PUBLIC)
async def instance_v1(call: Call):
    return json_response(
        {
            "uri": call.request.url.netloc,
            "title": TITLE,
            "short_description": DESCRIPTION,
            "description": DESCRIPTION,
            "email": "",
            "version": VERSION,
            "urls": {"streaming_api": _streaming_url(call)},
            "stats": {"user_count": 0, "status_count": 0, "domain_count": 1},
            "thumbnail": None,
            "languages": ["en"],
            "registrations": call.backends.settings.registrations_open,
            "approval_required": False,
            "invites_enabled": False,
            "configuration": {
                "accounts": {"max_featured_tags": 0},
                "statuses": _statuses(call),
                "media_attachments": NO_MEDIA,
                "polls": NO_POLLS,
            },
            "contact_account": None,
            "rules": [],
        }
    )


@routes.get("/api/v2/instance", PUBLIC)
async def instance_v2(call: Call):
    return json_response(
        {
            "domain": call.request.url.netloc,
            "title": TITLE,
            "version": VERSION,
            "source_url": "",
            "description": DESCRIPTION,
            "usage": {"users": {"active_month": 0}},
            "thumbnail": {"url": call.base + "/avatars/original/missing.png"},
            "icon": [],
            "languages": ["en"],
            "configuration": {
                "urls": {"streaming": _streaming_url(call), "status": None},
                "vapid": {"public_key": ""},
                "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
                "statuses": _statuses(call),
                "media_attachments": NO_MEDIA,
                "polls": NO_POLLS,
                "translation": {"enabled": False},
            },
            "registrations": {
                "enabled": call.backends.settings.registrations_open,
                "approval_required": False,
                "message": None,
                "url": None,
            },
            "api_versions": {"mastodon": 2},
            "contact": {"email": "", "account": None},
            "rules": [],
        }
    )


@routes.get("/health", PUBLIC)
async def health(call: Call):
    """For the launcher and probes: the edge answers (it holds nothing else to check)."""
    return PlainTextResponse("OK")


@routes.get("/api/v1/custom_emojis", PUBLIC)
async def custom_emojis(call: Call):
    return json_response([])


@routes.get("/api/v1/instance/peers", PUBLIC)
async def peers(call: Call):
    return json_response([])
