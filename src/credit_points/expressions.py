"""Declarative expressions over record columns: a small, safe, vectorised language for configs.

Zone rules (veto conditions, derived indicators) and bank policy (eligibility rules, capacity formulas)
are written in YAML as expressions such as ``"min(0.3 * revenue, 7 * tax_paid)"`` or
``"credit_status in ['serious_dishonest'] or tax_credit_grade == 'D'"``. They are parsed with :mod:`ast`
into a whitelist of nodes (no attribute access, no subscripts, no arbitrary calls) and evaluated on whole
columns with numpy. Unknown names are rejected at config load, naming the expression and the name.

Semantics: arithmetic propagates NaN; a comparison with NaN is False; ``and``/``or``/``not`` are
element-wise; ``safe_div(a, b, default)`` gives ``default`` where ``b`` is 0 or missing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from credit_points.exceptions import ConfigError


def _safe_div(a: Any, b: Any, default: Any = np.nan) -> np.ndarray:
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    ok = np.isfinite(b) & (b != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(ok, a / np.where(ok, b, 1.0), default)
    return np.asarray(out, dtype="float64")


def _fillna(a: Any, value: Any) -> np.ndarray:
    arr = np.asarray(a, dtype="float64")
    return np.where(np.isnan(arr), value, arr)


def _isnull(a: Any) -> np.ndarray:
    return np.asarray(pd.isna(a))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": np.minimum,
    "max": np.maximum,
    "abs": np.abs,
    "log1p": np.log1p,
    "clip": np.clip,
    "where": np.where,
    "safe_div": _safe_div,
    "fillna": _fillna,
    "isnull": _isnull,
}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
    ast.Mod: np.mod,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}


class Expression:
    """A parsed expression.

    Examples:
        >>> frame = pd.DataFrame({"revenue": [1e6, 0.0], "tax_paid": [1e4, 5.0]})
        >>> Expression("min(0.3 * revenue, 7 * tax_paid)").evaluate(frame).tolist()
        [70000.0, 0.0]
        >>> Expression("safe_div(tax_paid, revenue, 0)").evaluate(frame).tolist()
        [0.01, 0.0]
        >>> sorted(Expression("a > 1 and b in ['x', 'y']").names)
        ['a', 'b']
    """

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            tree = ast.parse(source, mode="eval")
        except SyntaxError as exc:
            raise ConfigError(f"expression {source!r} is not valid: {exc.msg}") from None
        self._tree = tree.body
        self.names = frozenset(self._collect_names(self._tree))
        self._fn = self._compile(self._tree)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by source text (the compiled closures are rebuilt), e.g. for Dask workers."""
        return (Expression, (self.source,))

    def _collect_names(self, node: ast.AST) -> Iterable[str]:
        allowed = (
            ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call, ast.Name, ast.Constant,
            ast.List, ast.Tuple, ast.IfExp, ast.Load,
            ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
        )  # fmt: skip
        for child in ast.walk(node):
            if not isinstance(child, allowed):
                raise ConfigError(f"expression {self.source!r}: {type(child).__name__} is not allowed")
            if isinstance(child, ast.Call):
                if not isinstance(child.func, ast.Name) or child.func.id not in FUNCTIONS:
                    name = getattr(child.func, "id", ast.unparse(child.func))
                    raise ConfigError(
                        f"expression {self.source!r}: unknown function {name!r}; allowed: {sorted(FUNCTIONS)}"
                    )
                if child.keywords:
                    raise ConfigError(f"expression {self.source!r}: keyword arguments are not allowed")
        called = {
            c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
        }
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and child.id not in called and child.id not in {"True", "False"}:
                yield child.id

    def check_names(self, known: Iterable[str], *, where: str = "") -> None:
        """Raise :class:`ConfigError` if the expression uses a name outside ``known``."""
        unknown = sorted(self.names - set(known))
        if unknown:
            raise ConfigError(
                f"expression {self.source!r} uses unknown field(s) {unknown}", location=where or None
            )

    def evaluate(self, frame: pd.DataFrame | Mapping[str, Any]) -> np.ndarray:
        """Evaluate on whole columns; returns a numpy array with one value per row.

        Division by zero and invalid operations give inf/NaN without a warning (NaN is the defined result).
        """
        n = len(frame) if isinstance(frame, pd.DataFrame) else None
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self._fn(frame)
        if n is not None and np.ndim(out) == 0:
            out = np.full(n, out)
        return np.asarray(out)

    # The tree is compiled once into nested closures (no per-call dispatch on node types); each closure
    # calls the same numpy functions in the same order as a walk of the tree would, so values are identical.
    def _compile(self, node: ast.AST) -> Callable[[Any], Any]:  # noqa: C901 - one branch per node type
        source = self.source
        if isinstance(node, ast.Constant):
            value = node.value
            return lambda env: value
        if isinstance(node, ast.Name):
            name = node.id
            if name in {"True", "False"}:
                truth = name == "True"
                return lambda env: truth

            def lookup(env: Any) -> Any:
                try:
                    col = env[name]
                except KeyError:
                    raise ConfigError(f"expression {source!r}: no field {name!r} in the data") from None
                return col.to_numpy() if isinstance(col, pd.Series) else col

            return lookup
        as_float, as_bool = self._as_float, self._as_bool
        if isinstance(node, ast.BinOp):
            op = _BINOPS[type(node.op)]
            left, right = self._compile(node.left), self._compile(node.right)
            return lambda env: op(as_float(left(env)), as_float(right(env)))
        if isinstance(node, ast.UnaryOp):
            operand = self._compile(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda env: np.logical_not(as_bool(operand(env)))
            if isinstance(node.op, ast.USub):
                return lambda env: np.negative(as_float(operand(env)))
            return operand
        if isinstance(node, ast.BoolOp):
            parts = [self._compile(v) for v in node.values]
            func = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

            def boolop(env: Any) -> Any:
                result = as_bool(parts[0](env))
                for part in parts[1:]:
                    result = func(result, as_bool(part(env)))
                return result

            return boolop
        if isinstance(node, ast.Compare):
            first = self._compile(node.left)
            steps = [(op, self._compile(c)) for op, c in zip(node.ops, node.comparators, strict=True)]

            def compare(env: Any) -> Any:
                left = first(env)
                result: Any = True
                for op, comparator in steps:
                    right = comparator(env)
                    if isinstance(op, ast.In | ast.NotIn):
                        members = list(right) if isinstance(right, list | tuple) else [right]
                        part = np.isin(np.asarray(left, dtype=object), np.asarray(members, dtype=object))
                        part = np.logical_not(part) if isinstance(op, ast.NotIn) else part
                    else:
                        part = _CMPOPS[type(op)](left, right)
                    result = np.logical_and(result, part)
                    left = right
                return result

            return compare
        if isinstance(node, ast.List | ast.Tuple):
            elements = [self._compile(e) for e in node.elts]
            return lambda env: [e(env) for e in elements]
        if isinstance(node, ast.IfExp):
            test, body, orelse = (
                self._compile(node.test),
                self._compile(node.body),
                self._compile(node.orelse),
            )
            return lambda env: np.where(as_bool(test(env)), body(env), orelse(env))
        if isinstance(node, ast.Call):
            call = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
            args = [self._compile(a) for a in node.args]
            return lambda env: call(*[a(env) for a in args])
        raise ConfigError(
            f"expression {self.source!r}: {type(node).__name__} is not allowed"
        )  # pragma: no cover

    @staticmethod
    def _as_float(value: Any) -> Any:
        arr = np.asarray(value)
        return arr.astype("float64") if arr.dtype.kind in "biu" else arr

    @staticmethod
    def _as_bool(value: Any) -> Any:
        arr = np.asarray(value)
        if arr.dtype.kind == "f":
            return np.nan_to_num(arr, nan=0.0) != 0
        return arr.astype(bool)


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """A parsed expression, cached by its text."""
    return Expression(source)
