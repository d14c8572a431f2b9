"""The pipeline's status in a cluster: its Knative resources, as the Kubernetes API reports them.

The UI runs in the pipeline's namespace under a service account whose Role lets it
get, list and watch exactly three kinds there (knative/infra/ui.yaml): the Knative
Services (the functions), the KafkaSinks and the KafkaSources. Each becomes one row of
the Pipeline page, healthy while its Ready condition is True. The API reports no
consumer lag, delivery counters or restarts for these, so those cells stay empty
rather than guessed.

Anything that keeps the API from answering (unreachable, a token it refuses, a Role
that is missing) becomes a snapshot whose error says so in words, never a traceback
and never the token.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from ui.pipeline import Snapshot

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
REQUEST_TIMEOUT_S = 5.0
ROLE_MANIFEST = "knative/infra/ui.yaml"


@dataclass(frozen=True)
class Listing:
    """One kind the page shows: where the API lists it, what installs it, and the kind of row it makes."""

    title: str
    api_version: str
    plural: str
    installed_by: str
    row_kind: str

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0]


SINKS = Listing("KafkaSinks", "eventing.knative.dev/v1alpha1", "kafkasinks", "eventing-kafka-broker", "eventing")
SOURCES = Listing("KafkaSources", "sources.knative.dev/v1", "kafkasources", "eventing-kafka-broker", "eventing")
SERVICES = Listing("Knative Services", "serving.knative.dev/v1", "services", "Knative Serving", "function")
# In the order the page shows them: eventing first, then the functions it feeds.
LISTINGS = (SINKS, SOURCES, SERVICES)


class KubernetesError(Exception):
    """Why the API could not be read, in words for the Pipeline page."""


class KubernetesStatus:
    """The UI's PipelineStatus in a cluster: reads the Knative resources of one namespace."""

    def __init__(
        self,
        api_url: str,
        token_file: Path,
        namespace: str,
        ca_file: Path | None = None,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        """`ca_file` None trusts the system's certificate authorities; the token file is read for every
        snapshot, since projected service-account tokens rotate."""
        self.api_url = api_url.rstrip("/")
        self.namespace = namespace
        self._token_file = token_file
        self._verify: str | bool = str(ca_file) if ca_file else True
        self._timeout_s = timeout_s

    @classmethod
    def in_cluster(
        cls, environ: Mapping[str, str] = os.environ, service_account_dir: Path = SERVICE_ACCOUNT_DIR
    ) -> KubernetesStatus:
        """The API, credentials and namespace a pod is given: its environment and its service account's files."""
        host = environ["KUBERNETES_SERVICE_HOST"]
        port = environ.get("KUBERNETES_SERVICE_PORT", "443")
        return cls(
            f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}",
            token_file=service_account_dir / "token",
            namespace=(service_account_dir / "namespace").read_text().strip(),
            ca_file=service_account_dir / "ca.crt",
        )

    @staticmethod
    def in_a_pod(environ: Mapping[str, str] = os.environ, service_account_dir: Path = SERVICE_ACCOUNT_DIR) -> bool:
        """Whether this process runs in a pod with its service account's token mounted."""
        files = ("token", "ca.crt", "namespace")
        return bool(environ.get("KUBERNETES_SERVICE_HOST")) and all((service_account_dir / f).is_file() for f in files)

    def snapshot(self) -> Snapshot:
        taken_at = datetime.now(UTC)
        try:
            token = self._token()
            with requests.Session() as session:
                listed = {listing: self._list(session, listing, token) for listing in LISTINGS}
        except KubernetesError as error:
            log.warning("the pipeline's status could not be read: %s", error)
            return Snapshot(taken_at, error=str(error))
        return pipeline_snapshot(taken_at, listed)

    def _token(self) -> str:
        try:
            token = self._token_file.read_text().strip()
        except OSError as error:
            raise KubernetesError(
                f"the service account token could not be read from {self._token_file}: {error.strerror}"
            ) from None
        if not token:
            raise KubernetesError(f"the service account token file {self._token_file} is empty")
        return token

    def _list(self, session: requests.Session, listing: Listing, token: str) -> list[dict[str, Any]]:
        url = f"{self.api_url}/apis/{listing.api_version}/namespaces/{self.namespace}/{listing.plural}"
        try:
            response = session.get(
                url,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                verify=self._verify,
                timeout=self._timeout_s,
            )
        except requests.exceptions.SSLError:
            raise KubernetesError(
                f"the Kubernetes API at {self.api_url} presented a certificate that could not be verified"
            ) from None
        except requests.Timeout:
            raise KubernetesError(
                f"the Kubernetes API at {self.api_url} did not answer within {self._timeout_s:g} s"
            ) from None
        except requests.RequestException as error:
            raise KubernetesError(
                f"the Kubernetes API at {self.api_url} could not be reached: {innermost_reason(error)}"
            ) from None
        if not response.ok:
            raise KubernetesError(self._refusal(listing, response))
        try:
            items = response.json()["items"]
        except (ValueError, KeyError, TypeError):
            items = None
        if not isinstance(items, list):
            raise KubernetesError(f"the Kubernetes API answered the request for {listing.title} with no list of them")
        return items

    def _refusal(self, listing: Listing, response: requests.Response) -> str:
        """What an error status means for this request, and what would fix it."""
        what = f"{listing.title} ({listing.plural}.{listing.group}) in the namespace {self.namespace}"
        if response.status_code == 401:
            return (
                "the Kubernetes API did not accept the UI's service account token (401 Unauthorized):"
                " it may have expired, or the service account may have been deleted"
            )
        if response.status_code == 403:
            return (
                f"the UI's service account may not list {what} (403 Forbidden):"
                f" its Role must let it get, list and watch them ({ROLE_MANIFEST})"
            )
        if response.status_code == 404:
            return (
                f"the Kubernetes API does not serve {listing.plural}.{listing.group} at {listing.api_version}"
                f" (404 Not Found): is {listing.installed_by} installed?"
            )
        return f"the Kubernetes API answered {response.status_code} {response.reason} when asked for {what}"


def innermost_reason(error: BaseException) -> str:
    """The root of a failed connection in plain words ("Connection refused"), not the HTTP client's retry report."""
    cause = error
    while (nested := cause.__cause__ or cause.__context__) is not None:
        cause = nested
    return getattr(cause, "strerror", None) or str(cause) or type(cause).__name__


def pipeline_snapshot(taken_at: datetime, listed: Mapping[Listing, list[dict[str, Any]]]) -> Snapshot:
    """The page's rows from the listed resources, and the topics the KafkaSinks write to."""
    components = [
        component_row(listing, item)
        for listing, items in listed.items()
        for item in sorted(items, key=lambda item: item["metadata"]["name"])
    ]
    sink_topics = {sink["metadata"]["name"]: sink.get("spec", {}).get("topic") for sink in listed[SINKS]}
    dead_letter_sinks = {
        source.get("spec", {}).get("delivery", {}).get("deadLetterSink", {}).get("ref", {}).get("name")
        for source in listed[SOURCES]
    }
    return Snapshot(
        taken_at=taken_at,
        components=components,
        # The API does not say how many records a topic holds.
        topics=dict.fromkeys(sorted(topic for topic in sink_topics.values() if topic)),
        dead_letter_topics=tuple(sorted({sink_topics[name] for name in dead_letter_sinks if sink_topics.get(name)})),
    )


def component_row(listing: Listing, item: dict[str, Any]) -> dict[str, Any]:
    """One resource as a row of the Pipeline page."""
    spec, status = item.get("spec", {}), item.get("status", {})
    healthy, reason = readiness(status)
    return {
        "name": item["metadata"]["name"],
        "kind": listing.row_kind,
        "resource": f"{listing.plural}.{listing.group}",
        "address": (status.get("address") or {}).get("url") or status.get("url") or "",
        "healthy": healthy,
        "reason": reason,
        "pid": None,
        "restarts": None,
        "external": False,
        "consumer_group": spec.get("consumerGroup"),
        "topics": spec.get("topics") or ([spec["topic"]] if spec.get("topic") else []),
        "lag": None,
        "lag_by_partition": {},
        "counters": None,
        "events": None,
    }


def readiness(status: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(healthy, why not) from the Ready condition Knative keeps on every resource it reconciles."""
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is None:
        return False, "no Ready condition yet: not reconciled"
    if ready.get("status") == "True":
        return True, None
    state = "not ready" if ready.get("status") == "False" else "readiness unknown"
    details = ": ".join(part for part in (ready.get("reason"), ready.get("message")) if part)
    return False, f"{state}: {details}" if details else state
