"""Settings read from environment variables, one place for every process.

Every variable is prefixed `CHIRP_`; docs/configuration.md lists them with their defaults. A malformed value stops
the process at start with a message naming the variable.
"""

import os
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where a process's metrics are when CHIRP_METRICS_PORT is left at -1: this far above its own port.
METRICS_PORT_OFFSET = 1000


class Settings(BaseSettings):
    """What every Chirp process needs: where the infrastructure and the other services are."""

    model_config = SettingsConfigDict(env_prefix="CHIRP_", extra="ignore")

    # Kafka bootstrap servers, comma-separated host:port.
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Cassandra contact points, comma-separated hosts, and the native protocol port.
    cassandra_hosts: str = "127.0.0.1"
    cassandra_port: int = 9042
    cassandra_local_dc: str = "datacenter1"
    # Replication factor of the keyspaces the schema migrations create (SimpleStrategy below 2, else NetworkTopology).
    cassandra_replication_factor: int = 1
    # Prefix of every keyspace, so several deployments (or test runs) can share one cluster.
    keyspace_prefix: str = "chirp"
    # Prefix of every topic name, for the same reason.
    topic_prefix: str = ""
    # Replication factor of the topics `chirp admin setup` creates (3 in production, 1 on one broker).
    kafka_replication_factor: int = 1

    # Where clients (other services, the CLI, the edge) reach each gRPC API.
    graph_addr: str = "127.0.0.1:50051"
    post_addr: str = "127.0.0.1:50052"
    timeline_addr: str = "127.0.0.1:50053"
    notification_addr: str = "127.0.0.1:50054"
    identity_addr: str = "127.0.0.1:50055"
    search_addr: str = "127.0.0.1:50056"
    trends_addr: str = "127.0.0.1:50057"
    # Where each projection's worker (`--role worker`) serves its gRPC health: on one machine beside its API, so a
    # port of its own; in Kubernetes each pod has its own address (k8s/). `chirp status` checks them.
    graph_worker_addr: str = "127.0.0.1:50061"
    timeline_worker_addr: str = "127.0.0.1:50063"
    notification_worker_addr: str = "127.0.0.1:50064"
    search_worker_addr: str = "127.0.0.1:50066"
    trends_worker_addr: str = "127.0.0.1:50067"

    # Port a server process listens on; 0 means its default port (the one in its *_addr above: a worker's own).
    grpc_port: int = 0
    # The interface servers listen on: loopback unless told otherwise (0.0.0.0 in Kubernetes, behind policies).
    bind_host: str = "127.0.0.1"
    # TLS for gRPC: a server with a certificate and key serves only TLS; clients with a CA file verify servers
    # against it (and connect with TLS). Empty: plaintext, for one machine.
    grpc_tls_cert_file: str = ""
    grpc_tls_key_file: str = ""
    grpc_tls_ca_file: str = ""
    # Unary calls one server process works on at once; more are refused at once with UNAVAILABLE and a retry hint,
    # so an overloaded process keeps answering at its capacity instead of queueing every call into its deadline.
    # Streams do not count. 0: no limit.
    grpc_max_in_flight: int = 128

    # The identity service's Ed25519 signing keys (PEM files, owner-only); only the identity service reads them.
    signing_keys_dir: str = ".data/keys/identity"
    # The operator's credential, which `chirp admin setup` writes (owner-only) and the CLI reads.
    operator_credential_file: str = ".data/operator-credential"
    # Whether anyone may sign up (Mastodon's registrations), and whether the OAuth password grant (first-party
    # command-line apps) is allowed. Both on in the local `make up`, off by default.
    registrations_open: bool = False
    oauth_password_grant: bool = False
    # The HTTP edge (Mastodon's client API): its port; the URL people reach it at, for links, OAuth metadata and
    # the streaming URL (empty: taken from each request's Host); its rate limits, per account and per client address
    # in a window of this many seconds (Mastodon's 300 and 7,500 in 5 minutes), kept by each replica; and how long it
    # may reuse identity's answer for an access token (a revoked token fails on every replica within it).
    edge_port: int = 8080
    edge_public_url: str = ""
    edge_rate_limit_account: int = 300
    edge_rate_limit_address: int = 7500
    edge_rate_window_seconds: int = 300
    edge_token_cache_seconds: float = 4.0
    # Port of the Prometheus /metrics endpoint: -1 (the default) puts it METRICS_PORT_OFFSET above the process's
    # own port (graph's API 50051 -> 51051, its worker 50061 -> 51061, the edge 8080 -> 9080), so that every
    # process on one machine has its own; a port number fixes it (9090 in k8s/, one process per pod); 0 turns it off.
    metrics_port: int = -1

    # Text rules: "classic" (twitter-text v1: 140) or "weighted" (twitter-text v3: 280, CJK and emoji count double).
    text_profile: str = "classic"
    # Posting rate limit per author: at most this many posts in this many seconds (Twitter's 300 per 3 hours);
    # 0 turns it off.
    post_rate_limit: int = 300
    post_rate_window_seconds: int = 10800
    # At most this many mentioned users are notified of one post.
    max_notified_mentions: int = 10
    # New followers are grouped by window of this many seconds, fixed from midnight UTC (Mastodon keeps a group of
    # follows going for 12 hours). A change regroups only follows projected after it, or all of them in a rebuild.
    notification_follow_window_seconds: int = 43200

    # Hybrid fan-out: posts of an author with more followers than this are not copied into followers' home
    # timelines but merged in when those are read. The starting value: `chirp timeline fanout-threshold` changes it
    # at run time for every timeline process.
    fanout_threshold: int = 10000
    # A user who has not read their home timeline for this long is skipped by fan-out once
    # `chirp timeline sweep-inactive` has run; their home timeline is rebuilt on their next read.
    inactive_after_seconds: int = 30 * 86400

    # Search: the backend ("tantivy", an index on this machine's disk, or "opensearch") and where tantivy keeps its
    # index (one directory per version of the projection, v1, v2, ...). The tantivy index is for one machine: run
    # the search service as one process (role all).
    search_backend: str = "tantivy"
    search_index_dir: str = Field(
        default_factory=lambda: os.path.join(os.environ.get("CHIRP_DATA_DIR", ".data"), "search")
    )
    # Relevance sort: how fast the recency boost fades (a post this old gets half the boost of a new one).
    search_recency_half_life_hours: float = 24.0

    # The OpenSearch backend (search_backend "opensearch"): the nodes' URLs, comma-separated (http://host:9200, or
    # https:// for a cluster with TLS). Its indices are named <keyspace_prefix>_search_v<version>_posts and _people.
    opensearch_url: str = "http://127.0.0.1:9200"
    # Basic authentication, for a cluster with its security plugin on: a user name and a file holding the password
    # (a mounted secret); empty: none. A CA file verifies the cluster's certificate (https); empty: the system's.
    opensearch_username: str = ""
    opensearch_password_file: str = ""
    opensearch_ca_file: str = ""
    # New indices get these: one shard keeps BM25's statistics whole (raise it past ~50 GB of posts), no replica on
    # one node (1 or more on a cluster). Searches see writes after at most refresh_interval; the projection also
    # refreshes after every batch it writes.
    opensearch_shards: int = 1
    opensearch_replicas: int = 0
    opensearch_refresh_interval: str = "1s"
    # Seconds a request may take before it fails (and the projection retries it).
    opensearch_timeout_seconds: float = 30.0

    # Posts and people the timeline API keeps in memory for its pages (kept true by a tail of the post and graph
    # topics: services/timeline/hydration_cache.py); both 0: none, and no tail.
    timeline_cache_posts: int = Field(default=50_000, ge=0)
    timeline_cache_users: int = Field(default=100_000, ge=0)

    # How long the trends API serves a computed ranking before computing it again (seconds): a deletion or a new
    # spike shows within this, plus the projection's lag.
    trends_refresh_seconds: float = 10.0

    # Attempts at an event that fails by itself (not an outage) before it goes to the dead-letter topic.
    projection_max_attempts: int = 5

    # Where faust keeps its local state; empty means a folder under the system's temporary directory.
    state_dir: str = ""

    # "json" (one object per line, for log shippers) or "console" (for people); "auto" picks console on a terminal.
    log_format: str = "auto"
    log_level: str = "INFO"

    # The services' event loop: uvloop (libuv: a completion from the Cassandra driver's threads wakes it once for
    # however many arrive together) or Python's own asyncio loop, to compare or to fall back to.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    # Distinguishes id generators running at once (0-1023). Each replica of the post or graph service needs its own;
    # -1 derives one from the host name and process id.
    worker_id: int = -1

    def keyspace(self, service: str) -> str:
        return f"{self.keyspace_prefix}_{service}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def consumer_group(self, service: str) -> str:
        """Each projection's Kafka consumer group; prefixed like the topics it reads."""
        return f"{self.topic_prefix}chirp-{service}"

    def worker_addr(self, service: str) -> str:
        """Where the worker of `service` serves gRPC health (CHIRP_<SERVICE>_WORKER_ADDR)."""
        return getattr(self, f"{service}_worker_addr")

    def port_of(self, addr: str) -> int:
        return self.grpc_port or int(addr.rsplit(":", 1)[1])

    def metrics_port_beside(self, port: int) -> int:
        """The /metrics port of a process serving on `port` (0: none)."""
        return port + METRICS_PORT_OFFSET if self.metrics_port < 0 else self.metrics_port
