"""The environment a process job gets (build_env): exact, plus the few inherited variables
and its assigned GPUs."""

from __future__ import annotations

from abatch.executors.process import build_env


def test_assigned_gpus_win_over_the_jobs_own_values() -> None:
    env = build_env({"CUDA_VISIBLE_DEVICES": "0,1,2,3", "A": "b"}, ("2",))
    assert env["CUDA_VISIBLE_DEVICES"] == "2"
    assert env["NVIDIA_VISIBLE_DEVICES"] == "2"
    assert env["A"] == "b"


def test_no_gpus_leaves_the_jobs_values_alone() -> None:
    env = build_env({"CUDA_VISIBLE_DEVICES": "1"})
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert "NVIDIA_VISIBLE_DEVICES" not in env
    assert "PATH" in env
