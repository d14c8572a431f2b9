"""Dead letters: reading the dead-letter topic, and replaying a dead letter to the topic it came from.

A dispatcher that cannot deliver an event POSTs it to its KafkaSource's dead-letter
sink (eventing.sender): the original CloudEvent, in binary mode on `sentinel.dlq`,
plus `knativeerrordest` (where it failed to go), `knativeerrorcode` (the last HTTP
status) and `knativeerrordata` (the last answer's body, base64). A dead letter's id
is its offset (`partition:offset` outside partition 0), stable for as long as the
topic holds the record.

Reading never joins a consumer group and commits nothing. Replaying writes the
original event (the error extensions removed, the key restored from `partitionkey`)
to the topic of the KafkaSource whose sink the destination is; `replay_pending`
records how far it got in the consumer group `sentinel-dlq-replay`, so a next run
starts after the last record it replayed. Every effect downstream is idempotent on
`transaction_id`, so replaying an event twice is safe.

- errors: DeadLetterError and its kinds, in words for the person who asked.
- letter: a dead letter decoded (DeadLetter, DeadLetters), its error answer on one line, its id.
- reader: DeadLetterReader, reading one dead-letter topic through a PartitionLog.
- replay: Routes (the topic a dead letter came from), Replayer and its ReplayReport.
- kafka_log: KafkaLog, the real PartitionLog, on confluent-kafka.
"""

from eventing.dead_letters.errors import CannotReplay, DeadLetterError, NoSuchDeadLetter
from eventing.dead_letters.letter import DeadLetter, DeadLetters, error_message, parse_id
from eventing.dead_letters.reader import DeadLetterReader, dead_letter_sink
from eventing.dead_letters.replay import Replayer, ReplayReport, Routes

__all__ = [
    "CannotReplay",
    "DeadLetter",
    "DeadLetterError",
    "DeadLetterReader",
    "DeadLetters",
    "NoSuchDeadLetter",
    "ReplayReport",
    "Replayer",
    "Routes",
    "dead_letter_sink",
    "error_message",
    "parse_id",
]
