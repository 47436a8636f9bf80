"""What a worker's requests do, as plain data in and out: the next HIT, the HIT page, submitting, the survey.

The web handlers (study.web.worker, study.web.prolific) parse the request, call one of
these and render what comes back; the SQL lives here and in the allocator
(study.allocation), which holds the rules about who may answer what. Refusals are
:class:`~study.allocation.AllocationError` with the HTTP status that fits.

A HIT's content never changes once the study is served (study.db refuses a study.yaml or
hits.csv that would change it), so each process reads the HITs once; what may change
while the server runs (the platform's HIT id, caps) is read from the database when needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import bindparam, func, select

from study.allocation import AllocationError, Allocator, RowRef
from study.db import StudyDatabase
from study.models import RELEASED, SUBMITTED, Answer, Assignment, Hit, Study, Worker
from study.study_file import Question, StudySpec, check_passed, validate_answers
from study.transactions import in_transaction
from study.verification import UNCONFIRMED

LOCAL_SOURCE = "local"
CROWD_SOURCE = "mturk"

# What the HIT page of a local worker should do.
ANSWER, ELSEWHERE, ALREADY_SUBMITTED = "answer", "elsewhere", "submitted"


@dataclass(frozen=True)
class HitInfo:
    """A HIT's fixed content, as the pages show it."""

    id: int
    key: str
    position: int
    grouping: str
    class_name: str
    feature: int
    is_attention_check: bool
    check_id: str
    images: dict[str, str]


@dataclass(frozen=True)
class NextHit:
    """Where a local worker goes next: a HIT, the end-of-session survey, or done; ``answered``:
    how many HITs they have submitted so far."""

    hit_key: str | None
    answered: int = 0
    survey_due: bool = False


@dataclass(frozen=True)
class Submission:
    """The outcome of a submitted form.

    ``stored`` False with no ``errors``: the assignment was submitted before (a duplicate),
    and ``answers`` are the ones stored then. ``errors``: nothing stored, show the form again.
    """

    stored: bool
    answers: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    survey: bool = False


@dataclass(frozen=True)
class SurveyStep:
    """``ask`` False: nothing (more) to ask, go on; True: show the form (with ``errors``)."""

    ask: bool
    errors: dict[str, str] = field(default_factory=dict)


class WorkerFlow:
    def __init__(self, db: StudyDatabase, spec: StudySpec, allocator: Allocator):
        self.db = db
        self.spec = spec
        self.allocator = allocator
        with db.reads() as session:
            rows = session.scalars(select(Hit).where(Hit.study_id == db.study_id).order_by(Hit.position))
            self.hits = {
                h.key: HitInfo(h.id, h.key, h.position, h.grouping, h.class_name, h.feature, h.is_attention_check, h.check_id, dict(h.images))
                for h in rows
            }
        self._keys = {h.id: h.key for h in self.hits.values()}
        self._survey_fields = [f for q in spec.survey_questions() for f in q.answer_fields()]
        # Whether this worker has answered the survey: built once (the hot path runs it on
        # the DBAPI cursor, which compiles each statement object once).
        self._survey_answers = (
            select(func.count(Answer.id))
            .join(Assignment, Answer.assignment_id == Assignment.id)
            .join(Hit, Assignment.hit_id == Hit.id)
            .join(Worker, Assignment.worker_id == Worker.id)
            .where(Hit.study_id == db.study_id, Worker.source == bindparam("source"), Worker.external_id == bindparam("external_id"), Answer.question_id.in_(self._survey_fields))
        )
        # The local worker's requests run their statements on the DBAPI cursor where the
        # allocator claims in one statement (study.direct_sql); elsewhere on an ORM session.
        self._direct = db.engine.dialect.name in allocator.claim_dialects

    # ------------------------------------------------------------------ reading

    def hit(self, key: str) -> HitInfo | None:
        return self.hits.get(key)

    def platform_hit_id(self, hit: HitInfo) -> str | None:
        """The crowd platform's id of the HIT (set by ``publish`` while the server may be running)."""
        with self.db.lookups() as session:
            return session.scalar(select(Hit.platform_hit_id).where(Hit.id == hit.id))

    def platform_study_id(self) -> str | None:
        with self.db.lookups() as session:
            return session.scalar(select(Study.platform_study_id).where(Study.id == self.db.study_id))

    def answered(self, external_id: str, source: str = LOCAL_SOURCE) -> int:
        """How many HITs of this study the worker has submitted."""
        with self.db.lookups() as session:
            return self.allocator.answered_count_of(session, external_id, source)

    def attention_check(self, hit: HitInfo):
        """The attention check a HIT asks, or None."""
        if not (hit.is_attention_check and hit.check_id):
            return None
        try:
            return self.spec.attention_check(hit.check_id)
        except KeyError:
            return None

    def form_questions(self, crowd: bool, survey: bool) -> list[Question]:
        """A HIT's questions; the survey joins them in a crowd worker's first HIT (there is no
        session end on a crowd platform) and is asked on its own page at the end of a local session."""
        return self.spec.hit_questions() + (self.spec.survey_questions() if survey and crowd else [])

    def _survey_done(self, session, external_id: str | None, source: str = LOCAL_SOURCE) -> bool:
        """Whether this worker has answered the study's once-per-worker survey already."""
        if not self._survey_fields:
            return True
        if not external_id:
            return False
        return bool(session.scalar(self._survey_answers, {"source": source, "external_id": external_id}))

    # ------------------------------------------------------------------ local sessions

    def next_hit(self, external_id: str) -> NextHit:
        """Give the worker their current HIT or a new one (one write transaction)."""

        def allocate(session) -> NextHit:
            # Counted before a HIT row is locked (PostgreSQL): other workers wait on that lock.
            worker_id, answered = self.allocator.worker_and_answered(session, external_id)
            worker = RowRef(worker_id)
            assignment = self.allocator.next_assignment(session, worker)
            if assignment is not None:
                return NextHit(self._keys[assignment.hit_id], answered)
            return NextHit(None, answered, bool(answered) and not self._survey_done(session, external_id))

        return in_transaction(self.db, allocate, direct=self._direct)

    def local_page(self, hit: HitInfo, external_id: str) -> tuple[str, int]:
        """What the worker's HIT page shows (ANSWER, ELSEWHERE or ALREADY_SUBMITTED) and their count so far."""
        with self.db.lookups() as session:
            status, answered = self.allocator.page_state(session, hit, external_id)
        if status is None or status == RELEASED:
            # Not this worker's HIT (or its time ran out): /next sends them to the one they hold.
            return ELSEWHERE, 0
        if status == SUBMITTED:
            return ALREADY_SUBMITTED, 0
        return ANSWER, answered

    def submit_local(self, hit: HitInfo, external_id: str, form: Mapping[str, Any]) -> Submission:
        """Store a local worker's answers to ``hit``; a double submit stores one answer set."""
        # Checked before the transaction: the write lock is held only for the writes.
        answers, errors = validate_answers(self.form_questions(crowd=False, survey=False), form)
        passed = self._passed(hit, answers) if not errors else None

        def store(session) -> Submission:
            # On PostgreSQL the worker's last-seen time moves in the same statement, before
            # submit locks the HIT's row (the lock is held until commit).
            assignment, touched = self.allocator.local_assignment_touching(session, hit, external_id)
            if assignment is None:
                raise AllocationError(f"HIT {hit.key} is not assigned to you; take the next HIT from the entry page", status=403)
            if assignment.status == SUBMITTED:
                return Submission(False)
            if errors:
                return Submission(False, errors=errors)
            if not touched:
                self.allocator.touch(session, assignment.worker_id)
            stored = self.allocator.submit(session, assignment, answers, attention_passed=passed)
            return Submission(stored, answers)

        # A concurrent double submit that loses the race on the unique answer constraint is
        # retried by in_transaction and then finds the assignment submitted: a duplicate.
        return in_transaction(self.db, store, direct=self._direct)

    def survey(self, external_id: str, form: Mapping[str, Any] | None) -> SurveyStep:
        """The end-of-session survey, asked once after the worker's last HIT.

        Its answers are stored with the worker's last submitted assignment (answer rows keyed
        by the statements' ids), so exports and analyses find them like any other answer.
        ``form`` None: only ask whether to show it.
        """
        questions = self.spec.survey_questions()

        def ask(session) -> SurveyStep:
            worker = RowRef(self.allocator.worker_id(session, external_id))
            last = session.scalar(
                select(Assignment.id)
                .join(Hit)
                .where(Hit.study_id == self.db.study_id, Assignment.worker_id == worker.id, Assignment.status == SUBMITTED)
                .order_by(Assignment.submitted_at.desc(), Assignment.id.desc())
                .limit(1)
            )
            if not questions or last is None or self._survey_done(session, external_id):
                return SurveyStep(False)
            if form is None:
                return SurveyStep(True)
            answers, errors = validate_answers(questions, form)
            if errors:
                return SurveyStep(True, errors)
            now = self.allocator.clock()
            for question_id, value in answers.items():
                session.add(Answer(assignment_id=last, question_id=question_id, value=value, created_at=now))
            return SurveyStep(False)

        return in_transaction(self.db, ask)

    # ------------------------------------------------------------------ crowd pages

    def crowd_page(self, hit: HitInfo, assignment_id: str, worker_id: str) -> tuple[str | None, bool]:
        """Why the crowd worker cannot answer this HIT (or None), and whether the survey joins the form."""
        with self.db.reads() as session:
            row = session.get(Hit, hit.id)
            refusal = self.allocator.crowd_refusal(session, row, assignment_id, worker_id, source=CROWD_SOURCE)
            if refusal:
                return refusal, False
            return None, not self._survey_done(session, worker_id, CROWD_SOURCE)

    def submit_crowd(
        self,
        hit: HitInfo,
        assignment_id: str,
        worker_id: str,
        form: Mapping[str, Any],
        *,
        platform_hit_id: str | None = None,
        accepted_at=None,
        confirmed: bool = True,
    ) -> Submission:
        """Store a crowd worker's answers for the platform's assignment (capped per HIT).

        ``confirmed`` False stores them as unconfirmed (see study.verification).
        """

        def store(session) -> Submission:
            row = session.get(Hit, hit.id)
            if row.platform_hit_id and platform_hit_id and platform_hit_id != row.platform_hit_id:
                raise AllocationError("this page was opened for another HIT on the crowd platform", status=400)
            assignment = self.allocator.platform_assignment(session, row, assignment_id, worker_id, source=CROWD_SOURCE, accepted_at=accepted_at)
            if assignment.status == SUBMITTED:
                return Submission(False, {a.question_id: a.value for a in assignment.answers})
            survey = not self._survey_done(session, worker_id, CROWD_SOURCE)
            answers, errors = validate_answers(self.form_questions(crowd=True, survey=survey), form)
            if errors:
                return Submission(False, errors=errors, survey=survey)
            if not confirmed:
                assignment.platform_status = UNCONFIRMED
            stored = self.allocator.submit(session, assignment, answers, attention_passed=self._passed(hit, answers))
            return Submission(stored, answers, survey=survey)

        return in_transaction(self.db, store)

    def _passed(self, hit: HitInfo, answers: Mapping[str, str]) -> bool | None:
        check = self.attention_check(hit)
        return None if check is None else check_passed(check, answers)
