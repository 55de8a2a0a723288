"""An AsyncAPI 3.0 document generated from the topology (`caseyard topics asyncapi`).

Channels are the topics, messages the event types with their Avro schemas (the same ones
the codec registers), operations say which service sends or receives on each channel.
Pure data in, a JSON-compatible dict out.
"""

from __future__ import annotations

from typing import Any

from schemas._avro import avro_schema
from schemas.envelope import Event
from schemas.topology import Topic, all_topics

AVRO_FORMAT = "application/vnd.apache.avro;version=1.9.0"


def _channel_id(topic: Topic) -> str:
    return topic.name.removeprefix("caseyard.").replace(".", "-")


def _message(event: type[Event]) -> dict[str, Any]:
    doc = (event.__doc__ or event.event_type).strip().splitlines()[0]
    return {
        "name": event.event_type,
        "title": event.event_type,
        "summary": doc,
        "contentType": "application/vnd.apache.avro+binary",
        "headers": {"type": "object", "properties": {"traceparent": {"type": "string"}}},
        "payload": {"schemaFormat": AVRO_FORMAT, "schema": avro_schema(event)},
        "bindings": {"kafka": {"key": {"type": "string", "description": "the case id"}}},
    }


def asyncapi_document(
    *, version: str, servers: dict[str, str] | None = None, topics: tuple[Topic, ...] = ()
) -> dict[str, Any]:
    """The AsyncAPI document of `topics` (default: the whole topology).

    `servers` maps a server name to its Kafka bootstrap host:port.
    """
    topics = topics or all_topics()
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in topics:
        cid = _channel_id(topic)
        for event in topic.events:
            messages.setdefault(event.event_type, _message(event))
        channels[cid] = {
            "address": topic.name,
            "description": topic.description,
            "messages": {
                e.event_type: {"$ref": f"#/components/messages/{e.event_type}"}
                for e in topic.events
            },
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "topicConfiguration": {
                        "cleanup.policy": ["compact" if topic.compacted else "delete"]
                    },
                }
            },
        }
        for action, services in (("send", topic.writers), ("receive", topic.readers)):
            for service in services:
                operations[f"{service}-{action}-{cid}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{cid}"},
                    "summary": f"{service} {action}s {topic.name}",
                    "messages": [
                        {"$ref": f"#/channels/{cid}/messages/{e.event_type}"} for e in topic.events
                    ],
                }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "caseyard",
            "version": version,
            "description": "AI agents coordinated over Kafka; every case runs as a saga. "
            "Every case-keyed topic is keyed by case_id and has the same partition count.",
        },
        "defaultContentType": "application/vnd.apache.avro+binary",
        "servers": {
            name: {"host": host, "protocol": "kafka"}
            for name, host in (servers or {"local": "127.0.0.1:9092"}).items()
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
