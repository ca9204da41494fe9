"""The CLI maps error types to exit codes in one table; the error classes carry none."""

from __future__ import annotations

import pytest

from confpy import errors
from confpy.cli import exit_code_for


@pytest.mark.parametrize(("error", "code"), [
    (errors.ConfpyError("x"), 1),
    (errors.ConfigError("x"), 2),
    (errors.TemplateSyntaxError("x"), 2),
    (errors.RenderError("x"), 1),
    (errors.MissingKeyError("/k"), 1),
    (errors.StoreUnavailableError("x"), 3),
    (errors.KeysMissingError(["/k"]), 3),
    (errors.ConflictError("x"), 3),
    (errors.StoreAccessError("x"), 2),
    (errors.ValueEncodingError("/k"), 1),
    (errors.InstallError("x", dest="/d"), 1),
    (errors.CommandError("x", command="c"), 1),
])
def test_each_error_type_exits_with_its_documented_code(error: errors.ConfpyError, code: int) -> None:
    assert exit_code_for(error) == code


def test_no_error_class_carries_an_exit_code() -> None:
    """A subclass cannot silently override its parent's code: the table is the only place."""
    assert not any(hasattr(cls, "exit_code") for cls in vars(errors).values() if isinstance(cls, type))
