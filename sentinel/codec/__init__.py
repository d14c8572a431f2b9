"""CloudEvents in and out of bytes: the one codec every hop uses.

- event: the Event value (attributes and raw data) and JSON data in and out of it;
- http: the HTTP binding, binary, structured and batched content modes;
- json_format: the JSON event format behind the structured and batched modes;
- kafka: the Kafka binding, binary mode, and the wrapping of records that are not events.
"""
