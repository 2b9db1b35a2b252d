"""One small binding helper between widgets and the evented state (napari's ``connect_setattr``,
ITK-SNAP's ``m_Updating`` guard).

A view that shows state in widgets must not write the widgets' change signals back into the
state while it is filling them in. :class:`UpdateGuard` is that "I am updating" flag, set by
``with guard:`` and always cleared on the way out, exceptions included (a hand-rolled
``self._updating = True … = False`` stays stuck after an exception and the widget goes dead).
:func:`connect_setattr` binds a widget signal to an attribute of a state object through a guard.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class UpdateGuard:
    """Re-entrancy guard: true inside ``with guard:`` (nestable, exception-safe)."""

    def __init__(self) -> None:
        self._depth = 0

    def __enter__(self) -> UpdateGuard:
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1

    @property
    def active(self) -> bool:
        return self._depth > 0

    def __bool__(self) -> bool:
        return self.active

    def unless_active(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` as a slot that does nothing while the guard is active and runs inside it
        otherwise (so state events it causes do not echo back into the widgets)."""

        @functools.wraps(fn)
        def slot(*args: Any) -> Any:
            if self.active:
                return None
            with self:
                return fn(*args)

        return slot


def connect_setattr(signal, target: Callable[[], Any], attr: str, guard: UpdateGuard,
                    convert: Callable[[Any], Any] = lambda value: value) -> Callable[..., Any]:
    """Widget → state: on ``signal(value)`` set ``target().<attr> = convert(value)``.

    ``target`` is called each time (the object shown can change, e.g. the active layer) and may
    return ``None`` to skip. Nothing is written while ``guard`` is active. Returns the slot.
    """

    def _set(value: Any) -> None:
        obj = target()
        if obj is not None:
            setattr(obj, attr, convert(value))

    slot = guard.unless_active(_set)
    signal.connect(slot)
    return slot
