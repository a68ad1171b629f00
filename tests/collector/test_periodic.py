"""`periodic.Pacer`: a worker thread's evaluation kept to a share of a core."""

from __future__ import annotations

import pytest

from collector.periodic import Budget, Pacer


class FakeCpu:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_sleeps_after_each_slice_so_the_thread_uses_its_duty() -> None:
    cpu = FakeCpu()
    pace = Pacer(0.25, 0.01, cpu=cpu, sleep=cpu.sleep)
    pace()  # starts the count
    cpu.now += 0.004
    pace()
    assert cpu.slept == []  # less than a slice of CPU: no pause yet
    cpu.now += 0.008
    pace()
    assert cpu.slept == [pytest.approx(0.036)]  # 12 ms worked at a quarter: 36 ms away
    cpu.now += 0.02
    pace()
    assert cpu.slept[1:] == [pytest.approx(0.06)]
    assert pace.slept_s == pytest.approx(0.096)


def test_a_full_duty_never_sleeps() -> None:
    cpu = FakeCpu()
    pace = Pacer(1.0, cpu=cpu, sleep=cpu.sleep)
    for _ in range(10):
        cpu.now += 1.0
        pace()
    assert cpu.slept == [] and pace.slept_s == 0


@pytest.mark.parametrize("duty", [0.0, -0.5, 1.5])
def test_duty_outside_zero_to_one_is_refused(duty: float) -> None:
    with pytest.raises(ValueError, match="duty"):
        Pacer(duty)


class Worker:
    """A paced worker thread on a simulated core: `run` slices of its work."""

    def __init__(self, sim: Sim, duty: float, budget: Budget | None) -> None:
        self.sim = sim
        self.cpu = 0.0
        self.ready = 0.0
        self.pace = Pacer(duty, 0.01, cpu=lambda: self.cpu, sleep=self.sleep, budget=budget)
        self.pace()  # starts the count

    def sleep(self, seconds: float) -> None:
        self.ready = self.sim.now + seconds


class Sim:
    """One core shared by paced workers: whichever is ready first runs a 10 ms slice, then paces."""

    def __init__(self, shared: float | None, workers: int = 2, duty: float = 0.25) -> None:
        """`shared`: the duty of a `Budget` all workers draw on (its clock the simulated one), None for none."""
        self.now = 0.0
        budget = Budget(shared, clock=lambda: self.now) if shared is not None else None
        self.workers = [Worker(self, duty, budget) for _ in range(workers)]

    def run(self, until: float) -> float:
        """Run until `until` simulated seconds; the share of the core all workers used."""
        while self.now < until:
            worker = min(self.workers, key=lambda w: w.ready)
            self.now = max(self.now, worker.ready)
            self.now += 0.01
            worker.cpu += 0.01
            worker.ready = self.now
            worker.pace()
        return sum(w.cpu for w in self.workers) / self.now


def test_a_shared_budget_keeps_all_its_pacers_together_to_its_duty() -> None:
    # alone, each worker keeps to its quarter, so two of them take half the core
    assert Sim(shared=None).run(10.0) == pytest.approx(0.5, abs=0.01)
    sim = Sim(shared=0.25)
    assert sim.run(10.0) == pytest.approx(0.25, abs=0.01)
    # and they take turns: neither waits for the other to finish
    shares = [w.cpu / sim.now for w in sim.workers]
    assert shares == [pytest.approx(0.125, abs=0.01)] * 2


def test_one_pacer_on_a_budget_pauses_as_one_alone() -> None:
    assert Sim(shared=0.25, workers=1).run(5.0) == pytest.approx(0.25, abs=0.01)
    budget = Budget(0.25, clock=lambda: 100.0)
    assert budget.charge(0.012) == pytest.approx(0.036)  # as `Pacer` alone: 12 ms at a quarter, 36 ms away


def test_a_budget_of_a_whole_core_never_pauses_and_a_wrong_duty_is_refused() -> None:
    assert Budget(1.0).charge(5.0) == 0
    for duty in (0.0, -1.0, 1.5):
        with pytest.raises(ValueError, match="duty"):
            Budget(duty)
