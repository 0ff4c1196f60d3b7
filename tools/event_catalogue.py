"""docs/events.md, generated from the .proto files and the topic declarations so that it cannot drift from them.

`make docs` writes it; a unit test fails when the committed file differs from what this renders.
"""

import tempfile
from importlib import resources
from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from services.runtime.topics import ALL_TOPICS, DEAD_LETTERS, TopicSpec

REPO = Path(__file__).resolve().parents[1]
PROTOS = REPO / "protos"
_TYPE_NAMES = {
    value: name.removeprefix("TYPE_").lower() for name, value in descriptor_pb2.FieldDescriptorProto.Type.items()
}


def _descriptors() -> descriptor_pb2.FileDescriptorSet:
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    with tempfile.NamedTemporaryFile(suffix=".pb") as out:
        well_known = resources.files("grpc_tools") / "_proto"
        status = protoc.main(
            [
                "protoc",
                f"-I{PROTOS}",
                f"-I{well_known}",
                "--include_source_info",
                f"--descriptor_set_out={out.name}",
                *files,
            ]
        )
        if status != 0:
            raise RuntimeError(f"protoc failed on {files}")
        return descriptor_pb2.FileDescriptorSet.FromString(Path(out.name).read_bytes())


class _Index:
    """Messages by full name, with the comment written above each message and field."""

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.comments: dict[tuple, str] = {}
        for file in files.file:
            for location in file.source_code_info.location:
                path = tuple(location.path)
                if location.leading_comments and path[:1] == (4,):  # 4 = message_type
                    self.comments[(file.name, *path)] = " ".join(location.leading_comments.split())
            for index, message in enumerate(file.message_type):
                full = f"{file.package}.{message.name}"
                self.messages[full] = message
                self.comments[("msg", full)] = self.comments.get((file.name, 4, index), "")
                for field_index, field in enumerate(message.field):
                    self.comments[("field", full, field.name)] = self.comments.get(
                        (file.name, 4, index, 2, field_index), ""
                    )

    def type_of(self, field: descriptor_pb2.FieldDescriptorProto) -> str:
        base = field.type_name.lstrip(".") if field.type_name else _TYPE_NAMES[field.type]
        repeated = field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
        return f"repeated {base}" if repeated else base


def _fields_table(index: _Index, full_name: str) -> list[str]:
    message = index.messages[full_name]
    lines = ["| # | field | type | meaning |", "| --- | --- | --- | --- |"]
    for field in message.field:
        comment = index.comments[("field", full_name, field.name)]
        lines.append(f"| {field.number} | `{field.name}` | `{index.type_of(field)}` | {comment} |")
    return lines


def _placement(spec: TopicSpec) -> str:
    retention = (
        "forever" if spec.config.get("retention.ms") == "-1" else spec.config.get("retention.ms", "broker default")
    )
    policy = spec.config.get("cleanup.policy")
    return f"- Partitions: {spec.partitions}. Retention: {retention} (`cleanup.policy={policy}`)."


def _dead_letter_section(spec: TopicSpec) -> list[str]:
    """The dead-letter topic holds other topics' records, not an envelope of its own."""
    return [
        f"## `{spec.name}`",
        "",
        spec.description,
        "",
        f"- Value: {spec.value_type}: decode it as the source topic's envelope.",
        f"- Key: {spec.key}.",
        _placement(spec),
        "",
        "`chirp deadletters list` shows them (`--json` for scripts); `chirp deadletters replay` applies them again to",
        "the projection that set them aside, once what made them fail is fixed.",
        "",
    ]


def _topic_section(index: _Index, spec: TopicSpec) -> list[str]:
    envelope = index.messages[spec.value_type]
    lines = [
        f"## `{spec.name}`",
        "",
        spec.description,
        "",
        f"- Value: `{spec.value_type}` (protobuf, binary). {index.comments[('msg', spec.value_type)]}",
        f"- Key: {spec.key}.",
        _placement(spec),
        "",
        "Envelope fields:",
        "",
        *_fields_table(index, spec.value_type),
        "",
    ]
    for field in envelope.field:
        if not field.HasField("oneof_index"):
            continue
        payload = field.type_name.lstrip(".")
        lines += [
            f"### {payload.rsplit('.', 1)[1]} (`{field.name}`, header `chirp-event-type: {payload}`)",
            "",
            index.comments[("msg", payload)],
            "",
            *_fields_table(index, payload),
            "",
        ]
        described = set()  # a message two fields share (PreferencesUpdated's preferences and previous) once
        for nested in index.messages[payload].field:
            name = nested.type_name.lstrip(".")
            if name and name in index.messages and "google.protobuf" not in name and name not in described:
                described.add(name)
                lines += [f"`{name}`: {index.comments[('msg', name)]}", "", *_fields_table(index, name), ""]
    return lines


def render() -> str:
    index = _Index(_descriptors())
    lines = [
        "# Event catalogue",
        "",
        "<!-- Generated by `make docs` from protos/ and services/runtime/topics.py. Do not edit by hand. -->",
        "",
        "Chirp's topics, for teams that consume them. Everything here is derived from the `.proto` files in",
        "`protos/`, which are the contract: generate a client in any language from them and read the topics directly.",
        "",
        "**Every record** is one envelope message. It carries `event_id` (a UUID derived from the fact it records: the",
        "same fact published twice has the same id, so deduplicate on it), `occurred_at`, and a `oneof payload` whose",
        "case is the event type. The type's full name is also in the record header `chirp-event-type`, and",
        "`content-type` is `application/x-protobuf`.",
        "",
        "**Ordering**: Kafka keeps order within a partition, and the key decides the partition, so events with the",
        "same key are delivered in the order they happened. There is no order across keys or across topics.",
        "",
        "**Delivery**: at least once. Producers use `acks=all` and idempotence, and a call is answered only after its",
        "event is acknowledged, so nothing acknowledged is lost; a retried call may publish the same event again",
        "(same `event_id`).",
        "",
        "**Compatibility promise**: within a topic's major version (`.v1`), changes follow protobuf's compatibility",
        "rules: fields and event types are only added, never renumbered, retyped or reused. Consumers must ignore",
        "fields and payload cases they do not know. A breaking change gets a new topic (`.v2`), published alongside",
        "the old one for a deprecation period.",
        "",
    ]
    for spec in ALL_TOPICS:
        lines += _topic_section(index, spec)
    lines += _dead_letter_section(DEAD_LETTERS)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    (REPO / "docs" / "events.md").write_text(render())
