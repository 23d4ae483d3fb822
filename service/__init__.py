"""The HTTP service (FastAPI + uvicorn) over the :mod:`cleaner` library.

Its routes, settings and storage arrive with the service issue; see
``docs/architecture.md``. The library's :class:`cleaner.Cleaner` is what it wraps.
"""
