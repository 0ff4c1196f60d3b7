"""The checks every request of a served API passes before its handler runs (services/runtime/validation.py)."""

import pytest
from google.protobuf import struct_pb2

from chirp.graph.v1 import graph_service_pb2
from chirp.notification.v1 import notification_pb2
from chirp.notification.v1 import notification_service_pb2 as pb
from chirp.post.v1 import post_service_pb2
from chirp.search.v1 import search_service_pb2
from chirp.timeline.v1 import timeline_service_pb2
from chirp.trends.v1 import trends_service_pb2
from services.runtime.errors import InvalidArgument
from services.runtime.validation import check_request, check_requests, undefined_enum_values

SERVICES = [
    graph_service_pb2.DESCRIPTOR.services_by_name["GraphService"],
    post_service_pb2.DESCRIPTOR.services_by_name["PostService"],
    timeline_service_pb2.DESCRIPTOR.services_by_name["TimelineService"],
    pb.DESCRIPTOR.services_by_name["NotificationService"],
    search_service_pb2.DESCRIPTOR.services_by_name["SearchService"],
    trends_service_pb2.DESCRIPTOR.services_by_name["TrendsService"],
]


def test_an_undefined_enum_value_is_invalid_and_named():
    with pytest.raises(InvalidArgument) as refused:
        check_request(pb.ListNotificationsRequest(user_id=1, kind=99))
    assert refused.value.reason == "ENUM_VALUE_INVALID"
    assert refused.value.message == "kind is 99, which is not a NotificationKind (use one of 0, 1, 2, 3, 4, 5, 6)"
    assert refused.value.metadata == {"field": "kind", "value": "99"}


def test_enum_values_are_checked_in_nested_and_repeated_fields():
    preferences = notification_pb2.NotificationPreferences(disabled_kinds=[1, 6, -3, 7])
    request = pb.UpdatePreferencesRequest(user_id=1, preferences=preferences)
    assert [(name, value) for name, value, _ in undefined_enum_values(request)] == [
        ("preferences.disabled_kinds[2]", -3),
        ("preferences.disabled_kinds[3]", 7),
    ]
    with pytest.raises(InvalidArgument) as refused:
        check_request(request)
    assert refused.value.metadata["field"] == "preferences.disabled_kinds[2]"


def test_enum_values_in_maps_are_checked_too():
    value = struct_pb2.Value()
    value.null_value = 5  # NullValue defines only 0
    message = struct_pb2.Struct()
    message.fields["a"].CopyFrom(value)
    assert [(name, v) for name, v, _ in undefined_enum_values(message)] == [("fields['a'].null_value", 5)]


def test_defined_values_and_unset_fields_pass():
    check_request(pb.ListNotificationsRequest(user_id=1, kind=notification_pb2.NOTIFICATION_KIND_LIKE))
    check_request(pb.ListNotificationsRequest())
    check_request(pb.UpdatePreferencesRequest(preferences=notification_pb2.NotificationPreferences()))


class _Servicer:
    """Answers every method of every service with what it was given."""

    def __getattr__(self, name):
        if name == "StreamNotifications":

            async def stream(request, context):
                yield request
                yield request

            return stream

        async def unary(request, context):
            return request

        return unary


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
async def test_check_requests_guards_every_method_of_a_service(service):
    servicer = check_requests(_Servicer(), service)
    for method in service.methods:
        assert method.name in vars(servicer), f"{method.name} is not checked"
        request = pb.ListNotificationsRequest(kind=99)
        handler = getattr(servicer, method.name)
        with pytest.raises(InvalidArgument):
            if method.server_streaming:
                [item async for item in handler(request, None)]
            else:
                await handler(request, None)
        fine = pb.ListNotificationsRequest(kind=1)
        if method.server_streaming:
            assert [item async for item in handler(fine, None)] == [fine, fine]
        else:
            assert await handler(fine, None) == fine
