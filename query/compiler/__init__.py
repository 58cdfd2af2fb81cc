"""The compiler package: one qualified sqlglot query tree in, one Polars LazyFrame out.

``core.Compiler`` walks a statement's clauses and compiles expressions through the translator
registry; each concern has its module (see ``core``'s docstring for the map). Callers need only
the names exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loglake.query.compiler.context import Output, Rel, ScanRecord, Scope
from loglake.query.compiler.core import Compiler

if TYPE_CHECKING:
    from loglake.query.registry import ExprCompiler

    def _translators_see(compiler: Compiler) -> ExprCompiler:
        """mypy checks here that the compiler offers translators all ``ExprCompiler`` promises."""
        return compiler


__all__ = ["Compiler", "Output", "Rel", "ScanRecord", "Scope"]
