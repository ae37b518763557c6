"""Problems found in user documents: where (file, line, field), what was expected, a stable code.

A :class:`Problem` is data, never an exception: validation collects every problem of a
document so the user fixes them in one go. :class:`InvalidDocumentError` carries problems
across layers that must stop (for example a controller refusing a whole revision).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    file: str
    line: int | None = None
    field: str = ""
    message: str
    code: str

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message} [{self.code}]"


class InvalidDocumentError(Exception):
    """User documents are invalid; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))
