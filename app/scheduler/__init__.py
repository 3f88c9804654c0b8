"""The scheduler area: the one process that runs every area's periodic jobs (`flask scheduler run`), the lease
that keeps it to one (lease.py), the runner (runner.py), the collected jobs (jobs.py, declared in each area's
tasks.py with the types of spec.py) and the `scheduler` / `serve` commands (cli.py). See docs/scheduler.md."""
