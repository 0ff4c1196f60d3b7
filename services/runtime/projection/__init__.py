"""The projection engine: how every read model of Chirp is built from the event topics and kept right.

- `records`: what a projection is given (a Kafka record) and what it must be (idempotent, batch by batch);
- `runner`: applying a batch until it is written or its bad events are set aside (`dead_letters`);
- `consumer`: the one consume loop (a faust agent) that feeds batches to the runner and acknowledges them after;
- `versions` and `rebuild`: replaying the log into a new version of a projection's tables while another serves;
- `spec`: the typed description each projected service gives of its projection.
"""
