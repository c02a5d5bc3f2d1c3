"""The error tree: hints, picklability (errors cross process boundaries) and the transient/terminal split."""

from __future__ import annotations

import pickle

import pytest

from metaxy import exceptions
from metaxy.exceptions import MetaxyError, StoreBackendError, StoreError


@pytest.mark.parametrize("transient", [True, False])
def test_store_errors_keep_transient_and_hint_through_pickling(transient: bool) -> None:
    error = StoreBackendError("commit lost", hint="retry", transient=transient)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is StoreBackendError
    assert (copy.message, copy.hint, copy.transient) == ("commit lost", "retry", transient)
    assert str(copy) == str(error)


def test_store_errors_are_terminal_unless_told() -> None:
    assert StoreError("no").transient is False
    assert exceptions.ReadOnlyStoreError("no").transient is False


def test_every_error_class_is_drawn_in_the_module_docstring() -> None:
    doc = exceptions.__doc__ or ""
    classes = [
        name
        for name, value in vars(exceptions).items()
        if isinstance(value, type) and issubclass(value, MetaxyError | exceptions.MetaxyWarning)
    ]
    assert classes
    assert [name for name in classes if f" {name} " not in doc and not doc.count(name)] == []
