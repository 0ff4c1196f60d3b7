"""Which failures mean "a server is not answering" rather than "this request or event is wrong".

An RPC that meets one answers UNAVAILABLE (the caller retries); a projection that meets one waits and retries the
same event for as long as it takes instead of dead-lettering it.
"""

import cassandra
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException

INFRASTRUCTURE_ERRORS = (
    cassandra.Unavailable,
    cassandra.Timeout,
    cassandra.CoordinationFailure,
    cassandra.OperationTimedOut,
    NoHostAvailable,
    ConnectionException,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    OSError,
)


def is_infrastructure_error(error: BaseException) -> bool:
    return isinstance(error, INFRASTRUCTURE_ERRORS)
