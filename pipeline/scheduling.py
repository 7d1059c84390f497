"""How this package's entry points (``python -m pipeline``, the demo) make Luigi's scheduler and worker.

Luigi's own local scheduler prunes its whole task table on every ``get_work`` call (it is
built for a long-lived luigid), which on the full graph (2,000+ tasks) is a quadratic cost:
seconds of bookkeeping per run. A local run lives as long as its one worker, so pruning once
per call buys nothing; luigid (remote) is unchanged.
"""

from __future__ import annotations

from luigi import rpc, scheduler, worker


class WorkerSchedulerFactory:
    """What ``luigi.build(worker_scheduler_factory=…)`` expects, with a non-pruning local scheduler."""

    def create_local_scheduler(self):
        return scheduler.Scheduler(prune_on_get_work=False, record_task_history=False)

    def create_remote_scheduler(self, url):
        return rpc.RemoteScheduler(url)

    def create_worker(self, scheduler, worker_processes, assistant=False):
        return worker.Worker(scheduler=scheduler, worker_processes=worker_processes, assistant=assistant)
