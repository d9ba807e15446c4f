"""One patient's results, diagnoses and alerts held in memory, evaluated incrementally.

The patient aggregate: `replay` keeps one per patient for the whole run; the live service
loads one per patient and batch from storage (the part within the look-back, `horizon`),
applies the batch through the same methods, and saves what changed. A new version
of a result re-evaluates only the results collected from that moment on (their windows
include it); a diagnosis change re-evaluates them all, since a diagnosis applies to the
results within its span (risk.held_span), earlier ones included.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from monitor.engine.artefacts import SUSPECTED_ARTEFACT, glucose_corrected, is_spike
from monitor.engine.fluids import AQUARESIS_WARNING, FLUID_ANALYTES, SpellEnd, aquaresis
from monitor.engine.limits import sparing_onset
from monitor.engine.medication import Medication
from monitor.engine.model import (
    Analyte,
    Diagnosis,
    Finding,
    Measurement,
    Method,
    ResultStatus,
    RiskSource,
)
from monitor.engine.policy import Policy
from monitor.engine.reconcile import (
    ACTIVE,
    RESOLVED,
    WITHDRAWN,
    AlertRecord,
    Change,
    reconcile,
)
from monitor.engine.risk import FACTOR_NAMES, Held, display_code, held_factors, normalise_code
from monitor.engine.rules import (
    OVERCORRECTION_24H,
    OVERCORRECTION_48H,
    PROJECTED_OVERCORRECTION,
    RATE_RULES,
    Columns,
    context,
    evaluate_columns,
    projection_expired,
)
from monitor.engine.standing import Standing, latest_standing
from monitor.engine.stays import STANDING_RULES, StayEnd, discharged, ended, latest_gap
from monitor.engine.treatment import RELOWERING_CLASSES, RULED_CLASSES, hypertonic_findings
from monitor.engine.versions import (
    Effective,
    Refusal,
    Version,
    refusals,
    repeats,
    resolve,
    step,
)
from monitor.engine.windows import HOUR
from monitor.engine.wording import clock
from monitor.engine.wording import number as _n

# What the ledger keeps in series: sodium and potassium for the rules, glucose to correct
# the sodium it pairs with, urine output and osmolality for the water-diuresis rule.
_RULED = (Analyte.SODIUM, Analyte.POTASSIUM, Analyte.GLUCOSE, Analyte.URINE_OUTPUT,
          Analyte.URINE_OSMOLALITY)
NOT_BORNE_OUT = "not borne out"
EXPIRED = "projection over"


@dataclass(slots=True)
class _Result:
    analyte: Analyte
    method: Method
    versions: list[Version] = field(default_factory=list)
    effective: Effective | None = None
    test: bool = False
    inferred: bool = False  # identity inferred from the content (a row without result_id)


@dataclass
class PatientLedger:
    policy: Policy
    results: dict[str, _Result] = field(default_factory=dict)
    # Each source's current statement of each code: (code, source) -> its diagnosis.
    diagnoses: dict[tuple[str, str], Diagnosis] = field(default_factory=dict)
    acute_marks: list[datetime] = field(default_factory=list)
    # Medication orders and administrations of the classes a rule reads (engine.treatment),
    # by key, and when a clinician recorded severe symptoms of hyponatremia.
    medications: dict[str, Medication] = field(default_factory=dict)
    severe_symptoms: list[datetime] = field(default_factory=list)
    # The latest end of a stay seen, a discharge or a gap without sodium (engine.stays):
    # nothing collected up to it raises or holds a standing alert any more.
    stay_ended_at: datetime | None = None
    # Loaded from storage: the last counted sodium collected before the loaded ones, so a
    # gap from it may end a stay (engine.stays). None: there is none, or all is here.
    sodium_before: datetime | None = None
    alerts: list[AlertRecord] = field(default_factory=list)
    # Loaded from storage: results before this moment are context only (their own windows
    # were not loaded), so they are never re-evaluated. None: everything is here (replay).
    horizon: datetime | None = None
    # Counted measurements per analyte, kept sorted by (collected_at, result_key).
    series: dict[Analyte, Columns] = field(
        default_factory=lambda: {a: Columns() for a in _RULED})
    # Replay needs only the final state: a result collected after everything the patient
    # already has is evaluated later, together with the next ones (see `flush`). Its findings
    # depend only on earlier data and no evidence can be withdrawn by an append, so the final
    # alerts are the same; the per-result work is done once per batch instead.
    defer_appends: bool = False
    _pending_since: datetime | None = None
    _pending_keys: set[str] = field(default_factory=set)
    _pending_ids: Callable[[str], str] | None = None
    # Every counted sodium, suspected artefacts included (series[SODIUM] leaves them out),
    # and the suspected artefacts by key (see `_spike`).
    raw: Columns = field(default_factory=Columns)
    suspects: set[str] = field(default_factory=set)
    # Versions refused (engine.versions) since the caller last took them: the caller
    # reports each to its sender, as replay and the live service report other rejects.
    refused: list[Refusal] = field(default_factory=list)

    def add_result(self, key: str, analyte: Analyte, method: Method, status: ResultStatus,
                   value: float | None, collected_at: datetime, arrival_seq: int,
                   test: bool, new_id: Callable[[str], str],
                   inferred: bool = False, flag: str | None = None,
                   started_at: datetime | None = None) -> list[Change]:
        """Apply one version of a result and re-evaluate what it affects; a refused version
        changes nothing and is noted in `refused`. `inferred`: the result's identity was
        inferred from its content (a CSV or JSON row without result_id). `flag`: the
        laboratory's words when it flagged the specimen (the version is not counted).
        `started_at`: a urine output's interval start (`collected_at` is its end)."""
        res = self.results.get(key)
        if res is None:
            res = self.results[key] = _Result(analyte, method, inferred=inferred)
        version = Version(arrival_seq, status, value, collected_at, flag, started_at)
        if res.versions and version in res.versions:
            return []  # the same version delivered again changes nothing
        res.versions.append(version)
        res.test = res.test or test
        before = res.effective
        # In arrival order (the usual case) the newest version applies on top of the state.
        if len(res.versions) == 1 or arrival_seq > res.versions[-2].arrival_seq:
            after, reason = step(before, version, res.inferred)
            if reason is not None:
                if len(res.versions) == 1 or not repeats(res.versions[-2], version):
                    held = None if before is None else before.value_mmol_l
                    self.refused.append(Refusal(arrival_seq, reason, held))
                return []
        else:
            # Out of arrival order (live: a payload committed late): the versions are
            # applied again in arrival order, which may refuse one applied before (a final
            # that a removal sent before it now follows).
            res.versions.sort(key=lambda v: v.arrival_seq)
            known = set(refusals([v for v in res.versions if v is not version], res.inferred))
            self.refused += [r for r in refusals(res.versions, res.inferred) if r not in known]
            after = resolve(res.versions, res.inferred)
        res.effective = after
        if _same(before, after) or analyte not in _RULED:
            return []
        if self.defer_appends and self._appends(before, after):
            assert after is not None and after.value_mmol_l is not None
            m = _measurement(key, analyte, method, after)
            if not self._changes_earlier(m):
                self._insert(m)
                if self._pending_since is None:
                    self._pending_since = after.collected_at
                self._pending_keys.add(key)
                self._pending_ids = new_id
                return []
            # It changes how earlier samples count (a spike it reverses, a sodium its glucose
            # corrects): what was deferred is evaluated first, as it would have been then.
            changes = self.flush()
            exposed = self._insert(m)
            if not exposed:
                return changes + self.reevaluate(m.collected_at, new_id, extra_keys={key},
                                                 appended=True)
            return changes + self._reevaluate_flipped(exposed, new_id, m.collected_at, key)
        changes = self.flush()
        appended = self._appends(before, after)
        flipped: dict[str, datetime] = {}
        if before is not None and before.counted:
            flipped.update(self._remove(key, analyte, before.collected_at))
        if after is not None and after.counted and after.value_mmol_l is not None:
            flipped.update(self._insert(_measurement(key, analyte, method, after)))
        times = [e.collected_at for e in (before, after) if e is not None and e.counted]
        if not times:
            return changes
        if flipped:
            return changes + self._reevaluate_flipped(flipped, new_id, min(times), key)
        return changes + self.reevaluate(min(times), new_id, extra_keys={key},
                                         appended=appended)

    def _reevaluate_flipped(self, flipped: dict[str, datetime], new_id: Callable[[str], str],
                            since: datetime | None = None, key: str | None = None
                            ) -> list[Change]:
        times = list(flipped.values()) + ([since] if since is not None else [])
        keys = set(flipped) | ({key} if key else set())
        suspected = [k for k in flipped if k in self.suspects]
        reason = None
        if suspected:
            m = self._raw_measurement(suspected[0])
            reason = (SUSPECTED_ARTEFACT
                      + (f" ({_n(m.value_mmol_l)} at {clock(m.collected_at)})" if m else ""))
        return self.reevaluate(min(times), new_id, extra_keys=keys, withdraw_reason=reason)

    def _changes_earlier(self, m: Measurement) -> bool:
        """Whether appending `m` may change how an earlier sample counts."""
        if m.analyte is Analyte.GLUCOSE or m.analyte in FLUID_ANALYTES:
            # A urine reading may end a water diuresis, which resolves the alert that the
            # readings before it raised: they are evaluated as they come, as live.
            return True
        counted = self.series[Analyte.SODIUM].times
        if m.analyte is Analyte.SODIUM and counted and m.collected_at.timestamp() - \
                counted[-1] > self.policy.episodes.gap_hours * HOUR:
            return True  # it ends a stay: the standing alerts of that stay close first
        if m.analyte is not Analyte.SODIUM or len(self.raw.times) < 2:
            return False
        a, times, values = self.policy.artefacts, self.raw.times, self.raw.values
        return (abs(values[-1] - values[-2]) >= a.jump_mmol_l
                and m.collected_at.timestamp() - times[-1] <= a.confirm_hours * 3600
                and abs(m.value_mmol_l - values[-2]) <= a.return_mmol_l)

    def _raw_measurement(self, key: str) -> Measurement | None:
        return next((m for m in self.raw.measurements if m.result_key == key), None)

    def _insert(self, m: Measurement) -> dict[str, datetime]:
        """Count a measurement; returns the sodium samples whose artefact status or
        glucose correction this changed (key -> collection time)."""
        if m.analyte is Analyte.GLUCOSE:
            self.series[m.analyte].insert(m)
            return self._recorrect(m.collected_at)
        if m.analyte is not Analyte.SODIUM:
            self.series[m.analyte].insert(m)
            return {}
        self.raw.insert(m)
        t = m.collected_at.timestamp()
        i = bisect_left(self.raw.times, t)
        while self.raw.measurements[i].result_key != m.result_key:
            i += 1
        return self._restatus(i - 1, i + 1, m.result_key)

    def _remove(self, key: str, analyte: Analyte, at: datetime) -> dict[str, datetime]:
        if analyte is Analyte.GLUCOSE:
            self.series[analyte].remove(key, at)
            return self._recorrect(at)
        if analyte is not Analyte.SODIUM:
            self.series[analyte].remove(key, at)
            return {}
        i = bisect_left(self.raw.times, at.timestamp())
        self.raw.remove(key, at)
        if key in self.suspects:
            self.suspects.discard(key)
        else:
            self.series[Analyte.SODIUM].remove(key, at)
        return self._restatus(i - 1, i, None)

    def _restatus(self, lo: int, hi: int, new: str | None) -> dict[str, datetime]:
        """Recompute the artefact status of raw samples lo..hi (a change at one sample
        changes its neighbours'); move them in or out of the counted series."""
        flipped: dict[str, datetime] = {}
        for j in range(max(lo, 0), min(hi, len(self.raw.times) - 1) + 1):
            m = self.raw.measurements[j]
            spike = self._spike(j)
            if m.result_key == new:
                if spike:
                    self.suspects.add(m.result_key)
                else:
                    self.series[Analyte.SODIUM].insert(self._corrected(m))
                continue
            if spike and m.result_key not in self.suspects:
                self.suspects.add(m.result_key)
                self.series[Analyte.SODIUM].remove(m.result_key, m.collected_at)
                flipped[m.result_key] = m.collected_at
            elif not spike and m.result_key in self.suspects:
                self.suspects.discard(m.result_key)
                self.series[Analyte.SODIUM].insert(self._corrected(m))
                flipped[m.result_key] = m.collected_at
        return flipped

    def _corrected(self, m: Measurement) -> Measurement:
        """The sodium as the rules see it (artefacts.glucose_corrected)."""
        glucose = self.series[Analyte.GLUCOSE]
        if not glucose.times:
            return m
        value = glucose_corrected(m.value_mmol_l, m.collected_at.timestamp(), glucose.times,
                                  glucose.values, self.policy)
        if value is None:
            return m
        return Measurement(m.result_key, m.analyte, value, m.collected_at, m.method,
                           measured_mmol_l=m.value_mmol_l)

    def _recorrect(self, at: datetime) -> dict[str, datetime]:
        """A glucose came or went: re-correct the counted sodium it may pair with."""
        reach = self.policy.glucose.pair_minutes * 60
        t = at.timestamp()
        raw, counted = self.raw, self.series[Analyte.SODIUM]
        lo, hi = bisect_left(raw.times, t - reach), bisect_right(raw.times, t + reach)
        flipped: dict[str, datetime] = {}
        for j in range(lo, hi):
            m = raw.measurements[j]
            if m.result_key in self.suspects:
                continue
            now = self._corrected(m)
            k = bisect_left(counted.times, m.collected_at.timestamp())
            while counted.measurements[k].result_key != m.result_key:
                k += 1
            if counted.values[k] != now.value_mmol_l:
                counted.remove(m.result_key, m.collected_at)
                counted.insert(now)
                flipped[m.result_key] = m.collected_at
        return flipped

    def _spike(self, j: int) -> bool:
        return is_spike(self.raw.times, self.raw.values, j, self.policy)

    def _appends(self, before: Effective | None, after: Effective | None) -> bool:
        if before is not None or after is None or not after.counted:
            return False
        t = after.collected_at.timestamp()
        return all(not c.times or t > c.times[-1] for c in (*self.series.values(), self.raw))

    def flush(self) -> list[Change]:
        """Evaluate the deferred appended results."""
        if self._pending_since is None or self._pending_ids is None:
            return []
        since, keys, new_id = self._pending_since, self._pending_keys, self._pending_ids
        self._pending_since, self._pending_keys, self._pending_ids = None, set(), None
        return self.reevaluate(since, new_id, extra_keys=keys, appended=True)

    def set_diagnosis(self, code: str, active: bool, new_id: Callable[[str], str],
                      source: str | None = None) -> list[Change]:
        """A risk factor added (active) or removed outright, as a clinician or a CSV feed
        states it."""
        origin = RiskSource(source) if source else RiskSource.CLINICIAN
        return self.state_diagnosis(
            Diagnosis(code, origin, voided=None if active else "removed"), new_id)

    def state_diagnosis(self, d: Diagnosis, new_id: Callable[[str], str]) -> list[Change]:
        """A source's new statement of one diagnosis replaces its earlier one."""
        code = normalise_code(d.code) if d.code.lower() not in FACTOR_NAMES else d.code.lower()
        stated = dict(self.diagnoses)
        stated[(code, d.source.value)] = replace(d, code=code)
        return self.set_diagnoses(stated.values(), new_id)

    def set_diagnoses(self, diagnoses: Iterable[Diagnosis],
                      new_id: Callable[[str], str]) -> list[Change]:
        """The patient's diagnoses as stored now. When the spans of their risk factors
        change, every result is re-evaluated; an alert that rested on a span that shrank is
        withdrawn with the reason the sender gave (refuted, resolved on a date, removed)."""
        now = {(d.code, d.source.value): d for d in diagnoses}
        before = held_factors(self.diagnoses.values(), self.policy)
        after = held_factors(now.values(), self.policy)
        if before == after:
            self.diagnoses = now
            return []
        changes = self.flush()
        self.diagnoses = now
        shrunk = sorted({h.code for h in before if not _still_covered(h, after)})
        reason = None
        if shrunk:
            said = "; ".join(_why_not_held(code, now.values()) for code in shrunk)
            reason = f"{said}: the rise is within the limit without it"
        return changes + self.reevaluate(None, new_id, withdraw_reason=reason)

    def mark_acute(self, onset: datetime, new_id: Callable[[str], str]) -> list[Change]:
        """A clinician documented acute hyponatremia with this onset: the results whose
        windows may start within `acute_hours` of it are re-evaluated (none earlier can)."""
        if onset in self.acute_marks:
            return []
        changes = self.flush()
        self.acute_marks.append(onset)
        self.acute_marks.sort()
        return changes + self.reevaluate(
            onset - timedelta(hours=self.policy.episodes.acute_hours), new_id)

    def add_medication(self, med: Medication, new_id: Callable[[str], str]) -> list[Change]:
        """A version of a medication order or administration, its class given
        (engine.treatment.classify): when a rule reads its class, the sodium results from
        the one it follows on are re-evaluated."""
        before = self.medications.get(med.key)
        if before == med:
            return []
        noted = self._relowering_by(med)
        ruled = [m for m in (before, med) if m is not None and m.med_class in RULED_CLASSES]
        if med.med_class in RULED_CLASSES:
            self.medications[med.key] = med
        elif before is not None:
            del self.medications[med.key]
        if not ruled:
            return noted
        changes = self.flush()
        return noted + changes + self.reevaluate(
            min(self._sodium_before(m.at) for m in ruled), new_id)

    def _relowering_by(self, med: Medication) -> list[Change]:
        """Desmopressin or a hypotonic fluid ordered or given after an overcorrection, within
        `rates.relowering_hours` of its latest finding: the open overcorrection alerts note
        that re-lowering is in progress (once per medication)."""
        if med.med_class not in RELOWERING_CLASSES or not med.counts:
            return []
        given = "given" if med.kind == "administration" else "ordered"
        note = (f"re-lowering in progress: {med.text or med.med_class} {given} at "
                f"{clock(med.at)}")
        reach = self.policy.rates.relowering_hours * HOUR
        out: list[Change] = []
        for a in self.alerts:
            if a.state != ACTIVE or a.rule not in (OVERCORRECTION_24H, OVERCORRECTION_48H):
                continue
            at = med.at.timestamp()
            if at < a.first.collected_at.timestamp() or \
                    at - a.latest.collected_at.timestamp() > reach or note in a.notes.values():
                continue
            a.notes[f"medication:{med.key}"] = note
            out.append(Change("updated", a, note))
        return out

    def record_severe_symptoms(self, at: datetime, new_id: Callable[[str], str],
                               cause: str | None = None) -> list[Change]:
        """A clinician recorded severe symptoms of hyponatremia at `at`: the orders of
        hypertonic saline within `treatment.symptoms_hours` of it are indicated."""
        if at in self.severe_symptoms:
            return []
        changes = self.flush()
        self.severe_symptoms.append(at)
        self.severe_symptoms.sort()
        t = self.policy.treatment
        reach = timedelta(hours=t.symptoms_hours + t.sodium_lookback_hours)
        return changes + self.reevaluate(at - reach, new_id, cause=cause)

    def _sodium_before(self, at: datetime) -> datetime:
        """When the latest counted sodium at or before `at` was collected (`at` if none)."""
        times = self.series[Analyte.SODIUM].times
        i = bisect_right(times, at.timestamp()) - 1
        return datetime.fromtimestamp(times[i], UTC) if i >= 0 else at

    def discharge(self, at: datetime | None, new_id: Callable[[str], str]) -> list[Change]:
        """The patient was discharged at `at` (None: after every sodium known now): the
        standing alerts of the stay close (engine.stays)."""
        changes = self.flush()
        times = self.series[Analyte.SODIUM].times
        if at is None:
            if not times:
                return changes
            at = datetime.fromtimestamp(times[-1], UTC)
        if self.stay_ended_at is not None and at <= self.stay_ended_at:
            return changes
        self.stay_ended_at = at
        end = StayEnd(at.timestamp(), discharged(at))
        return changes + self._close(end) + self._end_spell(SpellEnd(end.at, end.reason))

    def _end_stay(self, findings: list[Finding]) -> tuple[list[Finding], list[Change]]:
        """Close the open standing alerts of a stay that ended, and leave out the standing
        findings collected in one: a stay that is over raises nothing more."""
        mine = [f.collected_at.timestamp() for f in findings if f.rule in STANDING_RULES]
        mine += [a.first.collected_at.timestamp() for a in self._standing()]
        if not mine:
            return findings, []
        before = self.sodium_before.timestamp() if self.sodium_before else None
        end = latest_gap(self.series[Analyte.SODIUM].times, min(mine), self.policy, before)
        changes: list[Change] = []
        if end is not None and (self.stay_ended_at is None or
                                end.at > self.stay_ended_at.timestamp()):
            self.stay_ended_at = datetime.fromtimestamp(end.at, UTC)
            changes = self._close(end)
        elif self.stay_ended_at is not None:
            end = StayEnd(self.stay_ended_at.timestamp(), ended(self.stay_ended_at))
            changes = self._close(end)
        if end is None:
            return findings, []
        return [f for f in findings if f.rule not in STANDING_RULES
                or f.collected_at.timestamp() > end.at], changes

    def _standing(self) -> list[AlertRecord]:
        return [a for a in self.alerts if a.state == ACTIVE and a.rule in STANDING_RULES]

    def _close(self, end: StayEnd) -> list[Change]:
        changes: list[Change] = []
        for a in self._standing():
            if a.first.collected_at.timestamp() <= end.at:
                a.state, a.withdrawn_reason = RESOLVED, end.reason
                changes.append(Change("resolved", a))
        return changes

    def reevaluate(self, since: datetime | None, new_id: Callable[[str], str],
                   extra_keys: set[str] | None = None, appended: bool = False,
                   withdraw_reason: str | None = None, cause: str | None = None
                   ) -> list[Change]:
        """Re-evaluate the results collected from `since` on (all when None). `appended`:
        those from `since` on are new, in collection order (see rules.projection_expired).
        `cause`: what a person did that led here, in words ("dr.ali marked the episode
        acute: ..."); it names every withdrawal it brings, over the engine's own guess."""
        known_until = since.timestamp() if appended and since is not None else math.inf
        if self.horizon is not None and (since is None or since < self.horizon):
            since = self.horizon
        sodium = self.series[Analyte.SODIUM]
        findings = evaluate_columns(sodium, self.series[Analyte.POTASSIUM],
                                    self.diagnoses.values(), self.acute_marks, self.policy,
                                    since, known_until)
        first = 0 if since is None else bisect_left(sodium.times, since.timestamp())
        if self.medications:
            findings += hypertonic_findings(sodium.measurements, sodium.times, sodium.values,
                                            first, self.medications.values(),
                                            self.severe_symptoms, self.policy)
        findings, closed = self._end_stay(findings)
        keys = {m.result_key for m in sodium.measurements[first:]} | (extra_keys or set())
        fluid, closed_fluid = self._fluids(since, keys)
        findings += fluid
        closed += closed_fluid
        changes = closed + reconcile(self.alerts, findings, keys, new_id,
                                     self.policy.rates.relowering_hours,
                                     cause or withdraw_reason)
        self.alerts.extend(c.alert for c in changes if c.kind == "raised")
        for change in changes:
            if change.kind == "withdrawn" and change.alert.rule == PROJECTED_OVERCORRECTION:
                reason = self._not_borne_out(change.alert)
                change.alert.withdrawn_reason = reason or change.alert.withdrawn_reason
        for alert in self.alerts:  # raised by appends, refuted by what is known now
            if alert.state == ACTIVE and alert.rule == PROJECTED_OVERCORRECTION:
                reason = self._not_borne_out(alert)
                if reason is not None:
                    alert.state, alert.withdrawn_reason = WITHDRAWN, reason
                    changes.append(Change("withdrawn", alert))
        for change in changes:
            if change.kind == "withdrawn" and change.alert.rule in RATE_RULES and not cause:
                reason = self._marked_acute(change.alert)
                change.alert.withdrawn_reason = reason or change.alert.withdrawn_reason
            if change.kind == "withdrawn" and change.alert.rule == AQUARESIS_WARNING and \
                    not cause and not withdraw_reason and self._still_counted(change.alert):
                change.alert.withdrawn_reason = (
                    f"{AQUARESIS_WARNING} no longer holds: a corrected or removed result "
                    "leaves its urine readings outside an open hyponatremia episode or "
                    "outside a run of water diuresis")
        return changes

    def _still_counted(self, alert: AlertRecord) -> bool:
        """Whether every result the alert rested on still counts (so another result took
        the evidence away: the sodium that opened the episode, an output between)."""
        return all((r := self.results.get(k)) is not None and r.effective is not None
                   and r.effective.counted for k in alert.evidence)

    def _fluids(self, since: datetime | None, keys: set[str]
                ) -> tuple[list[Finding], list[Change]]:
        """AQUARESIS_WARNING over the urine results (engine.fluids): its findings from
        `since` on (their keys join `keys`, so evidence they no longer give goes), and the
        open alert resolved when a later reading or the episode's end shows the diuresis
        over."""
        cut = None if since is None else since.timestamp()
        for analyte in FLUID_ANALYTES:
            column = self.series[analyte]
            first = 0 if cut is None else bisect_left(column.times, cut)
            keys.update(m.result_key for m in column.measurements[first:])
        sodium = self.series[Analyte.SODIUM]
        findings, end = aquaresis(self.series[Analyte.URINE_OUTPUT].measurements,
                                  self.series[Analyte.URINE_OSMOLALITY].measurements,
                                  sodium.times, sodium.values, self.policy, since)
        if self.stay_ended_at is not None:  # a stay that is over raises nothing more
            over = self.stay_ended_at.timestamp()
            findings = [f for f in findings if f.collected_at.timestamp() > over]
            if end is None or end.at < over:
                end = SpellEnd(over, ended(self.stay_ended_at))
        return findings, self._end_spell(end)

    def _end_spell(self, end: SpellEnd | None) -> list[Change]:
        changes: list[Change] = []
        for a in self.alerts:
            if a.state == ACTIVE and a.rule == AQUARESIS_WARNING and end is not None and \
                    a.latest.collected_at.timestamp() < end.at:
                a.state, a.withdrawn_reason = RESOLVED, f"water diuresis over: {end.reason}"
                changes.append(Change("resolved", a))
        return changes

    def _marked_acute(self, alert: AlertRecord) -> str | None:
        """Why a rate alert went, when an acute mark spares every rise it rested on (the
        nurse who was paged should read that, not that a result was corrected)."""
        onsets = sorted(m.timestamp() for m in self.acute_marks)
        hours = self.policy.episodes.acute_hours
        sparing = [sparing_onset(f.extra["from_at"], onsets, hours) if "from_at" in f.extra
                   else None for f in alert.evidence.values()]
        if not onsets or not sparing or None in sparing:
            return None
        onset = datetime.fromtimestamp(min(o for o in sparing if o is not None), UTC)
        return (f"hyponatremia marked acute (onset {onset:%Y-%m-%d %H:%M} UTC): no "
                f"correction limit applies to a rise from a value collected within "
                f"{_n(hours)} h of the onset")

    def _not_borne_out(self, alert: AlertRecord) -> str | None:
        """Why a projection no longer holds, once its 24 h have passed; None before."""
        f = alert.latest
        nadir_at, nadir = f.extra.get("from_at"), f.extra.get("low_mmol_l")
        sodium = self.series[Analyte.SODIUM]
        if nadir_at is None or nadir is None or f.limit_mmol_l is None or \
                not projection_expired(nadir_at, sodium.times):
            return None
        lo = bisect_right(sodium.times, nadir_at)
        hi = bisect_right(sodium.times, nadir_at + 24 * 3600)
        if any(v - nadir > f.limit_mmol_l for v in sodium.values[lo:hi]):
            return (f"{EXPIRED}: the 24 h after the low value of {_n(nadir)} mmol/L have "
                    f"passed and sodium crossed the limit (see the overcorrection alert)")
        return (f"{NOT_BORNE_OUT}: in the 24 h after the low value of {_n(nadir)} mmol/L "
                f"sodium stayed within the {_n(f.limit_mmol_l)} mmol/L limit")

    def take_refused(self) -> list[Refusal]:
        """The refusals noted since the last call, for the caller to report."""
        found, self.refused = self.refused, []
        return found

    def restore(self, key: str, analyte: Analyte, method: Method, versions: list[Version],
                test: bool, inferred: bool = False) -> None:
        """Put back a result read from storage (no evaluation: its findings are stored)."""
        res = self.results[key] = _Result(analyte, method, sorted(
            versions, key=lambda v: v.arrival_seq), resolve(versions, inferred), test,
            inferred)
        eff = res.effective
        if analyte in _RULED and eff is not None and eff.counted and \
                eff.value_mmol_l is not None:
            self._insert(_measurement(key, analyte, method, eff))

    def described_diagnoses(self) -> dict[str, str | None]:
        """The codes that give a risk factor at some time, with where each came from, as
        messages name them."""
        held = {h.code for h in held_factors(self.diagnoses.values(), self.policy)}
        return {code: source for (code, source) in sorted(self.diagnoses) if code in held}

    def standing(self) -> Standing:
        """Where the patient stands at the latest counted sodium, by the rules' own reading
        (risk tier, 24 h change and rise): what the census shows."""
        return latest_standing(context(
            self.series[Analyte.SODIUM], self.series[Analyte.POTASSIUM],
            self.diagnoses.values(), self.acute_marks, self.policy))

    def is_test(self, alert: AlertRecord) -> bool:
        return all(self.results[k].test for k in alert.evidence if k in self.results)


def _still_covered(h: Held, after: tuple[Held, ...]) -> bool:
    """Whether the factor `h` gave is still given over all of h's span."""
    spans = sorted((a.start, a.end) for a in after if a.factor == h.factor)
    reach = h.start
    for start, end in spans:
        if start > reach:
            break
        reach = max(reach, end)
    return reach >= h.end


def _why_not_held(code: str, stated: Iterable[Diagnosis]) -> str:
    """The sender's words for why a diagnosis no longer holds where it did."""
    words = display_code(code) if code.lower() not in FACTOR_NAMES else code.replace("-", " ")
    said = [d for d in stated if d.code == code]
    for d in said:
        if d.voided:
            return f"diagnosis {words} {d.voided}"
    for d in said:
        if d.abated is not None:
            return f"diagnosis {words} resolved on {d.abated.date().isoformat()}"
    return f"diagnosis {words} removed or resolved"


def _same(a: Effective | None, b: Effective | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.counted, a.value_mmol_l, a.collected_at, a.started_at) == (
        b.counted, b.value_mmol_l, b.collected_at, b.started_at)


def _measurement(key: str, analyte: Analyte, method: Method, eff: Effective) -> Measurement:
    """A counted result's measurement (a urine output with its interval's start)."""
    assert eff.value_mmol_l is not None
    return Measurement(key, analyte, eff.value_mmol_l, eff.collected_at, method,
                       started_at=eff.started_at)


def absorb(survivor: PatientLedger, old: PatientLedger, reason: str,
           new_id: Callable[[str], str]) -> list[Change]:
    """ADT^A40: the old identifier's results and alerts move to the survivor."""
    changes: list[Change] = survivor.flush() + old.flush()
    for alert in old.alerts:
        if alert.state == "active" and any(
            a.state == "active" and a.rule == alert.rule for a in survivor.alerts
        ):
            alert.state, alert.withdrawn_reason = "withdrawn", reason
            changes.append(Change("withdrawn", alert))
        survivor.alerts.append(alert)
    for key, res in old.results.items():
        mine = survivor.results.setdefault(key, _Result(res.analyte, res.method))
        mine.versions.extend(v for v in res.versions if v not in mine.versions)
        mine.versions.sort(key=lambda v: v.arrival_seq)
        mine.test = mine.test or res.test
        mine.inferred = mine.inferred or res.inferred
        mine.effective = resolve(mine.versions, mine.inferred)
    survivor.diagnoses.update(old.diagnoses)
    survivor.acute_marks.extend(old.acute_marks)
    survivor.medications.update(old.medications)
    survivor.severe_symptoms = sorted({*survivor.severe_symptoms, *old.severe_symptoms})
    survivor.stay_ended_at = max((t for t in (survivor.stay_ended_at, old.stay_ended_at)
                                  if t is not None), default=None)
    counted = [
        _measurement(key, res.analyte, res.method, eff)
        for key, res in survivor.results.items()
        if res.analyte in _RULED and (eff := res.effective) is not None and eff.counted
        and eff.value_mmol_l is not None
    ]
    survivor.series = {a: Columns() for a in _RULED}
    survivor.raw, survivor.suspects = Columns(), set()
    for m in sorted(counted, key=lambda x: (x.collected_at, x.result_key)):
        survivor._insert(m)
    old.results, old.alerts = {}, []
    old.series = {a: Columns() for a in _RULED}
    old.raw, old.suspects = Columns(), set()
    return changes + survivor.reevaluate(None, new_id)
