from datetime import timedelta

import pytest
from sqlalchemy import func, select

from study.allocation import AllocationError, Allocator
from study.db import open_study_database
from study.models import ASSIGNED, RELEASED, SUBMITTED, Answer, Assignment

ANSWERS = {"description": "round soles of shoes", "ease": "3", "confidence": "4", "useful_view": "B"}


@pytest.fixture
def db(study_dir):
    database = open_study_database(study_dir)
    yield database
    database.dispose()


@pytest.fixture
def allocator(db, clock):
    return Allocator(db.study_id, timedelta(minutes=30), clock)


def take_and_submit(db, allocator, worker_id):
    with db.sessions.begin() as s:
        worker = allocator.worker(s, worker_id)
        a = allocator.next_assignment(s, worker)
        if a is None:
            return None
        allocator.submit(s, a, ANSWERS)
        return a.hit.key


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
        hit = a0.hit
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
        assert a.work_time_seconds == 95


def test_crowd_worker_cannot_answer_a_hit_twice(db, allocator):
    with db.sessions.begin() as s:
        from study.models import Hit

        hit = s.scalar(select(Hit).limit(1))
        a = allocator.platform_assignment(s, hit, "ASG1", "WORKER9")
        assert allocator.platform_assignment(s, hit, "ASG1", "WORKER9").id == a.id
        allocator.submit(s, a, ANSWERS)
        with pytest.raises(AllocationError, match="already answered"):
            allocator.platform_assignment(s, hit, "ASG2", "WORKER9")


def test_concurrent_workers_never_overfill_a_hit(study_dir, clock):
    """Eight threads, each its own connection, race for 24 slots; SQLite serializes them."""
    import threading

    errors = []

    def work(name):
        db = open_study_database(study_dir)
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
    db = open_study_database(study_dir)
    try:
        with db.sessions() as s:
            per_hit = dict(s.execute(select(Assignment.hit_id, func.count()).where(Assignment.status == SUBMITTED).group_by(Assignment.hit_id)).all())
            pairs = s.execute(select(Assignment.hit_id, Assignment.worker_id)).all()
    finally:
        db.dispose()
    assert sorted(per_hit.values()) == [2] * 12
    assert len(pairs) == len(set(pairs))
