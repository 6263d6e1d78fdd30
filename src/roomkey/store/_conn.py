"""The connection a write's statements run on, whichever path the write took."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import CursorResult
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.base import Executable


class WriteConnection(Protocol):
    """The connection a write's body runs its statements on (both paths of :meth:`_write`)."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(
        self, statement: Executable, parameters: Any = None, /
    ) -> CursorResult[Any]: ...
