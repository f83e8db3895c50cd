"""Fault injection for the sandbox: errors, rate limits, latency, dropped connections (off by default).

A ``FaultPlan`` says what goes wrong; ``FaultInjector`` is the ASGI middleware that makes it happen. The
plan can be changed while a server runs in another thread (every method takes a lock), and its
random choices come from a seeded generator, so a run is reproducible request for request.

Faults, and what the client sees:

- **error** (``429``, ``500``, ``502``, ``503``, ``504``, any 4xx/5xx): a JSON ``{"message"}`` body with that
  status (429 carries ``Retry-After``). The app is not called: nothing is committed.
- **latency**: a delay (fixed or uniform in a range) before the request reaches the app; rules add up.
- **drop**: the connection dies mid-response: a ``200`` head with a Content-Length, part of the body,
  then nothing. The app is not called. Over real HTTP (uvicorn) the client sees the connection close
  before the promised body has arrived (httpx2: ``RemoteProtocolError: peer closed connection without
  sending complete message body``). In-process there is no connection to close, so the injector raises
  ``InjectedDisconnect``, a ``ConnectionResetError``, which an in-process transport such as
  ``httpx2.ASGITransport`` hands to its caller unchanged (with its default ``raise_app_exceptions=True``).
- **commit-then-fail**: the request goes through to the app (the change is applied), then its response
  is thrown away and replaced by an error status, or by a stall (sleep, then drop as above). This is
  the ambiguous failure a client must reconcile: did the create happen? By default it applies to
  ``create``, ``delete`` and ``set_permissions``.
- **scripts**: per operation, a queue of outcomes consumed one request at a time, before any rule:
  ``plan.script("search", [429, 503, None])`` fails the next two searches, then lets one through.

For each request, every latency rule that matches adds its delay; among the other rules, the first
matching one (in the order they were added) whose probability roll succeeds decides the outcome.
Rules can be limited to operations (see ``operation_for``; a rule without operations applies to every
classified request, never to unclassified paths such as health checks), to a time window or a number
of requests. ``plan.counts()`` reports what was injected: ``{"requests": 12, "requests@search": 5,
"429": 3, "429@search": 3, "latency": 12, ...}``.

Spec grammar (``FaultPlan.parse``, the CLI's ``--faults``), clauses separated by ``;``::

    spec    := clause (";" clause)*  |  "" | "off" | "none"
    clause  := "seed=" INT
             | head (":" param)* ["@" ops]
    head    := STATUS | "latency" | "drop" | "commit-then-fail" | "script"
    ops     := OP ("," OP)* | "*"
    param   := PROB                      probability, 0..1 or N%          (STATUS, drop, commit-then-fail)
             | DURATION | DURATION-RANGE "50ms", "1.5s", "20-80ms"       (latency)
             | OPS                       op list, same as "@ops"
             | STEP ("," STEP)*          script steps: STATUS, pass, drop, commit-STATUS, stall-DURATION
             | "p=" PROB | "retry-after=" INT | "status=" STATUS | "stall=" DURATION
             | "for=" DURATION           active for that long from when the plan is built
             | "for=" INT                active for that many matching requests

Examples::

    429:0.5:retry-after=1            half of all requests get 429 with Retry-After: 1
    503:0.1@search,get               10% of searches and gets get 503
    429:retry-after=2:for=10s        a 429 storm for the next 10 seconds
    500:for=3@create                 the next 3 creates fail with 500
    latency:50ms                     every request waits 50 ms
    latency:20-80ms@search           searches wait 20-80 ms (uniform)
    drop:0.02                        2% of requests lose their connection mid-response
    commit-then-fail:create,delete:status=500     creates and deletes apply, then answer 500
    commit-then-fail:stall=30s@create             creates apply, then hang 30 s and drop
    script:429,503,pass@search       next searches: 429, 503, then normal
    seed=7                           seed the random choices

For example ``"429:0.5:retry-after=1;503:0.1@search,get;latency:20-80ms@search;drop:0.02;seed=7"``.
Invalid specs raise ``ValueError`` naming the bad clause and part.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final, Literal

import anyio

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "COMMIT_OPERATIONS",
    "OPERATIONS",
    "Fault",
    "FaultInjector",
    "FaultPlan",
    "InjectedDisconnect",
    "Rule",
    "operation_for",
]

OPERATIONS: Final[frozenset[str]] = frozenset(
    {
        "get",
        "update",
        "create",
        "search",
        "archive",
        "delete",
        "get_permissions",
        "set_permissions",
        "list_files",
        "file_urls",
        "download_url",
        "transfer",
        "custom_metadata",
        "attach",
        "detach",
        "file_download",
        "list_results",
    }
)
# The writes whose loss-after-commit a client must reconcile; the default for commit-then-fail.
COMMIT_OPERATIONS: Final[tuple[str, ...]] = ("create", "delete", "set_permissions")

_API: Final = "/api/v1/"
_ASSET_ROUTES: Final[dict[tuple[str, str], str]] = {
    ("", "GET"): "get",
    ("", "PUT"): "update",
    ("", "DELETE"): "delete",
    ("archive", "PATCH"): "archive",
    ("permissions", "GET"): "get_permissions",
    ("permissions", "POST"): "set_permissions",
    ("files", "POST"): "list_files",
    ("files/urls", "GET"): "file_urls",
    ("files/download_url", "GET"): "download_url",
    ("transfer", "POST"): "transfer",
}


def operation_for(method: str, path: str) -> str | None:
    """The data-asset operation a request performs, or None for anything else (e.g. health checks)."""
    method = method.upper()
    if path.startswith("/__files/"):
        return "file_download"
    if not path.startswith(_API):
        return None
    parts = [part for part in path[len(_API) :].split("/") if part]  # tolerates trailing slashes
    if parts == ["custom_metadata"]:
        return "custom_metadata" if method == "GET" else None
    if len(parts) == 3 and parts[0] in ("capsules", "pipelines", "computations") and parts[2] == "data_assets":
        return {"POST": "attach", "DELETE": "detach"}.get(method)
    if len(parts) == 3 and parts[0] == "computations" and parts[2] == "results":
        return "list_results" if method == "POST" else None
    if not parts or parts[0] != "data_assets":
        return None
    if len(parts) == 1:
        return "create" if method == "POST" else None
    if parts[1:] == ["search"]:
        return "search" if method == "POST" else None
    return _ASSET_ROUTES.get(("/".join(parts[2:]), method))


# --- what happens to one request ----------------------------------------------------------------------

Action = Literal["pass", "error", "drop", "commit_error", "commit_stall"]


@dataclass(frozen=True)
class Fault:
    """The outcome chosen for one request (``delay`` applies before any action)."""

    action: Action = "pass"
    status: int = 0
    retry_after: int | None = None
    message: str | None = None
    stall: float = 0.0
    delay: float = 0.0

    @property
    def label(self) -> str:
        """The counter key: ``"429"``, ``"drop"``, ``"commit-500"``, ``"stall"`` or ``"pass"``."""
        return {
            "pass": "pass",
            "error": str(self.status),
            "drop": "drop",
            "commit_error": f"commit-{self.status}",
            "commit_stall": "stall",
        }[self.action]


PASS: Final = Fault()

RuleKind = Literal["error", "latency", "drop", "commit"]


@dataclass
class Rule:
    """One standing fault. Mutable only through its plan (under the plan's lock)."""

    kind: RuleKind
    operations: frozenset[str] | None = None  # None: every classified operation
    probability: float = 1.0
    status: int = 0
    retry_after: int | None = None
    message: str | None = None
    latency: tuple[float, float] = (0.0, 0.0)
    stall: float | None = None
    remaining: int | None = None  # matching requests left before the rule expires
    until: float | None = None  # clock time at which the rule expires
    spec: str = field(default="", compare=False)  # how the rule reads in the spec grammar

    def applies_to(self, operation: str) -> bool:
        return self.operations is None or operation in self.operations

    def fault(self) -> Fault:
        if self.kind == "error":
            return Fault("error", self.status, self.retry_after, self.message)
        if self.kind == "drop":
            return Fault("drop")
        if self.stall is not None:
            return Fault("commit_stall", stall=self.stall)
        return Fault("commit_error", self.status, self.retry_after, self.message)


Step = int | str | Fault | None


class FaultPlan:
    """What goes wrong, for which operations, how often and for how long; safe to change while serving."""

    def __init__(self, *, seed: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        # Reproducible faults, not secrets: a seeded PRNG is the point.
        self._rng = random.Random(seed)  # noqa: S311
        self._seed = seed
        self._rules: list[Rule] = []
        self._scripts: dict[str, list[Fault]] = {}
        self._counts: Counter[str] = Counter()

    # --- building ---------------------------------------------------------------------------------

    @classmethod
    def parse(cls, spec: str, *, clock: Callable[[], float] = time.monotonic) -> FaultPlan:
        """A plan from the spec grammar in this module's docstring; ValueError names any bad part."""
        plan = cls(clock=clock)
        plan.apply(spec)
        return plan

    def apply(self, spec: str) -> FaultPlan:
        """Add the clauses of ``spec`` to this plan (parsed fully before anything is added)."""
        if spec.strip().lower() in ("off", "none"):
            return self
        parsed = [_parse_clause(clause.strip()) for clause in spec.split(";") if clause.strip()]
        now = self._clock()
        with self._lock:
            for item in parsed:
                if isinstance(item, int):
                    self._reseed(item)
                elif isinstance(item, tuple):
                    operation, steps = item
                    self._scripts.setdefault(operation, []).extend(steps)
                else:
                    if item.until is not None:  # parsed as a duration; the window starts now
                        item.until += now
                    self._rules.append(item)
        return self

    def error(
        self,
        status: int,
        probability: float = 1.0,
        *,
        ops: Iterable[str] | str | None = None,
        retry_after: int | None = None,
        message: str | None = None,
        for_seconds: float | None = None,
        for_requests: int | None = None,
    ) -> Rule:
        """Answer matching requests with ``status`` (429 gets ``Retry-After: 1`` unless told otherwise)."""
        _check_status(status)
        if status == 429 and retry_after is None:
            retry_after = 1
        return self._add(
            Rule("error", _ops(ops), _probability(probability), status, retry_after, message),
            for_seconds,
            for_requests,
        )

    def rate_limit(
        self,
        probability: float = 1.0,
        *,
        retry_after: int = 1,
        ops: Iterable[str] | str | None = None,
        for_seconds: float | None = None,
        for_requests: int | None = None,
    ) -> Rule:
        """429 with ``Retry-After``: e.g. ``plan.rate_limit(for_seconds=5)`` is a five-second storm."""
        return self.error(
            429, probability, ops=ops, retry_after=retry_after, for_seconds=for_seconds, for_requests=for_requests
        )

    def latency(
        self,
        seconds: float | tuple[float, float],
        *,
        ops: Iterable[str] | str | None = None,
        probability: float = 1.0,
        for_seconds: float | None = None,
        for_requests: int | None = None,
    ) -> Rule:
        """Delay matching requests by ``seconds``, or uniformly within ``(low, high)``."""
        low, high = (seconds, seconds) if isinstance(seconds, int | float) else seconds
        if not 0 <= low <= high:
            raise ValueError(f"latency needs 0 <= low <= high, got {low}..{high}")
        return self._add(
            Rule("latency", _ops(ops), _probability(probability), latency=(float(low), float(high))),
            for_seconds,
            for_requests,
        )

    def drop(
        self,
        probability: float = 1.0,
        *,
        ops: Iterable[str] | str | None = None,
        for_seconds: float | None = None,
        for_requests: int | None = None,
    ) -> Rule:
        """Drop the connection of matching requests mid-response, without calling the app."""
        return self._add(Rule("drop", _ops(ops), _probability(probability)), for_seconds, for_requests)

    def commit_then_fail(
        self,
        ops: Iterable[str] | str | None = COMMIT_OPERATIONS,
        *,
        status: int = 500,
        stall: float | None = None,
        probability: float = 1.0,
        for_seconds: float | None = None,
        for_requests: int | None = None,
    ) -> Rule:
        """Let matching requests commit, then answer ``status`` instead (or stall ``stall`` s and drop)."""
        _check_status(status)
        if stall is not None and stall < 0:
            raise ValueError(f"stall must be >= 0 seconds, got {stall}")
        return self._add(
            Rule("commit", _ops(ops), _probability(probability), status, stall=stall), for_seconds, for_requests
        )

    def script(self, operation: str, steps: Sequence[Step]) -> None:
        """Queue outcomes for the next requests of ``operation`` (``"*"``: any operation without its own).

        A step is a status code, None or ``"pass"`` (let it through), ``"drop"``, ``"commit-500"``
        (commit, then that status), ``"stall-5s"`` (commit, stall, drop) or a ``Fault``.
        """
        if operation != "*":
            _check_ops([operation])
        faults = [_step(step) for step in steps]
        with self._lock:
            self._scripts.setdefault(operation, []).extend(faults)

    def remove(self, rule: Rule) -> None:
        """Withdraw one rule (no error if it already expired)."""
        with self._lock:
            self._rules = [r for r in self._rules if r is not rule]

    def clear(self) -> None:
        """Withdraw every rule and script; counters are kept."""
        with self._lock:
            self._rules.clear()
            self._scripts.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    def seed(self, seed: int) -> None:
        """Restart the random choices from ``seed``."""
        with self._lock:
            self._reseed(seed)

    def _reseed(self, seed: int) -> None:
        self._seed = seed
        self._rng.seed(seed)

    def _add(self, rule: Rule, for_seconds: float | None, for_requests: int | None) -> Rule:
        if for_seconds is not None:
            if for_seconds <= 0:
                raise ValueError(f"for_seconds must be > 0, got {for_seconds}")
            rule.until = self._clock() + for_seconds
        if for_requests is not None:
            if for_requests < 1:
                raise ValueError(f"for_requests must be >= 1, got {for_requests}")
            rule.remaining = for_requests
        with self._lock:
            self._rules.append(rule)
        return rule

    # --- reading ----------------------------------------------------------------------------------

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules still in force (a snapshot)."""
        with self._lock:
            self._expire(self._clock())
            return tuple(replace(rule) for rule in self._rules)

    @property
    def active(self) -> bool:
        """Whether any rule or scripted step remains."""
        with self._lock:
            self._expire(self._clock())
            return bool(self._rules) or any(self._scripts.values())

    def counts(self) -> dict[str, int]:
        """What happened so far: ``requests``, and per outcome label, each also as ``label@operation``."""
        with self._lock:
            return dict(self._counts)

    def count(self, label: str, operation: str | None = None) -> int:
        """How often ``label`` (``"429"``, ``"drop"``, ``"latency"``, ``"requests"``...) happened."""
        key = label if operation is None else f"{label}@{operation}"
        with self._lock:
            return self._counts[key]

    def describe(self) -> str:
        """The plan in the spec grammar (windows shown as configured, not as what is left of them)."""
        with self._lock:
            parts = [rule.spec or _describe(rule) for rule in self._rules]
            parts += [
                f"script:{','.join(_describe_step(step) for step in steps)}@{operation}"
                for operation, steps in self._scripts.items()
                if steps
            ]
            if self._seed:
                parts.append(f"seed={self._seed}")
        return ";".join(parts)

    def __repr__(self) -> str:
        return f"FaultPlan({self.describe()!r})"

    # --- deciding ---------------------------------------------------------------------------------

    def decide(self, operation: str) -> Fault:
        """Choose the outcome of one request of ``operation``, and count it."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            self._counts["requests"] += 1
            self._counts[f"requests@{operation}"] += 1
            delay = 0.0
            chosen: Fault | None = None
            for rule in self._rules:
                if not rule.applies_to(operation):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1  # a request seen inside the window uses it up, faulted or not
                if rule.kind == "latency":
                    if self._roll(rule.probability):
                        low, high = rule.latency
                        delay += low if low == high else self._rng.uniform(low, high)
                elif chosen is None and self._roll(rule.probability):
                    chosen = rule.fault()
            queue = self._scripts.get(operation) or self._scripts.get("*")
            if queue:
                chosen = queue.pop(0)  # scripted outcomes take precedence over rules
            fault = chosen or PASS
            if delay:
                self._count("latency", operation)
                fault = replace(fault, delay=delay)
            if fault.action != "pass":
                self._count(fault.label, operation)
            return fault

    def _roll(self, probability: float) -> bool:
        # Certain rules draw nothing, so adding one does not shift the random sequence of the others.
        return probability >= 1.0 or (probability > 0.0 and self._rng.random() < probability)

    def _count(self, label: str, operation: str) -> None:
        self._counts[label] += 1
        self._counts[f"{label}@{operation}"] += 1

    def _expire(self, now: float) -> None:
        self._rules = [
            rule
            for rule in self._rules
            if (rule.remaining is None or rule.remaining > 0) and (rule.until is None or now < rule.until)
        ]


# --- the middleware -----------------------------------------------------------------------------------


class InjectedDisconnect(ConnectionResetError):
    """Raised in-process, where there is no connection to close, for a dropped connection (see the module docstring)."""


_DEFAULT_MESSAGES: Final[dict[int, str]] = {
    429: "Too many requests: back off and retry after the number of seconds in Retry-After.",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "Service temporarily unavailable.",
    504: "Gateway timeout.",
}
# What a dropped response promises and what it delivers before the connection dies.
_DROP_PROMISED: Final = 4096
_DROP_SENT: Final = b'{"has_more": true, "results": [{"id": "'


class FaultInjector:
    """ASGI middleware applying a ``FaultPlan`` to each classified HTTP request."""

    def __init__(self, app: ASGIApp, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation = operation_for(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if operation is None:
            await self.app(scope, receive, send)
            return
        fault = self.plan.decide(operation)
        if fault.delay:
            await anyio.sleep(fault.delay)  # never time.sleep: other requests keep being served
        if fault.action == "pass":
            await self.app(scope, receive, send)
        elif fault.action == "error":
            await _send_error(send, fault)
        elif fault.action == "drop":
            await _drain(receive)
            await _drop(scope, send)
        else:
            await self.app(scope, receive, _discard)  # the change is committed; its answer is lost
            if fault.action == "commit_error":
                await _send_error(send, fault)
            else:
                await anyio.sleep(fault.stall)
                await _drop(scope, send)


async def _discard(message: Message) -> None:
    del message


async def _send_error(send: Send, fault: Fault) -> None:
    text = fault.message or _DEFAULT_MESSAGES.get(fault.status) or f"Request failed with status {fault.status}."
    body = json.dumps({"message": text}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # Not something Code Ocean sends: lets a person reading traffic tell injected from real failures.
        (b"x-sandbox-fault", fault.label.encode()),
    ]
    if fault.retry_after is not None:
        headers.append((b"retry-after", str(fault.retry_after).encode()))
    await send({"type": "http.response.start", "status": fault.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _drain(receive: Receive) -> None:
    # Read the request body the app will never see: a socket closed with unread input is reset (RST),
    # which the client reports as "connection reset" instead of the truncated response we mean.
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _drop(scope: Scope, send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(_DROP_PROMISED).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _DROP_SENT, "more_body": True})
    # A server speaking the ASGI HTTP spec (uvicorn, hypercorn: they set spec_version) closes the
    # connection when the app returns mid-body. An in-process transport has no connection to close (httpx2's
    # asserts that the response completed), so there the drop is raised as the connection error it stands for.
    if "spec_version" not in scope.get("asgi", {}):
        raise InjectedDisconnect(
            f"peer closed connection without sending complete message body "
            f"(received {len(_DROP_SENT)} bytes, expected {_DROP_PROMISED}) [injected fault]"
        )


# --- parsing ------------------------------------------------------------------------------------------

_DURATION: Final = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")
_DURATION_RANGE: Final = re.compile(r"^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)(ms|s)$")
_PROBABILITY: Final = re.compile(r"^(\d+(?:\.\d+)?)(%?)$")


class _SpecError(ValueError):
    pass


def _parse_clause(clause: str) -> Rule | int | tuple[str, list[Fault]]:
    try:
        return _clause(clause)
    except _SpecError as exc:
        raise ValueError(f"invalid fault spec clause {clause!r}: {exc}") from None


def _clause(clause: str) -> Rule | int | tuple[str, list[Fault]]:
    body, at, ops_text = clause.partition("@")
    head, *params = [part.strip() for part in body.split(":")]
    head = head.lower()
    if head.startswith("seed="):
        value = head[5:]
        if not value.isdigit() or params or at:
            raise _SpecError(f"seed needs a non-negative integer, as in seed=7, got {clause!r}")
        return int(value)
    ops: frozenset[str] | None = _spec_ops(ops_text) if at else None
    if head == "script":
        if not params:
            raise _SpecError("script needs steps, as in script:429,503,pass@search")
        steps = [_spec_step(step) for param in params for step in param.split(",")]
        if ops is None:
            return "*", steps
        if len(ops) != 1:
            raise _SpecError(f"a script applies to one operation (or none, meaning any), got {sorted(ops)}")
        return next(iter(ops)), steps
    if head.isdigit():
        rule = Rule("error", status=_spec_status(head))
        if rule.status == 429:
            rule.retry_after = 1
    elif head == "latency":
        rule = Rule("latency")
    elif head == "drop":
        rule = Rule("drop")
    elif head in ("commit-then-fail", "commit"):
        rule = Rule("commit", operations=frozenset(COMMIT_OPERATIONS), status=500)
    else:
        raise _SpecError(
            f"unknown fault {head!r}: expected a status code (429, 500, 502, 503, 504...), latency, drop, "
            "commit-then-fail, script or seed=N"
        )
    latency_set = False
    for param in params:
        key, eq, value = param.partition("=")
        key = key.lower()
        if eq:
            _spec_keyed(rule, key, value)
        elif rule.kind == "latency" and (_DURATION.match(param) or _DURATION_RANGE.match(param)):
            rule.latency = _spec_latency(param)
            latency_set = True
        elif rule.kind == "latency" and _PROBABILITY.match(param) and not param.endswith("%"):
            raise _SpecError(f"latency durations need a unit, as in {param}ms or {param}s; got {param!r}")
        elif _PROBABILITY.match(param):
            rule.probability = _spec_probability(param)
        elif all(op.strip() in OPERATIONS for op in param.split(",")):
            ops = frozenset(op.strip() for op in param.split(",")) | (ops or frozenset())
        else:
            raise _SpecError(f"cannot read {param!r} (not a probability, duration, key=value or operation list)")
    if rule.kind == "latency" and not latency_set:
        raise _SpecError("latency needs a duration, as in latency:50ms or latency:20-80ms")
    if at or ops is not None:  # "@*" widens even commit-then-fail to every operation
        rule.operations = ops
    rule.spec = clause
    return rule


def _spec_keyed(rule: Rule, key: str, value: str) -> None:
    if key == "p":
        rule.probability = _spec_probability(value)
    elif key == "retry-after" and rule.kind in ("error", "commit"):
        if not value.isdigit():
            raise _SpecError(f"retry-after needs whole seconds, got {value!r}")
        rule.retry_after = int(value)
    elif key == "status" and rule.kind in ("error", "commit"):
        rule.status = _spec_status(value)
    elif key == "stall" and rule.kind == "commit":
        rule.stall = _spec_duration(value)
    elif key == "for":
        if value.isdigit():
            if int(value) < 1:
                raise _SpecError("for=N needs N >= 1 requests")
            rule.remaining = int(value)
        else:
            seconds = _spec_duration(value)
            if seconds <= 0:
                raise _SpecError("for=DURATION needs a positive duration")
            rule.until = seconds  # made absolute when the plan takes the rule
    else:
        raise _SpecError(f"unknown option {key!r} for {rule.kind} (options: p, retry-after, status, stall, for)")


def _spec_ops(text: str) -> frozenset[str] | None:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["*"]:
        return None
    if not names:
        raise _SpecError("'@' needs operations, as in @search,get")
    return _check_ops(names, _SpecError)


def _spec_status(text: str) -> int:
    if not text.isdigit():
        raise _SpecError(f"status must be a number, got {text!r}")
    try:
        _check_status(int(text))
    except ValueError as exc:
        raise _SpecError(str(exc)) from None
    return int(text)


def _spec_probability(text: str) -> float:
    match = _PROBABILITY.match(text)
    if not match:
        raise _SpecError(f"probability must be 0..1 or a percentage, got {text!r}")
    value = float(match.group(1)) / (100 if match.group(2) else 1)
    if not 0 <= value <= 1:
        raise _SpecError(f"probability must be between 0 and 1 (or 0%..100%), got {text!r}")
    return value


def _scale(unit: str) -> float:
    return 0.001 if unit == "ms" else 1.0


def _spec_duration(text: str) -> float:
    match = _DURATION.match(text)
    if not match:
        raise _SpecError(f"duration must look like 50ms or 1.5s, got {text!r}")
    return float(match.group(1)) * _scale(match.group(2))


def _spec_latency(text: str) -> tuple[float, float]:
    match = _DURATION_RANGE.match(text)
    if match:
        low, high = float(match.group(1)) * _scale(match.group(3)), float(match.group(2)) * _scale(match.group(3))
        if low > high:
            raise _SpecError(f"latency range must be low-high, got {text!r}")
        return low, high
    value = _spec_duration(text)
    return value, value


def _spec_step(text: str) -> Fault:
    try:
        return _step(text.strip())
    except ValueError as exc:
        raise _SpecError(str(exc)) from None


# --- shared validation --------------------------------------------------------------------------------


def _check_status(status: int) -> None:
    if not 400 <= status <= 599:
        raise ValueError(f"an injected error status must be 4xx or 5xx, got {status}")


def _probability(value: float) -> float:
    if not 0 <= value <= 1:
        raise ValueError(f"probability must be between 0 and 1, got {value}")
    return float(value)


def _check_ops(names: Iterable[str], error: type[ValueError] = ValueError) -> frozenset[str]:
    chosen = frozenset(names)
    unknown = sorted(chosen - OPERATIONS)
    if unknown:
        raise error(f"unknown operation(s) {', '.join(unknown)}; known: {', '.join(sorted(OPERATIONS))}")
    return chosen


def _ops(ops: Iterable[str] | str | None) -> frozenset[str] | None:
    if ops is None:
        return None
    return _check_ops([ops] if isinstance(ops, str) else ops)


def _step(step: Step) -> Fault:
    if step is None or step == "pass":
        return PASS
    if isinstance(step, Fault):
        return step
    if isinstance(step, int):
        _check_status(step)
        return Fault("error", step, 1 if step == 429 else None)
    text = step.strip().lower()
    if text.isdigit():
        return _step(int(text))
    if text == "drop":
        return Fault("drop")
    if text.startswith("commit-") and text[7:].isdigit():
        _check_status(int(text[7:]))
        return Fault("commit_error", int(text[7:]))
    if text.startswith("stall-"):
        match = _DURATION.match(text[6:])
        if match:
            return Fault("commit_stall", stall=float(match.group(1)) * _scale(match.group(2)))
    raise ValueError(
        f"unknown script step {step!r}: expected a status code, pass, drop, commit-STATUS or stall-DURATION"
    )


def _describe(rule: Rule) -> str:
    if rule.kind == "latency":
        low, high = rule.latency
        head = f"latency:{_ms(low)}" if low == high else f"latency:{_ms(low)[:-2]}-{_ms(high)}"
    elif rule.kind == "error":
        head = str(rule.status)
    elif rule.kind == "drop":
        head = "drop"
    else:
        head = "commit-then-fail" + (
            f":stall={_ms(rule.stall)}" if rule.stall is not None else f":status={rule.status}"
        )
    if rule.probability < 1:
        head += f":{rule.probability:g}"
    if rule.retry_after is not None and rule.kind == "error":
        head += f":retry-after={rule.retry_after}"
    if rule.operations is not None:
        head += "@" + ",".join(sorted(rule.operations))
    return head


def _describe_step(step: Fault) -> str:
    if step.action == "commit_error":
        return f"commit-{step.status}"
    if step.action == "commit_stall":
        return f"stall-{_ms(step.stall)}"
    return step.label


def _ms(seconds: float) -> str:
    return f"{math.floor(seconds * 1000 + 0.5)}ms"
