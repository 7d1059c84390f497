"""How this package's entry points (``python -m pipeline``, the demo) make Luigi's scheduler and worker.

Two costs of Luigi's local scheduler grow with the square of the graph (2,000+ tasks for the
full MSD), measured in bench/orchestration.py:

* it prunes its whole task table on every ``get_work`` call (built for a long-lived luigid);
  a local run lives as long as its one worker, so that buys nothing;
* every ``get_work`` reply counts the worker's pending tasks, walking each one's upstream to
  leave out those blocked by a disabled task. While no task is disabled there is nothing to
  leave out, so the count is a plain count.

luigid (remote) is unchanged.

``LocalScheduler.count_pending`` reads Luigi's private scheduler state (``self._state``), a
re-implementation kept because it is what brings the fresh full-graph run under a quarter of
plain Luigi's time (BENCHMARKS.md, "Orchestration overhead"); luigi is pinned (setup.py), and
``tests/test_orchestration.py::test_the_local_schedulers_pending_count_is_luigis_own`` compares
its answers with Luigi's own walk, so an upgrade that changes either fails there, loudly.
"""

from __future__ import annotations

from luigi import rpc, scheduler, worker
from luigi.task_status import DISABLED, FAILED, PENDING, RUNNING


class LocalScheduler(scheduler.Scheduler):
    def count_pending(self, worker):
        if next(iter(self._state.get_active_tasks_by_status(DISABLED)), None) is not None:
            return super().count_pending(worker)  # some task is disabled: Luigi's walk decides
        worker_id, worker_state = worker, self._state.get_worker(worker)
        running = []
        for task in worker_state.get_tasks(self._state, RUNNING):
            other = self._state.get_worker(task.worker_running)
            if other is not None:
                running.append({"task_id": task.id, "worker": str(other), **other.info})
        pending = list(worker_state.get_tasks(self._state, PENDING, FAILED))
        return {
            "n_pending_tasks": len(pending),
            "n_unique_pending": sum(len(task.workers) == 1 for task in pending),
            "n_pending_last_scheduled": sum(task.workers.peek(last=True) == worker_id for task in pending),
            "worker_state": worker_state.state,
            "running_tasks": running,
        }


class WorkerSchedulerFactory:
    """What ``luigi.build(worker_scheduler_factory=…)`` expects, with a non-pruning local scheduler."""

    def create_local_scheduler(self):
        return LocalScheduler(prune_on_get_work=False, record_task_history=False)

    def create_remote_scheduler(self, url):
        return rpc.RemoteScheduler(url)

    def create_worker(self, scheduler, worker_processes, assistant=False):
        return worker.Worker(scheduler=scheduler, worker_processes=worker_processes, assistant=assistant)
