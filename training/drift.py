"""The drift check's steps, and the sequence made of them (sentinel.core.drift has the measure).

champion profile → read traffic → compare → store. Each step is a plain function that
reports what it did (training.progress), run through a `run` as training.pipeline's
steps are: directly, or as Prefect tasks by training.flows.

Every check stores a report, including one that could not compare: no champion, a
champion registered before training profiles were kept, or too few transactions in
the window. Only a comparison can alert; its alert is a warning in the run's log and
the red notice on the UI's overview.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sentinel.core.drift import NO_CHAMPION, NO_PROFILE, Profile, Report, compare
from sentinel.stores import database, registry
from sentinel.stores import drift as store
from training.parameters import ParameterError
from training.pipeline import Run, call
from training.progress import report, warn
from training.settings import TrainingSettings

MAX_WINDOW_HOURS = 24 * 90
MAX_THRESHOLD = 10.0


@dataclass(frozen=True)
class DriftRequest:
    window_hours: float  # traffic of the last this many hours
    threshold: float  # a PSI above it alerts
    min_rows: int  # fewer transactions in the window and nothing is compared
    max_rows: int  # the newest this many of the window are compared
    end: datetime | None = None  # the window's end; now when None

    def __post_init__(self) -> None:
        if not 0 < self.window_hours <= MAX_WINDOW_HOURS:
            raise ParameterError(
                f"window_hours must lie above 0 and at most {MAX_WINDOW_HOURS}, not {self.window_hours:g}"
            )
        if not 0 < self.threshold <= MAX_THRESHOLD:
            raise ParameterError(
                f"the drift threshold must lie above 0 and at most {MAX_THRESHOLD:g}, not {self.threshold:g}"
            )
        if not 1 <= self.min_rows <= self.max_rows:
            raise ParameterError(f"need 1 <= min_rows <= max_rows, not {self.min_rows:,} and {self.max_rows:,}")

    @classmethod
    def from_settings(
        cls, settings: TrainingSettings, *, window_hours: float | None = None, threshold: float | None = None
    ) -> DriftRequest:
        """The settings' request, with `window_hours` and `threshold` where given."""
        return cls(
            window_hours=settings.drift_window_hours if window_hours is None else window_hours,
            threshold=settings.drift_threshold if threshold is None else threshold,
            min_rows=settings.drift_min_rows,
            max_rows=settings.drift_max_rows,
        )

    def window(self) -> tuple[datetime, datetime]:
        end = self.end or datetime.now(UTC)
        return end - timedelta(hours=self.window_hours), end


def check_drift(request: DriftRequest, settings: TrainingSettings, *, run: Run = call) -> Report:
    """Compare the window's traffic with the champion's training profile; the stored report."""
    window = request.window()
    version, profile = run(champion_profile, settings)
    if version is None or profile is None:
        result = _not_compared(version, window, request)
    else:
        traffic = run(read_traffic, settings, version, profile, window, request.max_rows)
        result = run(compare_traffic, version, profile, traffic, window, request)
    return run(store_report, settings, result)


def champion_profile(settings: TrainingSettings) -> tuple[str | None, Profile | None]:
    """The champion's version and training profile; None for what the registry does not have."""
    with database.connect(settings.database_url) as conn:
        version = registry.champion_version(conn)
        profile = store.profile_of(conn, version) if version else None
    if version is None:
        report("the registry has no champion to compare traffic with")
    elif profile is None:
        report(f"champion {version} has no training profile: retrain to get a training profile")
    else:
        report(f"champion {version}: training profile of {len(profile.columns)} columns over {profile.rows:,} rows")
    return version, profile


def read_traffic(
    settings: TrainingSettings, version: str, profile: Profile, window: tuple[datetime, datetime], max_rows: int
) -> store.Traffic:
    start, end = window
    with database.connect(settings.database_url) as conn:
        traffic = store.traffic(conn, list(profile.columns), start=start, end=end, limit=max_rows, scored_by=version)
    hours = (end - start) / timedelta(hours=1)
    newest = " (the newest of the window)" if traffic.rows == max_rows else ""
    report(f"read {traffic.rows:,} transactions{newest} scored in the last {hours:g} hours")
    return traffic


def compare_traffic(
    version: str, profile: Profile, traffic: store.Traffic, window: tuple[datetime, datetime], request: DriftRequest
) -> Report:
    result = compare(
        profile,
        traffic.columns,
        champion_version=version,
        window=window,
        rows=traffic.rows,
        threshold=request.threshold,
        min_rows=request.min_rows,
    )
    if result.alerting:
        warn(f"drift alert against champion {version}: {result.message}")
    else:
        report(result.message)
    return result


def store_report(settings: TrainingSettings, result: Report) -> Report:
    with database.connect(settings.database_url) as conn:
        stored = store.add_report(conn, result)
    report(f"stored the drift report of {stored.checked_at:%Y-%m-%d %H:%M:%S %Z}")
    return stored


def _not_compared(version: str | None, window: tuple[datetime, datetime], request: DriftRequest) -> Report:
    start, end = window
    if version is None:
        status, message = NO_CHAMPION, "the registry has no champion to compare traffic with"
    else:
        status, message = NO_PROFILE, f"champion {version} has no training profile: retrain to get a training profile"
    return Report(
        champion_version=version,
        window_start=start,
        window_end=end,
        rows=0,
        threshold=request.threshold,
        status=status,
        message=message,
    )
