"""`periodic.Pacer`: a worker thread's evaluation kept to a share of a core."""

from __future__ import annotations

import pytest

from collector.periodic import Pacer


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
