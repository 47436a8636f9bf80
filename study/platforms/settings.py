"""The ``crowd:`` section of ``study.yaml``: target wage, MTurk qualifications, Prolific places.

Example::

    crowd:
      target_hourly_wage: 12.00        # per hour in the account's currency (USD on MTurk, the
                                       # Prolific workspace's GBP or USD); publish warns below it,
                                       # bonus --top-up-to-wage pays up to it
      mturk:
        approval_rate: 95              # PercentAssignmentsApproved >= 95
        min_approved: 1000             # NumberHITsApproved >= 1000
        locales: [US, GB]              # worker locale in these countries
        masters: false                 # Masters workers only (ids differ in sandbox and production)
      prolific:
        estimated_minutes: 20
        places: 50
        hits_per_participant: 10
        completion_code: C1A2B3C4
        workspace: 6123abcd...         # only when the token sees several workspaces
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from analysis_core.artifacts.errors import BarlowError

# System qualification type ids (MTurk documentation; Masters differs by environment).
PERCENT_APPROVED = "000000000000000000L0"
NUMBER_APPROVED = "00000000000000000040"
LOCALE = "00000000000000000071"
MASTERS = {"production": "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH", "sandbox": "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"}
DEFAULT_TARGET_WAGE = Decimal("12.00")


@dataclass
class MTurkSettings:
    approval_rate: int | None = None
    min_approved: int | None = None
    locales: list[str] = field(default_factory=list)
    masters: bool = False

    def qualification_requirements(self, sandbox: bool) -> list[dict[str, Any]]:
        """The ``QualificationRequirements`` of every HIT, in MTurk's shape."""
        reqs: list[dict[str, Any]] = []
        if self.approval_rate is not None:
            reqs.append({"QualificationTypeId": PERCENT_APPROVED, "Comparator": "GreaterThanOrEqualTo", "IntegerValues": [self.approval_rate], "ActionsGuarded": "Accept"})
        if self.min_approved is not None:
            reqs.append({"QualificationTypeId": NUMBER_APPROVED, "Comparator": "GreaterThanOrEqualTo", "IntegerValues": [self.min_approved], "ActionsGuarded": "Accept"})
        if self.locales:
            reqs.append({"QualificationTypeId": LOCALE, "Comparator": "In", "LocaleValues": [{"Country": c} for c in self.locales], "ActionsGuarded": "Accept"})
        if self.masters:
            reqs.append({"QualificationTypeId": MASTERS["sandbox" if sandbox else "production"], "Comparator": "Exists", "ActionsGuarded": "Accept"})
        return reqs


@dataclass
class ProlificSettings:
    estimated_minutes: int = 20
    places: int | None = None
    hits_per_participant: int = 10
    completion_code: str = ""
    workspace: str | None = None


@dataclass
class CrowdSettings:
    target_hourly_wage: Decimal = DEFAULT_TARGET_WAGE
    mturk: MTurkSettings = field(default_factory=MTurkSettings)
    prolific: ProlificSettings = field(default_factory=ProlificSettings)


def _fail(where: str, message: str) -> BarlowError:
    return BarlowError(f"study.yaml: crowd.{where}: {message}")


def _int(data: dict, key: str, where: str, default: Any, low: int, high: int) -> Any:
    value = data.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(f"{where}.{key}", f"expected a whole number from {low} to {high}, got {value!r}")
    return value


def _known(data: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(data, dict):
        raise _fail(where, f"expected a mapping, got {type(data).__name__}")
    extra = sorted(set(map(str, data)) - allowed)
    if extra:
        raise _fail(f"{where}.{extra[0]}" if where else extra[0], f"unknown field (allowed: {', '.join(sorted(allowed))})")
    return data


def crowd_settings(raw: dict[str, Any] | None) -> CrowdSettings:
    """Read and check the ``crowd`` mapping of a study file; errors name the field."""
    raw = raw or {}
    _known(raw, {"target_hourly_wage", "mturk", "prolific"}, "")
    wage_raw = raw.get("target_hourly_wage", DEFAULT_TARGET_WAGE)
    try:
        wage = Decimal(str(wage_raw))
    except InvalidOperation:
        raise _fail("target_hourly_wage", f"expected an amount per hour like 12.00, got {wage_raw!r}") from None
    if isinstance(wage_raw, bool) or not wage.is_finite() or wage < 0:
        raise _fail("target_hourly_wage", f"expected an amount per hour like 12.00, got {wage_raw!r}")
    m = _known(raw.get("mturk") or {}, {"approval_rate", "min_approved", "locales", "masters"}, "mturk")
    locales = m.get("locales") or []
    if not isinstance(locales, list) or not all(isinstance(c, str) and len(c) == 2 and c.isalpha() and c.isupper() for c in locales):
        raise _fail("mturk.locales", f"expected a list of two-letter country codes like [US, GB], got {locales!r}")
    masters = m.get("masters", False)
    if not isinstance(masters, bool):
        raise _fail("mturk.masters", f"expected true or false, got {masters!r}")
    mturk = MTurkSettings(
        approval_rate=_int(m, "approval_rate", "mturk", None, 0, 100),
        min_approved=_int(m, "min_approved", "mturk", None, 0, 10**9),
        locales=list(locales),
        masters=masters,
    )
    p = _known(raw.get("prolific") or {}, {"estimated_minutes", "places", "hits_per_participant", "completion_code", "workspace"}, "prolific")
    code = p.get("completion_code", "")
    if not isinstance(code, str) or (code and not code.isalnum()):
        raise _fail("prolific.completion_code", f"expected letters and digits, got {code!r}")
    workspace = p.get("workspace")
    if workspace is not None and (not isinstance(workspace, str) or not workspace.isalnum()):
        raise _fail("prolific.workspace", f"expected a Prolific workspace id (letters and digits), got {workspace!r}")
    prolific = ProlificSettings(
        estimated_minutes=_int(p, "estimated_minutes", "prolific", 20, 1, 24 * 60),
        places=_int(p, "places", "prolific", None, 1, 100000),
        hits_per_participant=_int(p, "hits_per_participant", "prolific", 10, 1, 10000),
        completion_code=code,
        workspace=workspace,
    )
    return CrowdSettings(target_hourly_wage=wage, mturk=mturk, prolific=prolific)
