"""StreamNotifications with two replicas: a new notification reaches a client within a second whichever replica
projects it and whichever holds the stream, and a client that reconnects with the last id it saw misses nothing."""

import json
import queue
import signal
import subprocess
import sys
import threading
import time

import grpc

from chirp.notification.v1 import notification_service_pb2 as notification
from chirp.notification.v1 import notification_service_pb2_grpc
from services.cli.launcher import REPO, free_port
from tests.e2e.test_notification_kinds import People
from tests.helpers import eventually


class Listener:
    """A stream read on a thread: what arrived, and when."""

    def __init__(self, stub, user_id: int, after: str = "") -> None:
        self.arrived: list[tuple[str, float]] = []
        self._call = stub.StreamNotifications(
            notification.StreamNotificationsRequest(user_id=user_id, after_notification_id=after)
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for message in self._call:
                self.arrived.append((message.notification.notification_id, time.monotonic()))
        except grpc.RpcError:
            pass  # cancelled, or the replica went away

    def ids(self) -> list[str]:
        return [notification_id for notification_id, _ in self.arrived]

    def close(self) -> None:
        self._call.cancel()
        self._thread.join(timeout=10)


def test_the_stream_delivers_from_either_replica_and_a_reconnect_misses_nothing(system, clients):
    people = People(clients)
    ana, *fans = people.users(7)
    port = free_port()
    system.start("notification", port=port, label="notification-2")
    second = notification_service_pb2_grpc.NotificationServiceStub(clients.channel(f"127.0.0.1:{port}"))
    listener = Listener(second, ana)
    latencies = []
    try:
        for count, fan in enumerate(fans[:3], start=1):
            people.post(fan, "live", mentioning=(ana,))
            published = time.monotonic()
            eventually(lambda count=count: len(listener.arrived) >= count, timeout=15, interval=0.02)
            latencies.append(listener.arrived[-1][1] - published)
        listener.close()
        last_seen = listener.ids()[-1]
        system.kill("notification-2", signal.SIGTERM)
        for fan in fans[3:]:
            people.post(fan, "while away", mentioning=(ana,))
        again = Listener(clients.notification, ana, after=last_seen)
        try:
            eventually(lambda: len(again.arrived) >= 3, timeout=30)
            everything = [n.notification_id for n in reversed(people.notifications(ana))]
            assert len(everything) == 6
            assert listener.ids() == everything[:3]
            # The three posts while away are by three authors, so on partitions projected in any order: the stream
            # sends each once as it lands (a late one too), not necessarily in the order of their ids.
            assert sorted(again.ids()) == everything[3:]
        finally:
            again.close()
    finally:
        if "notification-2" in system.processes:
            system.kill("notification-2", signal.SIGTERM)
    print(f"stream latencies after the post was acknowledged: {[round(s, 3) for s in latencies]}")


def test_chirp_notifications_follow_prints_each_new_notification_as_a_json_line(system, clients):
    people = People(clients)
    ana, bob = people.users(2)
    people.post(bob, "before", mentioning=(ana,))
    people.until(ana, lambda notes: len(notes) == 1)
    command = [
        sys.executable,
        "-m",
        "services.cli.main",
        "notifications",
        "--as",
        people.handles[ana],
        "--follow",
        "--json",
    ]
    follower = subprocess.Popen(command, env=system.env, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(json.loads(line)) for line in follower.stdout], daemon=True).start()
        assert lines.get(timeout=30)["text"].startswith("before")
        people.post(bob, "after", mentioning=(ana,))
        latest = lines.get(timeout=30)
        assert (latest["kind"], latest["actor"], latest["text"].split()[0]) == ("mention", people.handles[bob], "after")
    finally:
        follower.terminate()
        follower.wait(timeout=10)
