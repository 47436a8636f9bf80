from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from study.allocation import AllocationError, Allocator
from study.db import open_study_database
from study.models import ASSIGNED, RELEASED, SUBMITTED, Answer, Assignment, Hit, Worker
from tests.study.conftest import ANSWERS


def take_and_submit(db, allocator, worker_id):
    with db.sessions.begin() as s:
        worker = allocator.worker(s, worker_id)
        a = allocator.next_assignment(s, worker)
        if a is None:
            return None
        allocator.submit(s, a, ANSWERS)
        return s.get(Hit, a.hit_id).key


def test_a_worker_never_gets_the_same_hit_twice(db, allocator):
    keys = []
    while (key := take_and_submit(db, allocator, "w1")) is not None:
        keys.append(key)
    assert len(keys) == 12 and len(set(keys)) == 12


def test_every_hit_gets_exactly_its_assignments(db, allocator):
    # 12 HITs x 2 assignments; three workers share them, nobody twice on a HIT.
    seen = {w: [] for w in ("a", "b", "c")}
    progress = True
    while progress:
        progress = False
        for w in seen:
            key = take_and_submit(db, allocator, w)
            if key is not None:
                seen[w].append(key)
                progress = True
    assert all(len(v) == len(set(v)) for v in seen.values())
    assert sum(len(v) for v in seen.values()) == 24
    with db.sessions() as s:
        per_hit = s.execute(select(Assignment.hit_id, func.count()).where(Assignment.status == SUBMITTED).group_by(Assignment.hit_id)).all()
    assert sorted(n for _, n in per_hit) == [2] * 12


def test_holding_a_hit_returns_it_and_open_slots_are_spread(db, allocator):
    with db.sessions.begin() as s:
        w1, w2 = allocator.worker(s, "w1"), allocator.worker(s, "w2")
        first = allocator.next_assignment(s, w1)
        assert allocator.next_assignment(s, w1).id == first.id  # reload: same HIT, not a new one
        other = allocator.next_assignment(s, w2)
        assert other.hit_id != first.hit_id  # the least-taken HIT goes first


def test_abandoned_assignment_is_released_after_the_timeout(db, allocator, clock):
    with db.sessions.begin() as s:
        workers = [allocator.worker(s, f"w{i}") for i in range(3)]
        # Two workers take the same HIT's two slots (force it by finishing the others' path).
        a0 = allocator.next_assignment(s, workers[0])
        hit = s.get(Hit, a0.hit_id)
        a1 = allocator._take(s, hit, workers[1], mode="local")
        assert allocator.taken_slots(s, hit) == 2
    clock.advance(minutes=29)
    with db.sessions.begin() as s:
        assert allocator.release_expired(s) == 0
    clock.advance(minutes=2)
    with db.sessions.begin() as s:
        assert allocator.release_expired(s) == 2
        assert {a.status for a in s.scalars(select(Assignment))} == {RELEASED}
        # The freed slots go to a new worker; the late worker may still finish while a slot is free.
        a2 = allocator._take(s, s.get(type(hit), hit.id), s.get(type(workers[2]), workers[2].id), mode="local")
        late = s.get(Assignment, a0.id)
        assert allocator.submit(s, late, ANSWERS) is True
        other_late = s.get(Assignment, a1.id)
        with pytest.raises(AllocationError, match="given to another worker"):
            allocator.submit(s, other_late, ANSWERS)
        assert a2.status == ASSIGNED


def test_a_worker_who_comes_back_after_release_can_take_it_again(db, allocator, clock):
    with db.sessions.begin() as s:
        w = allocator.worker(s, "w1")
        first = allocator.next_assignment(s, w)
        first_id, first_hit = first.id, first.hit_id
    clock.advance(hours=1)
    with db.sessions.begin() as s:
        w = allocator.worker(s, "w1")
        again = allocator.next_assignment(s, w)
        # Released, then picked up anew: the same row (one per HIT and worker), a fresh clock.
        assert (again.id, again.hit_id, again.status) == (first_id, first_hit, ASSIGNED)
        assert again.accepted_at == clock()


def test_submit_twice_stores_one_answer_set(db, allocator):
    with db.sessions.begin() as s:
        w = allocator.worker(s, "w1")
        a = allocator.next_assignment(s, w)
        assert allocator.submit(s, a, ANSWERS) is True
        assert allocator.submit(s, a, ANSWERS | {"ease": "1"}) is False
    with db.sessions() as s:
        assert s.scalar(select(func.count(Answer.id))) == 4
        assert s.scalar(select(Answer.value).where(Answer.question_id == "ease")) == "3"


def test_work_time_is_measured_from_accept_to_submit(db, allocator, clock):
    with db.sessions.begin() as s:
        w = allocator.worker(s, "w1")
        a = allocator.next_assignment(s, w)
        clock.advance(seconds=95)
        allocator.submit(s, a, ANSWERS)
        assert s.get(Assignment, a.id).work_time_seconds == 95


def test_crowd_worker_cannot_answer_a_hit_twice(db, allocator):
    with db.sessions.begin() as s:
        from study.models import Hit

        hit = s.scalar(select(Hit).limit(1))
        a = allocator.platform_assignment(s, hit, "ASG1", "WORKER9")
        assert allocator.platform_assignment(s, hit, "ASG1", "WORKER9").id == a.id
        allocator.submit(s, a, ANSWERS)
        with pytest.raises(AllocationError, match="already answered"):
            allocator.platform_assignment(s, hit, "ASG2", "WORKER9")


def test_concurrent_workers_never_overfill_a_hit(study_dir, clock, database_url):
    """Eight threads, each its own connection, race for 24 slots."""
    import threading

    errors = []

    def work(name):
        db = open_study_database(study_dir, database_url)
        allocator = Allocator(db.study_id, timedelta(minutes=30), clock)
        try:
            while take_and_submit(db, allocator, name) is not None:
                pass
        except Exception as exc:  # noqa: BLE001 - reported below with its thread
            errors.append((name, exc))
        finally:
            db.dispose()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    db = open_study_database(study_dir, database_url)
    try:
        with db.sessions() as s:
            per_hit = dict(s.execute(select(Assignment.hit_id, func.count()).where(Assignment.status == SUBMITTED).group_by(Assignment.hit_id)).all())
            pairs = s.execute(select(Assignment.hit_id, Assignment.worker_id)).all()
    finally:
        db.dispose()
    assert sorted(per_hit.values()) == [2] * 12
    assert len(pairs) == len(set(pairs))


def test_editing_assignments_per_hit_in_study_yaml_changes_what_the_allocator_uses(study_dir, clock):
    import re

    from analysis_core.artifacts.errors import BarlowError

    def set_assignments(n):
        path = study_dir / "study.yaml"
        path.write_text(re.sub(r"assignments_per_hit: \d+", f"assignments_per_hit: {n}", path.read_text()))

    set_assignments(3)
    db = open_study_database(study_dir)
    allocator = Allocator(db.study_id, timedelta(minutes=30), clock)
    try:
        done = {w: 0 for w in "abcd"}
        for w in done:
            while take_and_submit(db, allocator, w) is not None:
                done[w] += 1
        assert sum(done.values()) == 12 * 3
        assert done["d"] == 0
    finally:
        db.dispose()
    set_assignments(2)  # below the 3 answers each HIT now holds
    with pytest.raises(BarlowError, match="already has 3 submitted answers; set it to 3 or more"):
        open_study_database(study_dir)
    set_assignments(4)
    db = open_study_database(study_dir)
    allocator = Allocator(db.study_id, timedelta(minutes=30), clock)
    try:
        assert take_and_submit(db, allocator, "d") is not None
    finally:
        db.dispose()


def test_no_worker_is_sent_away_while_a_slot_they_may_take_is_open(analysis_dir, tmp_path, study_factory, clock, database_url):
    """Every worker must answer every HIT (8 assignments, 8 workers), all at once.

    A worker told "done" early (a lost race for a slot taken as "nothing left") ends with
    fewer than 12 answers and leaves a HIT short, which is what PostgreSQL did before.
    """
    import threading

    study = study_factory(analysis_dir, tmp_path / "every", top_n=1, top_m=2, assignments_per_hit=8)
    answered: dict[str, int] = {}
    errors = []
    start = threading.Barrier(8, timeout=60)

    def work(name):
        db = open_study_database(study, database_url)
        allocator = Allocator(db.study_id, timedelta(minutes=30), clock)
        n = 0
        try:
            start.wait()
            while take_and_submit(db, allocator, name) is not None:
                n += 1
        except Exception as exc:  # noqa: BLE001 - reported below with its thread
            errors.append((name, repr(exc)))
        finally:
            answered[name] = n
            db.dispose()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert answered == {f"w{i}": 12 for i in range(8)}


def test_one_worker_opening_pages_at_the_same_instant_gets_one_worker_row(study_dir, database_url, clock):
    import threading

    from study.models import Worker

    barrier = threading.Barrier(6, timeout=60)
    errors = []

    def open_page():
        db = open_study_database(study_dir, database_url)
        allocator = Allocator(db.study_id, timedelta(minutes=30), clock)
        try:
            barrier.wait()
            with db.sessions.begin() as s:
                allocator.worker(s, "same-person", source="mturk")
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        finally:
            db.dispose()

    threads = [threading.Thread(target=open_page) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    db = open_study_database(study_dir, database_url)
    try:
        with db.sessions() as s:
            assert s.scalar(select(func.count(Worker.id)).where(Worker.external_id == "same-person")) == 1
    finally:
        db.dispose()


def test_crowd_answers_are_capped_per_hit(db, allocator):
    from study.models import Hit

    with db.sessions.begin() as s:
        hit = s.scalar(select(Hit).order_by(Hit.position).limit(1))
        stored = []
        for i in range(5):
            a = allocator.platform_assignment(s, hit, f"ASG{i}", f"W{i}")
            try:
                stored.append(allocator.submit(s, a, ANSWERS))
            except AllocationError as exc:
                assert exc.status == 409 and "all the answers it needs" in str(exc)
                stored.append(False)
        assert stored == [True, True, False, False, False]
        assert allocator.crowd_refusal(s, hit, "ASG9", "W9") == "this HIT already has all the answers it needs; please return it"
        assert allocator.crowd_refusal(s, hit, "ASG0", "SOMEONE-ELSE") == "this assignment id belongs to another worker"


def test_a_slot_lost_between_search_and_lock_sends_the_worker_to_the_next_hit(study_dir, postgres_url, clock, monkeypatch):
    """A race made deterministic: the search saw a HIT with a free slot that others have taken since."""
    db = open_study_database(study_dir, postgres_url)
    allocator = Allocator(db.study_id, timedelta(minutes=30), clock)
    with db.sessions.begin() as other:
        full = other.scalars(select(Hit).order_by(Hit.position)).first()
        for i in range(full.max_assignments):
            other.add(Assignment(public_id=f"RACE{i}", hit_id=full.id, worker=Worker(source="local", external_id=f"racer{i}"), status=ASSIGNED, accepted_at=clock()))
        stale = SimpleNamespace(id=full.id, max_assignments=full.max_assignments)
    real_claim = Allocator._claim
    claimed = []

    def from_a_stale_search(self, session, claim, hit, worker):
        claimed.append(stale if not claimed else hit)
        return real_claim(self, session, claim, claimed[-1], worker)

    monkeypatch.setattr(Allocator, "_claim", from_a_stale_search)
    try:
        with db.sessions.begin() as s:
            a = allocator.next_assignment(s, allocator.worker(s, "w1"))
            assert a is not None and a.hit_id != full.id and len(claimed) == 2
        with db.sessions() as s:
            assert allocator.taken_slots(s, full) == full.max_assignments  # not over-assigned
    finally:
        db.dispose()


def test_status_counts_from_aggregates_equal_the_full_progress(db, allocator, clock):
    from study.progress import hit_progress, status_summary, summary, worker_progress

    for w in ("a", "b", "c"):
        for _ in range(5):
            take_and_submit(db, allocator, w)
    with db.sessions.begin() as s:
        allocator.next_assignment(s, allocator.worker(s, "holder"))  # one active assignment
        allocator.next_assignment(s, allocator.worker(s, "gone"))
    clock.advance(minutes=20)
    with db.sessions.begin() as s:
        allocator.next_assignment(s, allocator.worker(s, "late"))
    clock.advance(minutes=15)  # the first two are now past their timeout, not yet released
    with db.reads() as s:
        now = clock()
        full = summary(hit_progress(s, db.study_id, allocator.timeout, now), worker_progress(s, db.study_id, allocator.timeout, now))
        fast = status_summary(s, db.study_id, allocator.timeout, now)
    assert fast == full
    assert (fast.submitted, fast.active, fast.workers) == (15, 1, 6)


def test_the_worker_row_and_answered_count_come_in_one_statement_and_count_this_study_only(db, allocator, clock):
    from study.models import Study

    for _ in range(3):
        take_and_submit(db, allocator, "w1")
    with db.sessions.begin() as s:
        # An assignment of w1 held (not submitted) and one submitted in another study: neither counts.
        allocator.next_assignment(s, allocator.worker(s, "w1"))
        other = Study(name="other-study", title="other", settings={})
        s.add(other)
        s.flush()
        hit = Hit(study_id=other.id, key="x1", position=0, grouping="label", class_name="c", feature=0, images={}, max_assignments=1)
        s.add(hit)
        s.flush()
        other_allocator = Allocator(other.id, timedelta(minutes=30), clock)
        other_allocator.submit(s, other_allocator.next_assignment(s, allocator.worker(s, "w1")), ANSWERS)
    clock.advance(minutes=1)
    with db.sessions.begin() as s:
        worker_id, answered = allocator.worker_and_answered(s, "w1")
        assert answered == 3 == allocator.answered_count(s, worker_id)
        assert s.get(Worker, worker_id).last_seen_at.replace(tzinfo=None) == clock().replace(tzinfo=None)
        new_id, none_yet = allocator.worker_and_answered(s, "newcomer")
        assert none_yet == 0 and new_id != worker_id and s.get(Worker, new_id).external_id == "newcomer"


def test_a_local_assignment_read_as_columns_is_submitted_once_within_the_cap(db, allocator):
    from study.allocation import LocalAssignment

    with db.sessions.begin() as s:
        held = allocator.next_assignment(s, allocator.worker(s, "w1"))
        hit = SimpleNamespace(id=held.hit_id)
    with db.sessions.begin() as s:
        row = allocator.local_assignment(s, hit, "w1")
        assert isinstance(row, LocalAssignment) and row.id == held.id and row.status == ASSIGNED
        assert row.slots == ((2, 0, 1) if db.engine.dialect.name == "sqlite" else None)  # cap, submitted, taken
        assert allocator.local_assignment(s, hit, "nobody") is None
        assert allocator.submit(s, row, ANSWERS) is True and row.status == SUBMITTED and row.slots is None
        assert allocator.submit(s, row, ANSWERS) is False
    with db.sessions() as s:
        assert s.scalar(select(func.count(Answer.id)).where(Answer.assignment_id == held.id)) == len(ANSWERS)
        assert s.get(Assignment, held.id).status == SUBMITTED


def test_a_worker_holding_their_last_open_hit_gets_it_again_not_done(db, allocator):
    """The search for an open HIT skips the ones the worker holds; a reload at the end of
    their HITs still shows the one they hold, and a held HIT is never doubled by a claim."""
    for _ in range(11):
        assert take_and_submit(db, allocator, "w1") is not None
    with db.sessions.begin() as s:
        last = allocator.next_assignment(s, allocator.worker(s, "w1"))
    for _ in range(2):
        with db.sessions.begin() as s:
            again = allocator.next_assignment(s, allocator.worker(s, "w1"))
            assert again is not None and again.id == last.id
    with db.sessions() as s:
        held = s.scalar(select(func.count(Assignment.id)).join(Worker).where(Worker.external_id == "w1", Assignment.status == ASSIGNED))
    assert held == 1


def test_a_claim_is_refused_while_the_worker_holds_another_hit(db, allocator, clock):
    """The claim statement itself refuses a second HIT to a worker holding one within its time
    (two tabs at once); after the timeout the worker may take another."""
    with db.sessions.begin() as s:
        worker = allocator.worker(s, "w1")
        first = allocator.next_assignment(s, worker)
        claim = allocator._sql.claim[db.engine.dialect.name]
        other = s.scalar(select(Hit).where(Hit.study_id == db.study_id, Hit.id != first.hit_id).limit(1))
        assert allocator._claim(s, claim, other, worker) is None
    clock.advance(minutes=31)
    with db.sessions.begin() as s:
        assert allocator._claim(s, claim, other, allocator.worker(s, "w1")) is not None


def counted_slots(db) -> dict[int, tuple[int, int]]:
    """Per HIT: (the count the database keeps, the assignments that hold a slot, counted)."""
    with db.sessions() as s:
        real = dict(s.execute(select(Assignment.hit_id, func.count()).where(Assignment.status.in_((ASSIGNED, SUBMITTED))).group_by(Assignment.hit_id)).all())
        return {hit_id: (kept, real.get(hit_id, 0)) for hit_id, kept in s.execute(select(Hit.id, Hit.taken))}


def test_the_database_keeps_each_hits_count_of_taken_slots_through_every_change(db, allocator, clock):
    """hits.taken (kept by triggers) equals the assignments holding a slot after each kind of write."""

    def assert_kept():
        slots = counted_slots(db)
        assert all(kept == real for kept, real in slots.values()), slots
        return sum(real for _, real in slots.values())

    for i in range(5):
        take_and_submit(db, allocator, f"w{i}")
    with db.sessions.begin() as s:
        held = [allocator.next_assignment(s, allocator.worker(s, f"h{i}")) for i in range(3)]
    assert assert_kept() == 8
    clock.advance(minutes=31)
    with db.sessions.begin() as s:
        assert allocator.release_expired(s) == 3
    assert assert_kept() == 5
    with db.sessions.begin() as s:  # a released assignment picked up again, then submitted
        again = allocator.next_assignment(s, allocator.worker(s, "h0"))
        allocator.submit(s, again, ANSWERS)
    with db.sessions.begin() as s:  # a late submit of a released assignment whose slot is free
        late = s.get(Assignment, held[1].id)
        assert late.status == RELEASED and allocator.submit(s, late, ANSWERS)
    with db.sessions.begin() as s:  # a crowd platform's assignment
        crowd = allocator.platform_assignment(s, s.get(Hit, held[2].hit_id), "ASSIGN-1", "CROWD-1").id
    assert assert_kept() == 8
    empty = next(h for h, (_, real) in counted_slots(db).items() if real == 0)
    with db.sessions.begin() as s:  # written by hand, outside the allocator
        s.get(Assignment, held[1].id).hit_id = empty
        s.delete(s.get(Assignment, crowd))
    assert assert_kept() == 7


def test_the_search_on_the_kept_counts_finds_the_hit_counting_finds(db, allocator, clock):
    """SQLite's and PostgreSQL's search (on hits.taken) picks the HIT the counting search picks."""
    for i in range(9):
        take_and_submit(db, allocator, f"w{i}")
    with db.sessions.begin() as s:
        allocator.next_assignment(s, allocator.worker(s, "holder"))
        for name in ("w0", "w3", "w8", "holder", "newcomer"):
            worker_id = allocator.worker_id(s, name)
            for lost in ([], [1, 2, 3]):
                params = {"worker_id": worker_id, "lost": lost}
                found = s.execute(allocator._sql.open_hit_kept, params).first()
                assert found is not None and found == s.execute(allocator._sql.open_hit, params).first()


def submit_as_the_worker(db, allocator, hit_id, name):
    """A local worker's submit as the worker flow runs it (on PostgreSQL the read locks the HIT)."""
    with db.sessions.begin() as s:
        row, _ = allocator.local_assignment_touching(s, SimpleNamespace(id=hit_id), name)
        return allocator.submit(s, row, ANSWERS)


def test_a_local_submit_is_refused_when_the_hit_is_full_or_its_slot_went_elsewhere(db, allocator, clock):
    def crowd_on(hit_id, submit, tag):
        with db.sessions.begin() as s:
            hit = s.get(Hit, hit_id)
            for i in range(hit.max_assignments):
                crowd = allocator.platform_assignment(s, hit, f"{tag}{i}", f"CROWD{tag}{i}")
                if submit:
                    allocator.submit(s, crowd, ANSWERS)

    with db.sessions.begin() as s:
        first = allocator.next_assignment(s, allocator.worker(s, "w1"))
    # Crowd assignments beyond the cap, none submitted: more slots taken than the cap, but
    # none of them answered, so w1's answer still fits.
    crowd_on(first.hit_id, submit=False, tag="held")
    assert submit_as_the_worker(db, allocator, first.hit_id, "w1") is True

    with db.sessions.begin() as s:
        second = allocator.next_assignment(s, allocator.worker(s, "w4"))
    # Crowd answers fill the HIT while w4 still holds a slot.
    crowd_on(second.hit_id, submit=True, tag="done")
    with pytest.raises(AllocationError, match="all the answers it needs"):
        submit_as_the_worker(db, allocator, second.hit_id, "w4")

    with db.sessions.begin() as s:
        late = allocator.next_assignment(s, allocator.worker(s, "w2"))
    clock.advance(minutes=31)
    with db.sessions.begin() as s:
        allocator.release_expired(s)
        late_hit = s.get(Hit, late.hit_id)
        for i in range(late_hit.max_assignments):
            allocator._take(s, late_hit, allocator.worker(s, f"newcomer{i}"), mode="local")
    with pytest.raises(AllocationError, match="given to another worker"):
        submit_as_the_worker(db, allocator, late.hit_id, "w2")

    with db.sessions.begin() as s:
        fine = allocator.next_assignment(s, allocator.worker(s, "w3"))
    if db.engine.dialect.name == "postgresql":
        # The worker's read holds the HIT's row lock until the transaction ends.
        with db.sessions.begin() as s:
            allocator.local_assignment_touching(s, SimpleNamespace(id=fine.hit_id), "w3")
            with db.engine.connect() as other, pytest.raises(OperationalError, match="could not obtain lock"):
                other.execute(select(Hit.id).where(Hit.id == fine.hit_id).with_for_update(nowait=True))
    assert submit_as_the_worker(db, allocator, fine.hit_id, "w3") is True
    assert submit_as_the_worker(db, allocator, fine.hit_id, "w3") is False


def test_reading_a_local_assignment_may_move_the_last_seen_time_with_it(db, allocator, clock):
    with db.sessions.begin() as s:
        held = allocator.next_assignment(s, allocator.worker(s, "w1"))
    clock.advance(minutes=5)
    with db.sessions.begin() as s:
        row, touched = allocator.local_assignment_touching(s, SimpleNamespace(id=held.hit_id), "w1")
        assert row.id == held.id and touched == (db.engine.dialect.name == "postgresql")
        assert allocator.local_assignment_touching(s, SimpleNamespace(id=held.hit_id), "nobody")[0] is None
    with db.sessions() as s:
        seen = s.scalar(select(Worker.last_seen_at).where(Worker.external_id == "w1")).replace(tzinfo=None)
    assert seen == (clock() if touched else clock() - timedelta(minutes=5)).replace(tzinfo=None)
