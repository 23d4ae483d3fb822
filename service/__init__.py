"""The HTTP service (FastAPI + uvicorn) over the :mod:`cleaner` library.

``create_app(settings)`` in :mod:`service.main` builds the app; ``cleaner serve``
runs it with uvicorn on the embedded SQLite store (:mod:`cleaner.store`).
See docs/service.md.
"""
