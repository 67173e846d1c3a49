"""Gunicorn settings for running the API under gunicorn's supervisor instead of ``credit-points serve``.

``credit-points serve`` (uvicorn's own supervisor) is the default. Use this file where a platform expects
gunicorn::

    gunicorn -c serving/gunicorn.conf.py

Same behaviour: uvicorn workers with uvloop + httptools, one LightGBM thread per worker, graceful drain on
SIGTERM, the redacting log configuration, metrics summed across workers.
"""

import os
import tempfile

from credit_points.api.redaction import uvicorn_log_config

wsgi_app = "credit_points.api.app:app_factory()"
bind = f"{os.environ.get('CREDIT_POINTS_HOST', '0.0.0.0')}:{os.environ.get('CREDIT_POINTS_PORT', '8000')}"
workers = int(os.environ.get("CREDIT_POINTS_WORKERS", "2"))
worker_class = "uvicorn.workers.UvicornWorker"
graceful_timeout = int(float(os.environ.get("CREDIT_POINTS_GRACEFUL_TIMEOUT_S", "30")))
timeout = 60
keepalive = int(float(os.environ.get("CREDIT_POINTS_KEEP_ALIVE_S", "5")))
logconfig_dict = uvicorn_log_config(os.environ.get("CREDIT_POINTS_LOG_LEVEL", "INFO").upper())
raw_env = [f"OMP_NUM_THREADS={os.environ.get('CREDIT_POINTS_LIGHTGBM_THREADS', '1')}"]

if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="credit-points-metrics-")


def child_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn hook signature
    """Drop a dead worker's live gauges from the shared metrics directory."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
