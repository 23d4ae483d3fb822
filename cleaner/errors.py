"""Errors that carry a user-facing :class:`~cleaner.types.Problem`."""

from __future__ import annotations

from .types import Problem


class InputError(Exception):
    """An input cannot be processed; ``problem`` says why in user terms.

    >>> str(InputError(Problem("empty", "file is empty")))
    'file is empty'
    """

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem
