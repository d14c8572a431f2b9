"""A partition's lane: how many deliveries run at once, and which offset it is safe to commit."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from eventing.partition_lane import PartitionLane


@dataclass(frozen=True)
class Record:
    at: int

    def offset(self) -> int:
        return self.at


class Deliveries:
    """Deliveries that finish only when the test releases them, by offset."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.started: list[int] = []
        self._released: dict[int, bool] = {}
        self.most_at_once = 0
        self._running = 0

    def __call__(self, record: Record, cancelled: threading.Event) -> bool:
        with self._lock:
            self.started.append(record.at)
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
            self._lock.notify_all()
            while record.at not in self._released and not cancelled.is_set():
                self._lock.wait(0.01)
            self._running -= 1
            return self._released.get(record.at, False)

    def release(self, *offsets: int, finished: bool = True) -> None:
        with self._lock:
            self._released.update({offset: finished for offset in offsets})
            self._lock.notify_all()

    def wait_started(self, count: int) -> None:
        with self._lock:
            assert self._lock.wait_for(lambda: len(self.started) >= count, timeout=5), self.started


def wait_for_commit_point(lane: PartitionLane[Record], expected: int | None) -> None:
    deadline = time.monotonic() + 5
    while lane.commit_point() != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lane.commit_point() == expected


def test_commit_point_covers_only_the_contiguous_prefix_of_finished_records():
    deliveries = Deliveries()
    lane = PartitionLane(deliveries, max_in_flight=50, name="p0")
    lane.add([Record(offset) for offset in (10, 11, 12)])
    deliveries.wait_started(3)

    deliveries.release(11, 12)
    time.sleep(0.05)
    assert lane.commit_point() is None

    deliveries.release(10)
    wait_for_commit_point(lane, 13)


def test_the_fetched_end_is_one_past_the_last_offset_handed_over_finished_or_not():
    deliveries = Deliveries()
    lane = PartitionLane(deliveries, max_in_flight=50, name="p0")
    assert lane.fetched_end is None
    lane.add([Record(offset) for offset in (10, 11)])
    lane.add([Record(12)])
    assert lane.fetched_end == 13
    deliveries.release(10, 11, 12)
    wait_for_commit_point(lane, 13)
    assert lane.fetched_end == 13


def test_ordered_lane_delivers_one_record_at_a_time_in_offset_order():
    deliveries = Deliveries()
    deliveries.release(*range(5))
    lane = PartitionLane(deliveries, max_in_flight=1, name="p0")

    lane.add([Record(offset) for offset in range(5)])

    wait_for_commit_point(lane, 5)
    assert deliveries.started == [0, 1, 2, 3, 4]
    assert deliveries.most_at_once == 1


def test_unordered_lane_runs_up_to_its_limit_at_once():
    deliveries = Deliveries()
    lane = PartitionLane(deliveries, max_in_flight=4, name="p0")

    lane.add([Record(offset) for offset in range(10)])
    deliveries.wait_started(4)
    time.sleep(0.05)

    assert deliveries.most_at_once == 4
    deliveries.release(*range(10))
    wait_for_commit_point(lane, 10)


def test_closing_waits_for_in_flight_records_then_cancels_and_keeps_them_uncommitted():
    deliveries = Deliveries()
    lane = PartitionLane(deliveries, max_in_flight=2, name="p0")
    lane.add([Record(offset) for offset in range(4)])
    deliveries.wait_started(2)

    lane.begin_close()
    deliveries.release(0)
    idle = lane.wait_idle(deadline=time.monotonic() + 0.2)

    assert not idle
    assert lane.cancelled.is_set()
    wait_for_commit_point(lane, 1)
    assert sorted(deliveries.started) == [0, 1], "records not yet started are left for the next owner"


def test_an_idle_lane_is_never_stuck():
    lane = PartitionLane(Deliveries(), max_in_flight=1, name="p0")
    time.sleep(0.05)
    assert lane.stuck_for() == 0.0


def test_a_lane_whose_first_record_does_not_finish_is_stuck_for_as_long_as_it_held_it():
    deliveries = Deliveries()
    lane = PartitionLane(deliveries, max_in_flight=1, name="p0")
    lane.add([Record(0), Record(1)])
    deliveries.wait_started(1)
    time.sleep(0.2)
    assert lane.stuck_for() >= 0.2
    lane.begin_close()
    lane.wait_idle(time.monotonic())


def test_a_lane_that_commits_is_not_stuck_from_before():
    deliveries = Deliveries()
    lane = PartitionLane(deliveries, max_in_flight=1, name="p0")
    lane.add([Record(0), Record(1)])
    deliveries.wait_started(1)
    time.sleep(0.2)
    deliveries.release(0)
    wait_for_commit_point(lane, 1)
    assert lane.stuck_for() < 0.2
    deliveries.release(1)
    wait_for_commit_point(lane, 2)
    assert lane.stuck_for() == 0.0
