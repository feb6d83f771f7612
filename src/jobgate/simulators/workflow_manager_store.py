"""The Workflow Manager simulator's state: jobs, versioned diagrams, tokens and manage rules.

Jobs and diagrams have the shapes of Esri's Job, CurrentStep and Diagram models: current steps
carry no status, and a diagram's steps are keyed ``id``/``name``. Whether a job is running is
the simulator's own state (``running``); with automatic status assignment, which the simulator
follows, a running job's ``jobStatus`` is ``running_status`` ("Working" unless a test names the
organisation's own word for it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jobgate.simulators.oauth import TokenBook

DEMO_TOKEN = "demo-workflow-token"
DEMO_CLIENT_ID = "jobgateDemoApp"
DEMO_CLIENT_SECRET = "demo-arcgis-app-secret-4Lp8"
# The privilege each manage type needs (PROVIDERS.md §4).
MANAGE_PRIVILEGES = {
    "Close": "jobClose",
    "Reopen": "jobReopenClosed",
    "Upgrade": "jobUpgrade",
    "Delete": "jobDelete",
}
ALL_PRIVILEGES = frozenset(MANAGE_PRIVILEGES.values())
DEFAULT_STEPS = {"s1": "Edit", "s2": "QA review", "s3": "Publish"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class WorkflowManagerStore:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # diagram id -> its versions, oldest first; version n is at index n - 1.
    diagrams: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # token -> the privileges its user holds; tests add tokens lacking some. These never expire.
    tokens: dict[str, frozenset[str]] = field(default_factory=lambda: {DEMO_TOKEN: ALL_PRIVILEGES})
    # Tokens the OAuth endpoint issues (to apps holding every privilege), and when they expire.
    issued: TokenBook = field(default_factory=lambda: TokenBook(lifetime=7200))
    clients: dict[str, str] = field(default_factory=lambda: {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET})
    # Test hook run just before a manage request is applied: another user acting between a
    # client's read and its manage (for example starting the job) is otherwise hard to stage.
    before_manage: Callable[[], None] | None = None
    running_status: str = "Working"  # the jobStatus a running job shows
    running: set[str] = field(default_factory=set)  # ids of the jobs that are running
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- diagrams ---------------------------------------------------------------------------

    def add_diagram(
        self, diagram_id: str, name: str, steps: Mapping[str, str] = DEFAULT_STEPS
    ) -> dict[str, Any]:
        if diagram_id in self.diagrams:
            raise ValueError(f"diagram {diagram_id!r} exists; publish a new version instead")
        self.diagrams[diagram_id] = []
        return self._version(diagram_id, name, steps)

    def publish_diagram_version(
        self, diagram_id: str, steps: Mapping[str, str] | None = None
    ) -> int:
        """A new latest version (same steps unless given); returns its number."""
        latest = self.latest_diagram(diagram_id)
        kept = {s["id"]: s["name"] for s in latest["steps"]}
        version = self._version(diagram_id, latest["diagramName"], kept if steps is None else steps)
        return int(version["diagramVersion"])

    def _version(self, diagram_id: str, name: str, steps: Mapping[str, str]) -> dict[str, Any]:
        versions = self.diagrams[diagram_id]
        first_id, first_name = next(iter(steps.items()))
        diagram = {
            "diagramId": diagram_id,
            "diagramVersion": len(versions) + 1,
            "diagramName": name,
            "initialStepId": first_id,
            "initialStepName": first_name,
            "steps": [{"id": k, "name": v} for k, v in steps.items()],
            "annotations": [],
            "displayGrid": True,
        }
        versions.append(diagram)
        return diagram

    def latest_diagram(self, diagram_id: str) -> dict[str, Any]:
        return self.diagrams[diagram_id][-1]

    def _step_ids(self, diagram_id: str, version: int | None = None) -> dict[str, str]:
        diagram = self.diagrams[diagram_id][-1 if version is None else version - 1]
        return {s["id"]: s["name"] for s in diagram["steps"]}

    # -- jobs -------------------------------------------------------------------------------

    def add(
        self,
        job_name: str = "Parcel edit",
        *,
        job_id: str | None = None,
        closed: bool = False,
        running: bool = False,
        diagram_id: str = "d1",
        diagram_version: int | None = None,
        step_id: str | None = None,
        priority: str = "Medium",
        assigned_type: str = "User",
        assigned_to: str = "ana",
        description: str = "",
        percent_complete: int = 0,
        created: str | None = None,
    ) -> dict[str, Any]:
        if diagram_id not in self.diagrams:
            self.add_diagram(diagram_id, "Default workflow")
        version = diagram_version or len(self.diagrams[diagram_id])
        steps = self._step_ids(diagram_id, version)
        step_id = step_id or next(iter(steps))
        job_id = job_id or f"jW{next(self._serial):04d}"
        job = {
            "jobId": job_id,
            "jobName": job_name,
            "description": description,
            "jobStatus": "Ready",
            "closed": False,
            "archived": False,
            "priority": priority,
            "percentComplete": percent_complete,
            "diagramId": diagram_id,
            "diagramVersion": version,
            "diagramName": self.diagrams[diagram_id][version - 1]["diagramName"],
            "jobTemplateId": f"t-{diagram_id}",
            "jobTemplateName": f"{self.diagrams[diagram_id][0]['diagramName']} template",
            "createdDate": created or _now(),
            "dueDate": None,
            "endDate": None,
            "ownedBy": assigned_to,
            "currentSteps": [_current_step(step_id, steps[step_id], assigned_type, assigned_to)],
            "holds": [],
        }
        self.jobs[job_id] = job
        if running:
            self.set_running(job_id, True)
        if closed:
            self._close(job)
        return job

    def set_running(self, job_id: str, running: bool) -> None:
        job = self.jobs[job_id]
        if job["closed"]:
            raise ValueError("a closed job cannot run")
        if running:
            self.running.add(job_id)
        else:
            self.running.discard(job_id)
        job["jobStatus"] = self.running_status if running else "Ready"

    def is_running(self, job: Mapping[str, Any]) -> bool:
        return job["jobId"] in self.running

    def refusal(self, manage_type: str, job: Mapping[str, Any]) -> str | None:
        """Why the upstream leaves this job as it is (the vendor's documented refusals)."""
        if manage_type in ("Close", "Delete", "Upgrade") and self.is_running(job):
            return "running"
        if manage_type == "Reopen" and not job["closed"]:
            return "open"
        if manage_type == "Upgrade":
            if job["closed"]:
                return "closed"
            latest = self._step_ids(job["diagramId"])
            if any(s["stepId"] not in latest for s in job["currentSteps"]):
                return "current step not in the latest diagram version"
        return None

    def manage(self, manage_type: str, job_ids: Sequence[str]) -> bool:
        """Apply to every job that allows it; True only when none was refused or unknown."""
        success = True
        for job_id in job_ids:
            job = self.jobs.get(job_id)
            if job is None or self.refusal(manage_type, job) is not None:
                success = False
                continue
            if manage_type == "Close":
                self._close(job)
            elif manage_type == "Reopen":
                job["closed"] = False
                job["jobStatus"] = self.running_status if self.is_running(job) else "Ready"
            elif manage_type == "Upgrade":
                latest = self.latest_diagram(job["diagramId"])
                names = self._step_ids(job["diagramId"])
                job["diagramVersion"] = latest["diagramVersion"]
                for step in job["currentSteps"]:
                    step["stepName"] = names[step["stepId"]]
            else:
                del self.jobs[job_id]
                self.running.discard(job_id)
        return success

    def _close(self, job: dict[str, Any]) -> None:
        job["closed"] = True
        job["jobStatus"] = "Closed"


def seed(store: WorkflowManagerStore) -> None:
    """Sample jobs in every situation, with stable ids the README and tests can use."""
    store.add_diagram("d1", "Parcel editing", {"s1": "Edit", "s2": "QA review", "s9": "Legacy QA"})
    store.publish_diagram_version("d1", {"s1": "Edit", "s2": "QA review", "s3": "Publish"})
    store.publish_diagram_version("d1")  # v3: same steps, so v2 jobs can be upgraded
    day = "2024-03-0{}T10:{}:00Z"
    store.add("Parcel edit 12", job_id="j1Xo9", priority="High", created=day.format(1, "00"))
    store.add(
        "Parcel edit 13",
        job_id="j2Pq4",
        diagram_version=2,
        step_id="s2",
        assigned_type="Group",
        assigned_to="qa-team",
        percent_complete=50,
        created=day.format(2, 15),
    )
    store.add(
        "Road centreline update",
        job_id="j3Rw7",
        running=True,
        assigned_to="ben",
        percent_complete=30,
        created=day.format(3, 30),
    )
    store.add(
        "Zoning boundary review",
        job_id="j4Cl2",
        closed=True,
        step_id="s3",
        percent_complete=100,
        created=day.format(4, 45),
    )
    store.add(
        "Address points cleanup",
        job_id="j5Lg8",
        diagram_version=1,
        step_id="s9",
        priority="Low",
        description="Started before the Legacy QA step was retired.",
        created=day.format(5, 50),
    )
    store.add("Parcel edit 14", job_id="j6Nb1", created=day.format(6, 55))


# Contract-suite hook: every situation the manage rules tell apart, and a way to make one.
SCENARIOS: tuple[str, ...] = ("open", "open-upgradable", "open-outdated-step", "running", "closed")
_SCENARIO_DIAGRAM = "dScenarios"


def create_in(store: WorkflowManagerStore, scenario: str) -> str:
    if _SCENARIO_DIAGRAM not in store.diagrams:
        store.add_diagram(_SCENARIO_DIAGRAM, "Scenarios", {"s1": "Edit", "s9": "Legacy QA"})
        store.publish_diagram_version(_SCENARIO_DIAGRAM, {"s1": "Edit", "s2": "QA review"})
    where: dict[str, Any] = {"diagram_id": _SCENARIO_DIAGRAM}
    if scenario == "open-upgradable":
        where.update(diagram_version=1, step_id="s1")
    elif scenario == "open-outdated-step":
        where.update(diagram_version=1, step_id="s9")
    elif scenario == "running":
        where.update(running=True)
    elif scenario == "closed":
        where.update(closed=True)
    elif scenario != "open":
        raise ValueError(f"unknown Workflow Manager scenario {scenario!r}")
    return str(store.add(f"Scenario {scenario}", **where)["jobId"])


def _current_step(step_id: str, name: str, assigned_type: str, assigned_to: str) -> dict[str, Any]:
    return {
        "stepId": step_id,
        "stepName": name,
        "assignedType": assigned_type,
        "assignedTo": assigned_to,
        "canSkip": False,
        "manualHold": False,
        "holdScheduledRelease": None,
        "dependencies": False,
    }
