"""The benchmark harness of issue 6: `python -m bench run` (or `make bench`, `make bench-quick`).

It starts its own Chirp services on their own topics, keyspaces and ports next to the running Kafka and
Cassandra, drives them with open-loop load, measures raw baselines of the same infrastructure in the same run, and
writes bench/results/latest.{json,md,png}. docs/performance.md explains every figure.
"""
