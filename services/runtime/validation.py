"""What every request of a served API is checked for before its handler runs, whatever the method.

Enums: proto3 enums are open, so a request with `kind = 99` parses, and a handler comparing kinds would quietly
answer as if nothing matched. `check_request` refuses any enum field, at any depth (nested messages, repeated
fields, maps), that holds a number its enum does not define: INVALID_ARGUMENT, reason ENUM_VALUE_INVALID, naming
the field and the values it takes.

An API applies it to all its methods at once with `check_requests(self, <service descriptor>)` in its constructor,
so a method added later is covered without anyone remembering to.
"""

import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from services.runtime.errors import InvalidArgument

S = TypeVar("S")


def undefined_enum_values(message: Message, path: str = "") -> Iterator[tuple[str, int, EnumDescriptor]]:
    """(field path, value, its enum) of every enum value in `message` that its enum does not define."""
    for field, value in message.ListFields():
        name = f"{path}{field.name}"
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            for key, item in value.items():
                yield from _undefined(value_field, item, f"{name}[{key!r}]")
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from _undefined(field, item, f"{name}[{index}]")
        else:
            yield from _undefined(field, value, name)


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def _undefined(field: FieldDescriptor, value: Any, name: str) -> Iterator[tuple[str, int, EnumDescriptor]]:
    if field.type == FieldDescriptor.TYPE_ENUM and value not in field.enum_type.values_by_number:
        yield name, value, field.enum_type
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        yield from undefined_enum_values(value, f"{name}.")


def check_request(request: Message) -> None:
    """InvalidArgument ENUM_VALUE_INVALID for the first enum field holding an undefined value."""
    for name, value, enum in undefined_enum_values(request):
        defined = ", ".join(str(number) for number in sorted(enum.values_by_number))
        raise InvalidArgument(
            "ENUM_VALUE_INVALID",
            f"{name} is {value}, which is not a {enum.name} (use one of {defined})",
            field=name,
            value=str(value),
        )


def check_requests(servicer: S, service: ServiceDescriptor) -> S:
    """Make each method of `service` on `servicer` check its request (`check_request`) before handling it."""
    for method in service.methods:
        if method.client_streaming:
            continue  # a stream of requests: nothing to check before the handler runs
        handler = getattr(servicer, method.name)
        setattr(servicer, method.name, _checked_stream(handler) if method.server_streaming else _checked(handler))
    return servicer


def _checked(handler):
    @functools.wraps(handler)
    async def checked(request: Message, context) -> Any:
        check_request(request)
        return await handler(request, context)

    return checked


def _checked_stream(handler):
    @functools.wraps(handler)
    async def checked(request: Message, context) -> AsyncIterator[Any]:
        check_request(request)
        async for item in handler(request, context):
            yield item

    return checked
