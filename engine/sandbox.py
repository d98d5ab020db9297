"""The script sandbox: analysts' Python scripts and expressions, run safely on SpiffWorkflow.

SpiffWorkflow evaluates gateway conditions, timer expressions and service-task parameters, and
runs script tasks and pre/post scripts, with plain ``eval``/``exec``: ``import os`` and ``open()``
just work there. `SandboxedScriptEngine` replaces that with

* RestrictedPython-compiled code (`SandboxPolicy`): no imports, no names or attributes that start
  with ``_``, no class definitions, no ``finally`` blocks, no bare ``except:``;
* a small whitelist of builtins and helpers (dates, money, math, JSON, capped regular
  expressions) — everything else is simply not there;
* size checks on the operators and methods that build a huge object in ONE C call
  (``'a' * 10**10``, ``2 ** 10**8``, ``' '.join(...)``), refused before anything is built,
  because no timer can interrupt a single C call;
* a CPU-time budget and a memory allowance per evaluation, enforced by one daemon watchdog
  thread that raises an exception inside the overrunning thread (``PyThreadState_SetAsyncExc``);
* a size check of the task data a script leaves behind (shared references such as
  ``[s] * 10**6`` are small in memory but enormous once serialized).

Scripts keep SpiffWorkflow's task-data model: task data is the script's global namespace and new
variables go back into it, exactly like `TaskDataEnvironment` (so a script's own function can
call itself). Failures surface as `WorkflowTaskException` with a message that names the problem.
"""

from __future__ import annotations

import ast
import builtins
import copy
import ctypes
import functools
import json
import logging
import math
import operator
import os
import re
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from re import _parser as re_parser  # type: ignore[attr-defined]
from typing import Any, Final, cast

from RestrictedPython import (
    PrintCollector,
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
    safe_builtins,
)
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
    safer_getattr_raise,
)
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, IOPERATOR_TO_STR, copy_locations
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import ScriptError

__all__ = [
    "SandboxLimits",
    "SandboxPolicy",
    "SandboxedEnvironment",
    "SandboxedScriptEngine",
    "ScriptForbidden",
    "ScriptLimitExceeded",
    "compile_sandboxed",
]

log = logging.getLogger(__name__)

DEFAULT_CPU_SECONDS: Final = 1.0
DEFAULT_MAX_SEQUENCE: Final = 1_000_000
DEFAULT_MAX_INT_DIGITS: Final = 10_000
DEFAULT_MAX_REGEX_SUBJECT: Final = 10_000
DEFAULT_MAX_TASK_DATA_CHARS: Final = 20_000_000
DEFAULT_MAX_MEMORY_MB: Final = 256
MAX_REGEX_PATTERN: Final = 1_000
COMPILE_CACHE_SIZE: Final = 2048
_MAX_MESSAGE_CHARS: Final = 10_000
# SpiffWorkflow finds the failing line by looking for this file name in the traceback.
SCRIPT_FILENAME: Final = "<string>"

_LOG2_10: Final = math.log2(10)
_SEQUENCES: Final = (str, bytes, bytearray, list, tuple)
_SIZED: Final = (*_SEQUENCES, dict, set, frozenset, range)
_NO_DEFAULT: Final = object()


# --- errors -------------------------------------------------------------------------------


class _SandboxError(ScriptError):
    """A sandbox refusal; remembers the script line when it is known."""

    def __init__(self, message: str, *, line_number: int | None = None) -> None:
        super().__init__(message)
        self.line_number = line_number


class ScriptForbidden(_SandboxError):
    """The script tried something the sandbox never allows (imports, dunders, open, ...)."""

    code = "script_forbidden"


class ScriptLimitExceeded(_SandboxError):
    """The script ran past its CPU budget or would have built a too-large object."""

    code = "script_limit_exceeded"


class _ScriptTimeout(BaseException):
    """Raised asynchronously by the watchdog; a BaseException so `except Exception` can't eat it."""


# --- limits -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SandboxLimits:
    """Per-evaluation limits of one environment."""

    cpu_seconds: float = DEFAULT_CPU_SECONDS
    max_sequence: int = DEFAULT_MAX_SEQUENCE
    max_int_digits: int = DEFAULT_MAX_INT_DIGITS
    max_regex_subject: int = DEFAULT_MAX_REGEX_SUBJECT
    max_task_data_chars: int = DEFAULT_MAX_TASK_DATA_CHARS
    max_memory_mb: int = DEFAULT_MAX_MEMORY_MB

    def __post_init__(self) -> None:
        """Refuse limits that would disable the sandbox."""
        if not self.cpu_seconds > 0:
            raise ValueError("cpu_seconds must be positive")
        for name in (
            "max_sequence",
            "max_int_digits",
            "max_regex_subject",
            "max_task_data_chars",
            "max_memory_mb",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

    @property
    def max_int_bits(self) -> int:
        """The integer size limit in bits, which is what can be checked cheaply."""
        return int(self.max_int_digits * _LOG2_10) + 1


# --- compile-time policy ------------------------------------------------------------------

# `mro()` hands out base classes (BaseException among them) without any dunder.
_FORBIDDEN_ATTRIBUTES: Final = frozenset(INSPECT_ATTRIBUTES | {"mro"})
_OPERATOR_HELPERS: Final[dict[type[ast.operator], str]] = {
    ast.Add: "_add_",
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
}


def _attribute_problem(name: str) -> str | None:
    """Why a script may not touch attribute `name`, or None if it may."""
    if name.startswith("_") or name in _FORBIDDEN_ATTRIBUTES:
        return f"access to '{name}' is not allowed"
    return None


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus size-checked operators and plain-spoken refusals."""

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        """Refuse `_`-prefixed names (``__import__``, guards) with one clear message."""
        if name is not None and name.startswith("_") and name != "_":
            self.error(node, f"access to '{name}' is not allowed")
            return
        super().check_name(node, name, allow_magic_methods)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        """Refuse dunder and introspection attributes before RestrictedPython rewrites them."""
        problem = _attribute_problem(node.attr)
        if problem is not None:
            self.error(node, problem)
            return self.node_contents_visit(node)
        return super().visit_Attribute(node)

    def visit_Import(self, node: ast.Import) -> Any:
        """Refuse imports at compile time: nothing importable is safe."""
        self.error(node, "imports are not allowed in scripts")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        """Refuse ``from x import y`` like ``import x``."""
        self.error(node, "imports are not allowed in scripts")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        """Refuse classes: their dunder methods are the classic way around a sandbox."""
        self.error(node, "class definitions are not allowed in scripts")
        return node

    def visit_Try(self, node: ast.Try) -> Any:
        """Refuse ``finally``: it would run script code while a timeout unwinds."""
        if node.finalbody:
            self.error(node.finalbody[0], "'finally' blocks are not allowed in scripts")
        return super().visit_Try(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        """Refuse bare ``except:``, which would swallow the timeout."""
        if node.type is None:
            self.error(node, "a bare 'except:' is not allowed; write 'except Exception:'")
        return super().visit_ExceptHandler(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        """Route ``+ * ** << %`` through helpers that refuse huge results before building them."""
        node = self.node_contents_visit(node)
        helper = _OPERATOR_HELPERS.get(type(node.op))
        if helper is None:
            return node
        return self._helper_call(helper, [node.left, node.right], node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """Allow ``totals[key] += x`` via a helper; names go through the checked `_inplacevar_`."""
        target = node.target
        if not isinstance(target, ast.Subscript) or isinstance(target.slice, ast.Slice):
            return super().visit_AugAssign(node)
        operator_text = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        copy_locations(operator_text, node)
        args = [self.visit(target.value), self.visit(target.slice), operator_text]
        args.append(self.visit(node.value))
        statement = ast.Expr(value=self._helper_call("_augitem_", args, node))
        copy_locations(statement, node)
        return statement

    def visit_JoinedStr(self, node: ast.JoinedStr) -> Any:
        """Build f-strings through helpers: every field and the total length are checked."""
        node = self.node_contents_visit(node)
        pieces: list[ast.expr] = []
        for value in node.values:
            if not isinstance(value, ast.FormattedValue):
                pieces.append(value)
                continue
            conversion = ast.Constant(value.conversion)
            spec = value.format_spec if value.format_spec is not None else ast.Constant("")
            for constant in (conversion, spec):
                copy_locations(constant, value)
            pieces.append(self._helper_call("_format_", [value.value, conversion, spec], value))
        return self._helper_call("_fstring_", pieces, node)

    @staticmethod
    def _helper_call(helper: str, args: list[ast.expr], where: ast.AST) -> ast.Call:
        """A call of a sandbox helper, positioned at `where` for error line numbers."""
        func = ast.Name(helper, ast.Load())
        call = ast.Call(func=func, args=args, keywords=[])
        copy_locations(func, where)  # type: ignore[arg-type]
        copy_locations(call, where)  # type: ignore[arg-type]
        return call


_POLICY_ERROR = re.compile(r"Line (\d+|None): (.*)", re.DOTALL)


def _forbidden_from(errors: Iterable[str]) -> ScriptForbidden:
    """One ScriptForbidden from RestrictedPython's "Line N: message" strings."""
    messages: list[str] = []
    first_line: int | None = None
    for error in errors:
        match = _POLICY_ERROR.fullmatch(error)
        line = int(match[1]) if match and match[1].isdigit() else None
        text = match[2] if match else error
        first_line = first_line or line
        item = f"line {line}: {text}" if line else text
        if item not in messages:
            messages.append(item)
    return ScriptForbidden("; ".join(messages[:5]), line_number=first_line)


@functools.lru_cache(maxsize=COMPILE_CACHE_SIZE)
def compile_sandboxed(mode: str, source: str) -> types.CodeType:
    """Compile `source` ("eval" or "exec") under `SandboxPolicy`; cached, it is the hot path."""
    if mode not in ("eval", "exec"):
        raise ValueError(f"unknown compile mode {mode!r}")
    # Parsing ourselves keeps a genuine SyntaxError (with its line) for SpiffWorkflow.
    tree = cast(ast.Module | ast.Expression, ast.parse(source, SCRIPT_FILENAME, mode))
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(tree, filename=SCRIPT_FILENAME, policy=SandboxPolicy)
    if result.errors:
        raise _forbidden_from(result.errors)
    if result.code is None:  # pragma: no cover - RestrictedPython returns code whenever no errors
        raise ScriptForbidden("the script could not be compiled")
    return result.code


# --- size checks --------------------------------------------------------------------------

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGIT_RUN = re.compile(r"\d+")
_CONVERSIONS: Final[dict[int, Callable[[Any], str]]] = {115: str, 114: repr, 97: ascii}


def _as_tuple(value: Any) -> tuple[Any, ...]:
    """The arguments of a %-format: a tuple as is, anything else as one argument."""
    return value if isinstance(value, tuple) else (value,)


def _known_len(value: Any) -> int | None:
    """len(value) for the built-in containers, None for arbitrary iterables."""
    return len(value) if isinstance(value, _SIZED) else None


_CONTAINERS: Final = (list, tuple, set, frozenset, dict)
_SCALAR_WIDTH: Final = 32  # generous text width of numbers, dates and other plain values
_PLAIN_TYPES: Final = frozenset({float, bool, type(None), date, datetime, timedelta})


def _plain_size(obj: Any) -> int:
    """Text size of a string or fixed-width value, 0 for anything that needs a closer look."""
    kind = type(obj)
    if kind is str or kind is bytes or kind is bytearray:
        return len(obj) + 4
    if kind is int:
        return obj.bit_length() // 3 + 3
    return _SCALAR_WIDTH if kind in _PLAIN_TYPES else 0


def _rendered_size(value: Any, limit: int) -> int:
    """Upper bound of len(repr(value)) or its JSON, counting shared objects at every use.

    ``[s] * 10**6`` is small in memory but 10**6 times ``s`` as text, so sizes are memoized
    per object (linear in the distinct objects) and the walk stops once past `limit`.
    Plain values are sized inline: this runs over all task data after every script.
    """
    memo: dict[int, int] = {}

    def size(obj: Any) -> int:
        """Text size of one object."""
        plain = _plain_size(obj)
        if plain:
            return plain
        kind = type(obj)
        if kind is Decimal:
            return len(str(obj)) + 2
        if not isinstance(obj, _CONTAINERS):
            return _SCALAR_WIDTH
        known = memo.get(id(obj))
        if known is not None:
            return known
        memo[id(obj)] = 5  # a container inside itself prints as '[...]'
        total = 2
        if isinstance(obj, dict):
            # Key by key: memoizing the temporary tuples of items() would reuse their ids.
            for key, item in obj.items():
                total += _plain_size(item) or size(item)
                total += _plain_size(key) or size(key)
                if total > limit:
                    break
        else:
            for item in obj:
                total += _plain_size(item) or size(item)
                if total > limit:
                    break
        memo[id(obj)] = total
        return total

    return size(value)


def _decimal_digits(value: Decimal, fixed_point: bool) -> int:
    """Digits of int(value), or of its fixed-point text (which also spells out 0.000…1)."""
    digits = value.adjusted() + 1
    if fixed_point:
        _sign, coefficient, exponent = value.as_tuple()
        digits = max(digits, -int(exponent), len(coefficient))
    return digits


def _range_length(span: range) -> int:
    """Number of items in `span`, even beyond sys.maxsize where len() raises."""
    try:
        return len(span)
    except OverflowError:
        return abs(span.stop - span.start) // abs(span.step)


class _Sizes:
    """The size-checking operators and builtins of one environment; all refuse BEFORE building."""

    def __init__(self, limits: SandboxLimits) -> None:
        self.max_items = limits.max_sequence
        self.max_digits = limits.max_int_digits
        self.max_bits = limits.max_int_bits
        self.inplace_ops: dict[str, Callable[[Any, Any], Any]] = {
            "+=": self.iadd,
            "-=": operator.isub,
            "*=": self.imul,
            "/=": operator.itruediv,
            "//=": operator.ifloordiv,
            "%=": self.mod,
            "**=": self.pow,
            "<<=": self.lshift,
            ">>=": operator.irshift,
            "&=": operator.iand,
            "^=": operator.ixor,
            "|=": operator.ior,
            "@=": operator.imatmul,
        }

    def check_items(self, count: int, sample: object) -> None:
        """Refuse a sequence result longer than the limit."""
        if count > self.max_items:
            unit = "characters" if isinstance(sample, str) else "items"
            raise ScriptLimitExceeded(
                f"result would have {count} {unit}; the limit is {self.max_items}"
            )

    def check_bits(self, bits: float) -> None:
        """Refuse an integer result with more digits than the limit."""
        if bits > self.max_bits:
            digits = bits / _LOG2_10
            amount = f"about {digits:.0f}" if math.isfinite(digits) else "astronomically many"
            raise ScriptLimitExceeded(
                f"result would have {amount} digits; the limit is {self.max_digits}"
            )

    def check_decimal(self, value: Any, fixed_point: bool = False) -> None:
        """Refuse turning a huge Decimal into an int or fixed-point text: minutes of C work."""
        if isinstance(value, Decimal) and value.is_finite():
            digits = _decimal_digits(value, fixed_point)
            if digits > self.max_digits:
                raise ScriptLimitExceeded(
                    f"result would have about {digits} digits; the limit is {self.max_digits}"
                )

    def check_rendered(self, value: Any) -> None:
        """Refuse text of a container that would be longer than the limit."""
        if isinstance(value, _CONTAINERS):
            size = _rendered_size(value, self.max_items)
            if size > self.max_items:
                raise ScriptLimitExceeded(
                    f"the text of this value would have over {self.max_items} characters"
                )

    def _check_product(self, a: Any, b: Any) -> None:
        """Check ``a * b`` for sequence repetition and integer growth."""
        if isinstance(a, int):
            if isinstance(b, _SEQUENCES):
                self.check_items(a * len(b), b)
            elif isinstance(b, int):
                self.check_bits(a.bit_length() + b.bit_length())
        elif isinstance(a, _SEQUENCES) and isinstance(b, int):
            self.check_items(len(a) * b, a)

    def _check_sum(self, a: Any, b: Any) -> None:
        """Check ``a + b`` for sequence concatenation (doubling loops grow fast)."""
        if isinstance(a, _SEQUENCES):
            size = _known_len(b)
            if size is not None:
                self.check_items(len(a) + size, a)

    def mul(self, a: Any, b: Any) -> Any:
        """``a * b``."""
        self._check_product(a, b)
        return a * b

    def imul(self, a: Any, b: Any) -> Any:
        """``a *= b``."""
        self._check_product(a, b)
        return operator.imul(a, b)

    def add(self, a: Any, b: Any) -> Any:
        """``a + b``."""
        self._check_sum(a, b)
        return a + b

    def iadd(self, a: Any, b: Any) -> Any:
        """``a += b``."""
        self._check_sum(a, b)
        return operator.iadd(a, b)

    def pow(self, a: Any, b: Any, mod: Any = None) -> Any:
        """``a ** b`` and ``pow()``; modular pow is bounded by its modulus."""
        if mod is not None:
            # Modular pow is bounded by the modulus, but its work grows with both sizes.
            if isinstance(b, int) and isinstance(mod, int):
                self.check_bits(max(b.bit_length(), mod.bit_length()) * 8)
            return pow(a, b, mod)
        if isinstance(a, int) and isinstance(b, int) and b > 1 and abs(a) > 1:
            # An exponent with > 64 bits can only mean an astronomically large result.
            self.check_bits(math.inf if b.bit_length() > 64 else b * math.log2(abs(a)))
        return a**b

    def lshift(self, a: Any, b: Any) -> Any:
        """``a << b``, which is ``a * 2**b`` in one C call."""
        if isinstance(a, int) and isinstance(b, int) and a and b > 0:
            self.check_bits(math.inf if b.bit_length() > 64 else a.bit_length() + b)
        return a << b

    def mod(self, a: Any, b: Any) -> Any:
        """``a % b``; for strings, caps ``%`` format widths like ``'%2000000000d'``."""
        if isinstance(a, str) and "%" in a:
            self._check_percent_format(a, b)
        return a % b

    def _check_percent_format(self, template: str, args: Any) -> None:
        """Refuse %-formatting whose widths, Decimals or repeated arguments get too long."""
        values = list(args.values() if isinstance(args, Mapping) else _as_tuple(args))
        for value in values:
            self.check_decimal(value, fixed_point=True)
        widest = max((_rendered_size(value, self.max_items) for value in values), default=0)
        # A mapping can be used by every %(key)s: assume each spec prints the widest value.
        self.check_items(len(template) + template.count("%") * widest, template)
        starred = False
        for match in _PERCENT_SPEC.finditer(template):
            for number in match.groups():
                if number == "*":
                    starred = True
                elif number:
                    self._check_width(number)
        if starred:
            for value in values:
                if isinstance(value, int) and value > self.max_items:
                    self.check_items(value, template)

    def _check_width(self, digits: str) -> None:
        """Refuse a width written as a digit string above the limit."""
        if len(digits) > len(str(self.max_items)) or int(digits) > self.max_items:
            raise ScriptLimitExceeded(
                f"format width {digits[:20]} is larger than the limit of {self.max_items}"
            )

    def format(self, value: Any, conversion: int, spec: str) -> str:
        """One f-string field, after checking its text size and its spec's widths."""
        self.check_rendered(value)
        converter = _CONVERSIONS.get(conversion)
        if converter is not None:
            value = converter(value)
        for digits in _DIGIT_RUN.findall(spec):
            self._check_width(digits)
        if spec[-1:] in ("f", "F", "%"):
            self.check_decimal(value, fixed_point=True)
        return format(value, spec)

    def fstring(self, *pieces: str) -> str:
        """An f-string from its formatted pieces, refused when the whole gets too long."""
        self.check_items(sum(len(piece) for piece in pieces), "")
        return "".join(pieces)

    def str_call(self, *args: Any, **kwargs: Any) -> None:
        """Check a `str()` call before it renders a huge container."""
        if len(args) == 1 and not kwargs:
            self.check_rendered(args[0])

    def int_call(self, *args: Any, **kwargs: Any) -> None:
        """Check an `int()` call before it converts a huge Decimal."""
        if args:
            self.check_decimal(args[0])

    def safe_repr(self, value: Any) -> str:
        """`repr()` for scripts."""
        self.check_rendered(value)
        return repr(value)

    def safe_round(self, number: Any, ndigits: Any = None) -> Any:
        """`round()` for scripts; without ndigits a Decimal becomes an int."""
        if ndigits is None:
            self.check_decimal(number)
            return round(number)
        return round(number, ndigits)

    def json_dumps(self, value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
        """`json_dumps` for scripts, refused before building a huge text."""
        self.check_rendered(value)
        return json_dumps(value, indent, sort_keys)

    def inplace(self, op: str, target: Any, value: Any) -> Any:
        """RestrictedPython's `_inplacevar_`: ``x op= value`` for plain names."""
        function = self.inplace_ops.get(op)
        if function is None:
            raise ScriptForbidden(f"the operator {op} is not allowed")
        return function(target, value)

    def augitem(self, container: Any, key: Any, op: str, value: Any) -> None:
        """``container[key] op= value`` with the same checks as names and the write guard."""
        result = self.inplace(op, container[key], value)
        full_write_guard(container)[key] = result

    def range(self, *args: Any) -> range:
        """`range()` capped at the sequence limit: list(), sum() and sorted() drain it in C."""
        span = range(*args)
        self.check_items(_range_length(span), span)
        return span

    def sum(self, iterable: Iterable[Any], /, start: Any = 0) -> Any:
        """`sum()`; adding sequences goes item by item through the checked ``+``."""
        if not isinstance(start, _SEQUENCES):
            return sum(iterable, start)
        total = start
        for item in iterable:
            total = self.add(total, item)
        return total


# --- attribute access ---------------------------------------------------------------------


def _padded_size(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Result size of ljust/rjust/center/zfill."""
    width = args[0] if args else kwargs.get("width", 0)
    return max(len(target), width if isinstance(width, int) else 0)


def _expanded_size(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Result size of expandtabs."""
    tabsize = args[0] if args else kwargs.get("tabsize", 8)
    tab = "\t" if isinstance(target, str) else b"\t"
    tabsize = tabsize if isinstance(tabsize, int) else 0
    return len(target) + target.count(tab) * max(tabsize, 0)


def _replaced_size(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Upper bound of the result size of replace."""
    if len(args) < 2 or not all(isinstance(part, (str, bytes)) for part in args[:2]):
        return len(target)
    old, new = args[0], args[1]
    count = args[2] if len(args) > 2 else kwargs.get("count", -1)
    hits = len(target) + 1 if not old else target.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(target) + hits * max(0, len(new) - len(old))


def _translated_size(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Upper bound of the result size of translate (a mapping may expand each character)."""
    table = args[0] if args else kwargs.get("table")
    longest = 1
    if isinstance(table, Mapping):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
    return len(target) * max(longest, 1)


_SIZE_ESTIMATORS: Final[dict[str, Callable[[Any, tuple[Any, ...], dict[str, Any]], int]]] = {
    "ljust": _padded_size,
    "rjust": _padded_size,
    "center": _padded_size,
    "zfill": _padded_size,
    "expandtabs": _expanded_size,
    "replace": _replaced_size,
    "translate": _translated_size,
}
_AMPLIFYING_METHODS: Final = frozenset({*_SIZE_ESTIMATORS, "join", "extend"})


class _Attributes:
    """Guarded getattr: no `_` names, no str.format, and size checks on amplifying methods."""

    def __init__(self, sizes: _Sizes) -> None:
        self.sizes = sizes

    def getattr(self, obj: Any, name: Any, default: Any = _NO_DEFAULT) -> Any:
        """`_getattr_` and the scripts' `getattr()`; a missing attribute raises like Python."""
        if type(name) is not str:
            raise TypeError("attribute name must be a string")
        problem = _attribute_problem(name)
        if problem is not None:
            raise ScriptForbidden(problem)
        if isinstance(obj, _GuardedType):
            obj = obj._base  # `str.join` on the stand-in gets the checks of `str.join`
        if name in ("format", "format_map") and (isinstance(obj, str) or obj is str):
            # '{0.__class__.__mro__}'.format(1) walks attributes inside C, past every guard.
            raise ScriptForbidden("str.format() is not allowed in scripts; use an f-string")
        if name == "re" and isinstance(obj, re.Match):
            raise ScriptForbidden("access to 're' is not allowed")
        if default is _NO_DEFAULT:
            value = safer_getattr_raise(obj, name)
        else:
            value = safer_getattr(obj, name, default)
        if name in _AMPLIFYING_METHODS and self._is_sequence_or_type(obj):
            return self._checked_method(obj, name, value)
        if name == "as_integer_ratio" and (isinstance(obj, Decimal) or obj is Decimal):
            return self._checked_ratio(obj, value)
        return value

    def _checked_ratio(self, obj: Any, method: Any) -> Callable[..., Any]:
        """Decimal.as_integer_ratio, refused for Decimals whose exact ratio takes minutes."""

        def checked(*args: Any) -> Any:
            self.sizes.check_decimal(args[0] if obj is Decimal and args else obj, True)
            return method(*args)

        return checked

    def hasattr(self, obj: Any, name: Any) -> bool:
        """The scripts' `hasattr()`, with the same refusals as getattr."""
        try:
            self.getattr(obj, name)
        except AttributeError:
            return False
        return True

    @staticmethod
    def _is_sequence_or_type(obj: Any) -> bool:
        """True for str/bytes/list values and the str/list types themselves."""
        return isinstance(obj, (str, bytes, bytearray, list)) or obj is str or obj is list

    def _checked_method(self, obj: Any, name: str, method: Any) -> Callable[..., Any]:
        """Wrap an amplifying method so its result size is checked before the C call."""
        unbound = isinstance(obj, type)

        def checked(*args: Any, **kwargs: Any) -> Any:
            target, rest = (args[0], args[1:]) if unbound and args else (obj, args)
            rest = self._check_call(target, name, rest, kwargs)
            return method(target, *rest, **kwargs) if unbound else method(*rest, **kwargs)

        return checked

    def _check_call(
        self, target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, ...]:
        """Check one amplifying call; returns the args, with a one-shot iterable made a list."""
        if name in ("join", "extend"):
            items = args[0] if args else kwargs.pop("iterable", ())
            items = items if _known_len(items) is not None else list(items)
            if name == "join":
                size = sum(len(p) for p in items if isinstance(p, (str, bytes, bytearray)))
                size += len(target) * max(len(items) - 1, 0)
            else:
                size = len(target) + len(items)
            self.sizes.check_items(size, target)
            return (items, *args[1:])
        self.sizes.check_items(_SIZE_ESTIMATORS[name](target, args, kwargs), target)
        return args


# --- helpers scripts can call -------------------------------------------------------------

_CENT: Final = Decimal("0.01")


def money(value: Any) -> Decimal:
    """An amount as Decimal rounded half-up to cents; floats go through their shortest repr."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise TypeError(f"money() needs a number or a numeric string, not {type(value).__name__}")
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else value)
        if not amount.is_finite():
            raise ValueError(f"money() needs a finite amount, not {value!r}")
        return amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"money() cannot read {value!r} as an amount") from exc


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in UTC (the same clock as `now()`)."""
    return now().date()


def json_dumps(value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """JSON text; Decimal, dates and other values become their str()."""
    if indent is not None and not (isinstance(indent, int) and 0 <= indent <= 8):
        raise ValueError("indent must be a number from 0 to 8")
    return json.dumps(value, indent=indent, sort_keys=sort_keys, default=str, ensure_ascii=False)


def json_loads(text: str | bytes) -> Any:
    """The value of a JSON text."""
    return json.loads(text)


class _MathHelpers:
    """The safe part of `math` for scripts: no factorial/comb/prod, which can run for minutes."""

    __slots__ = ("_sizes",)
    pi = math.pi
    e = math.e
    inf = math.inf
    sqrt = staticmethod(math.sqrt)
    isclose = staticmethod(math.isclose)
    isfinite = staticmethod(math.isfinite)
    isnan = staticmethod(math.isnan)
    fabs = staticmethod(math.fabs)
    fsum = staticmethod(math.fsum)
    copysign = staticmethod(math.copysign)
    hypot = staticmethod(math.hypot)
    exp = staticmethod(math.exp)
    log = staticmethod(math.log)
    log10 = staticmethod(math.log10)

    def __init__(self, sizes: _Sizes) -> None:
        self._sizes = sizes

    def floor(self, x: Any) -> int:
        """math.floor, refused for Decimals too large to turn into an int."""
        self._sizes.check_decimal(x)
        return math.floor(x)

    def ceil(self, x: Any) -> int:
        """math.ceil, refused for Decimals too large to turn into an int."""
        self._sizes.check_decimal(x)
        return math.ceil(x)

    def trunc(self, x: Any) -> int:
        """math.trunc, refused for Decimals too large to turn into an int."""
        self._sizes.check_decimal(x)
        return math.trunc(x)

    def __repr__(self) -> str:
        """Say what this is when a script prints it."""
        return "<sandbox math helpers>"


_REPEATS: Final = frozenset(
    {re_parser.MAX_REPEAT, re_parser.MIN_REPEAT, getattr(re_parser, "POSSESSIVE_REPEAT", None)}
)


def _subpatterns(value: Any) -> Iterable[Any]:
    """Sub-patterns nested anywhere inside a parsed regex node's argument."""
    if isinstance(value, re_parser.SubPattern):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _subpatterns(item)


def _has_nested_repeat(pattern: Any, inside_repeat: bool = False) -> bool:
    """True for a variable repetition inside a repetition, e.g. ``(a+)+`` or ``(\\w+\\s?)*``."""
    for op, arg in pattern:
        if op in _REPEATS:
            low, high, body = arg
            if inside_repeat and low != high:
                return True
            if _has_nested_repeat(body, inside_repeat or high > 1):
                return True
        elif any(_has_nested_repeat(sub, inside_repeat) for sub in _subpatterns(arg)):
            return True
    return False


@functools.lru_cache(maxsize=256)
def _vetted_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a script's regex, refusing shapes that backtrack exponentially in C."""
    if len(pattern) > MAX_REGEX_PATTERN:
        raise ScriptLimitExceeded(
            f"regular expressions may be at most {MAX_REGEX_PATTERN} characters long"
        )
    compiled = re.compile(pattern)
    if _has_nested_repeat(re_parser.parse(pattern)):
        raise ScriptForbidden(
            "nested repetition such as '(a+)+' is not allowed in regular expressions "
            "(it can take exponential time)"
        )
    return compiled


class _Regex:
    """re_match/re_search/re_fullmatch/re_sub with capped subjects and vetted patterns."""

    def __init__(self, limits: SandboxLimits, sizes: _Sizes) -> None:
        self.max_subject = limits.max_regex_subject
        self.sizes = sizes

    def _prepare(self, pattern: Any, string: Any) -> re.Pattern[str]:
        """Check the arguments and return the compiled pattern."""
        if not isinstance(pattern, str) or not isinstance(string, str):
            raise TypeError("regular expression helpers take a str pattern and a str string")
        if len(string) > self.max_subject:
            raise ScriptLimitExceeded(
                f"regular expressions may search at most {self.max_subject} characters; "
                f"this string has {len(string)}"
            )
        return _vetted_pattern(pattern)

    def match(self, pattern: str, string: str) -> re.Match[str] | None:
        """`re.match` for scripts."""
        return self._prepare(pattern, string).match(string)

    def search(self, pattern: str, string: str) -> re.Match[str] | None:
        """`re.search` for scripts."""
        return self._prepare(pattern, string).search(string)

    def fullmatch(self, pattern: str, string: str) -> re.Match[str] | None:
        """`re.fullmatch` for scripts."""
        return self._prepare(pattern, string).fullmatch(string)

    def sub(self, pattern: str, repl: str, string: str, count: int = 0) -> str:
        """`re.sub` for scripts, built piece by piece so a huge result is refused in time."""
        compiled = self._prepare(pattern, string)
        if not isinstance(repl, str) or len(repl) > self.max_subject:
            raise TypeError(f"re_sub needs a replacement str of at most {self.max_subject} chars")
        pieces: list[str] = []
        size = last = 0
        for number, found in enumerate(compiled.finditer(string)):
            if count and number >= count:
                break
            piece = found.expand(repl)
            pieces += (string[last : found.start()], piece)
            size += found.start() - last + len(piece)
            last = found.end()
            self.sizes.check_items(size, string)
        pieces.append(string[last:])
        return "".join(pieces)


class _GuardedType(type):
    """Metaclass of the stand-ins for `int` and `str`: calls are checked, isinstance works."""

    _base: type
    _check: Callable[..., None]

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        """Check the call, then build a real instance of the base type."""
        cls._check(*args, **kwargs)
        return cls._base(*args, **kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        """isinstance(x, int) keeps working in scripts."""
        return isinstance(obj, cls._base)

    def __subclasscheck__(cls, subclass: type) -> bool:
        """issubclass(bool, int) keeps working in scripts."""
        return issubclass(subclass, cls._base)

    def __getattr__(cls, name: str) -> Any:
        """Class attributes such as int.from_bytes come from the base type."""
        return getattr(cls._base, name)

    def __repr__(cls) -> str:
        """Look like the base type when printed."""
        return repr(cls._base)


def _guarded_type(base: type, check: Callable[..., None]) -> type:
    """A stand-in for `base` whose calls run `check` first."""
    namespace = {"_base": base, "_check": staticmethod(check), "__slots__": ()}
    return _GuardedType(base.__name__, (), namespace)


class _Printer(PrintCollector):
    """Collects what a script prints, refusing huge values and huge totals."""

    def __init__(self, sizes: _Sizes, _getattr_: Any = None) -> None:
        super().__init__(_getattr_)
        self.sizes = sizes
        self.size = 0

    def write(self, text: str) -> None:
        """Collect printed text up to the sequence limit."""
        self.size += len(text)
        self.sizes.check_items(self.size, text)
        super().write(text)

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        """print() for scripts."""
        for obj in objects:
            self.sizes.check_rendered(obj)
        super()._call_print(*objects, **kwargs)


def _forbidden_builtin(name: str) -> Callable[..., Any]:
    """A stand-in for a dangerous builtin that explains itself instead of a bare NameError."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise ScriptForbidden(f"{name}() is not allowed in scripts")

    refuse.__name__ = name
    return refuse


# C code imports through the caller's builtins: date.today() needs `time`, strptime `_strptime`.
_INTERNAL_IMPORTS: Final = frozenset({"time", "_strptime", "locale"})


def _internal_import(
    name: str,
    globals: Mapping[str, Any] | None = None,
    locals: Mapping[str, Any] | None = None,
    fromlist: Sequence[str] = (),
    level: int = 0,
) -> types.ModuleType:
    """`__import__` for C helpers running on a script's behalf; scripts cannot name it."""
    if level == 0 and name in _INTERNAL_IMPORTS:
        return builtins.__import__(name, globals, locals, fromlist, level)
    raise ScriptForbidden("imports are not allowed in scripts")


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """RestrictedPython's `_apply_` for ``f(*args, **kwargs)`` calls."""
    return function(*args, **kwargs)


# Everything scripts can run in C over an iterable is fine once range() and the sequence
# operators are capped; `iter` is left out because iter(callable, sentinel) never ends in C.
_EXTRA_BUILTINS: Final = (
    "sorted", "min", "max", "any", "all", "enumerate", "reversed", "dict", "list", "set",
    "frozenset", "tuple", "map", "filter", "zip", "next",
)  # fmt: skip
_DROPPED_BUILTINS: Final = (
    "__build_class__", "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit", "id",
)  # fmt: skip
_REFUSED_BUILTINS: Final = (
    "open", "compile", "eval", "exec", "globals", "locals", "vars", "dir", "type", "object",
    "input", "breakpoint", "help", "exit", "quit", "super", "memoryview", "iter", "setattr",
    "delattr",
)  # fmt: skip


@functools.lru_cache(maxsize=8)
def _reserved_names(limits: SandboxLimits) -> frozenset[str]:
    """The guard hooks (`_getattr_` …) among the builtins: task data may not carry them."""
    return frozenset(name for name in _build_builtins(limits) if name.startswith("_"))


@functools.lru_cache(maxsize=8)
def _build_builtins(limits: SandboxLimits) -> dict[str, Any]:
    """The whole world of a script: safe builtins, helpers and RestrictedPython's guards.

    Built once per set of limits and shared (building it cost 50 µs per workflow start): the
    helpers hold only the limits, and a script cannot reach the dict (`__builtins__` is a
    dunder name, `globals()` is refused).
    """
    sizes = _Sizes(limits)
    attributes = _Attributes(sizes)
    regex = _Regex(limits, sizes)
    names: dict[str, Any] = dict(safe_builtins)
    for name in _DROPPED_BUILTINS:
        names.pop(name, None)
    names.update({name: getattr(builtins, name) for name in _EXTRA_BUILTINS})
    names.update({name: _forbidden_builtin(name) for name in _REFUSED_BUILTINS})
    names.update(
        int=_guarded_type(int, sizes.int_call),
        str=_guarded_type(str, sizes.str_call),
        repr=sizes.safe_repr,
        round=sizes.safe_round,
        getattr=attributes.getattr,
        hasattr=attributes.hasattr,
        range=sizes.range,
        pow=sizes.pow,
        sum=sizes.sum,
        datetime=datetime,
        date=date,
        timedelta=timedelta,
        timezone=timezone,
        Decimal=Decimal,
        money=money,
        math=_MathHelpers(sizes),
        json_dumps=sizes.json_dumps,
        json_loads=json_loads,
        re_match=regex.match,
        re_search=regex.search,
        re_fullmatch=regex.fullmatch,
        re_sub=regex.sub,
        now=now,
        today=today,
        # RestrictedPython's hooks, plus this module's operator helpers.
        __import__=_internal_import,
        _getattr_=attributes.getattr,
        _getitem_=operator.getitem,
        _getiter_=iter,
        _write_=full_write_guard,
        _inplacevar_=sizes.inplace,
        _unpack_sequence_=guarded_unpack_sequence,
        _iter_unpack_sequence_=guarded_iter_unpack_sequence,
        _print_=functools.partial(_Printer, sizes),
        _apply_=_apply,
        _add_=sizes.add,
        _mul_=sizes.mul,
        _pow_=sizes.pow,
        _lshift_=sizes.lshift,
        _mod_=sizes.mod,
        _format_=sizes.format,
        _fstring_=sizes.fstring,
        _augitem_=sizes.augitem,
    )
    return names


# --- the watchdog -------------------------------------------------------------------------

_raise_async = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
# Same C function, declared with a pointer so that None passes NULL: "drop what is pending".
_clear_async = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
_HAS_THREAD_CLOCKS: Final = hasattr(time, "pthread_getcpuclockid")
# While evaluations come in, the watchdog looks this often: memory grows without a deadline.
_POLL_SECONDS: Final = 0.05
_IDLE_POLLS: Final = 100
_PAGE_SIZE: Final = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int | None:
    """Resident memory of this process (Linux), None where /proc is not available."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return None


class _Deadline:
    """One running evaluation: its thread, CPU budget, and whether the watchdog fired."""

    __slots__ = (
        "budget",
        "clock_id",
        "cpu_start",
        "fired",
        "max_memory",
        "reason",
        "rss_start",
        "thread_id",
        "wall_start",
    )

    def __init__(self, budget: float, max_memory: int) -> None:
        self.thread_id = threading.get_ident()
        self.budget = budget
        self.max_memory = max_memory
        self.cpu_start = time.thread_time()
        self.wall_start = time.monotonic()
        self.clock_id: int | None = None
        self.rss_start: int | None = None  # taken at the watchdog's first look: /proc is slow
        self.fired = False
        self.reason = ""

    def used(self, now: float) -> float:
        """CPU seconds the thread has spent since arming; wall seconds without thread clocks."""
        # OSError: the thread is gone or has no CPU clock; fall back to wall seconds.
        with suppress(OSError):
            if _HAS_THREAD_CLOCKS:
                if self.clock_id is None:
                    self.clock_id = time.pthread_getcpuclockid(self.thread_id)
                return time.clock_gettime(self.clock_id) - self.cpu_start
        return now - self.wall_start  # pragma: no cover - platforms without thread CPU clocks

    def memory_exceeded(self) -> bool:
        """True once the process grew by more than the allowance since the first look."""
        rss = _rss_bytes()
        if rss is None:  # pragma: no cover - not Linux
            return False
        if self.rss_start is None:
            self.rss_start = rss
        return rss - self.rss_start > self.max_memory


class _Watchdog:
    """One daemon thread for all evaluations: no thread per evaluation on the hot path.

    It sleeps until the earliest moment a budget could run out (a thread cannot spend CPU
    faster than wall time), then checks the threads' CPU clocks. An overrunning thread gets
    exactly one `_ScriptTimeout`, raised under the lock and only while its deadline is armed;
    `disarm` takes the same lock and drops an exception that was set but not yet delivered,
    so nothing can fire into a thread after its evaluation has finished.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        """Fresh state; also after fork, where the thread and a held lock don't survive."""
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._deadlines: dict[int, _Deadline] = {}
        self._thread: threading.Thread | None = None
        self._next_look = math.inf

    def arm(self, budget: float, max_memory: int) -> _Deadline:
        """Start the clock for the calling thread."""
        deadline = _Deadline(budget, max_memory)
        with self._lock:
            if self._thread is None:
                self._start()
            self._deadlines[deadline.thread_id] = deadline
            earliest_end = deadline.wall_start + budget
            if earliest_end < self._next_look:
                # Only wake the watchdog when it would otherwise sleep past this deadline.
                self._next_look = earliest_end
                self._wakeup.notify()
        return deadline

    def disarm(self, deadline: _Deadline) -> None:
        """Stop the clock; idempotent, and drops a timeout that was set but not yet delivered."""
        with self._lock:
            if self._deadlines.get(deadline.thread_id) is deadline:
                del self._deadlines[deadline.thread_id]
            if deadline.fired:
                _clear_async(deadline.thread_id, None)

    def _start(self) -> None:
        """Start the watchdog thread (called with the lock held)."""
        self._thread = threading.Thread(target=self._watch, name="script-watchdog", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        """Check deadlines, fire at overrunning threads, sleep until the next possible expiry."""
        idle_polls = 0
        with self._lock:
            while True:
                now = time.monotonic()
                next_look = math.inf
                for deadline in self._deadlines.values():
                    next_look = min(next_look, self._check(deadline, now))
                if self._deadlines:
                    idle_polls = 0
                elif idle_polls < _IDLE_POLLS:
                    # Keep polling for a while after the last evaluation instead of idling:
                    # arm() then rarely needs to notify, which costs a thread switch.
                    idle_polls += 1
                    next_look = now + _POLL_SECONDS
                self._next_look = next_look
                self._wakeup.wait(None if next_look == math.inf else max(next_look - now, 0.0))

    @staticmethod
    def _check(deadline: _Deadline, now: float) -> float:
        """Fire at `deadline`'s thread if its budget is spent; return when to look again."""
        if deadline.fired:
            return math.inf
        remaining = deadline.budget - deadline.used(now)
        if remaining <= 0:
            deadline.reason = "cpu"
        elif deadline.memory_exceeded():
            deadline.reason = "memory"
        else:
            return now + min(remaining, _POLL_SECONDS)
        deadline.fired = True
        _raise_async(deadline.thread_id, _ScriptTimeout)
        return math.inf


_WATCHDOG: Final = _Watchdog()


def _script_line(trace: types.TracebackType | None) -> int | None:
    """The script line a traceback was in when it stopped, if any."""
    lines = [f.lineno for f in traceback.extract_tb(trace) if f.filename == SCRIPT_FILENAME]
    return lines[-1] if lines else None


# --- the environment and the engine -------------------------------------------------------

# Values scripts may create that no task-data serializer can store; dropped after a script
# like SpiffWorkflow drops functions.
_TRANSIENT_TYPES: Final[tuple[type, ...]] = (
    PrintCollector,
    _MathHelpers,
    re.Match,
    re.Pattern,
    types.GeneratorType,
    range,
    map,
    filter,
    zip,
    enumerate,
    reversed,
    type(iter([])),
    type(iter(())),
    type(iter("")),
    type(iter(range(0))),
    type(iter({})),
    type(iter(set())),
    type({}.keys()),
    type({}.values()),
    type({}.items()),
)


class SandboxedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, run through the sandbox.

    The sandbox's builtins and helpers (``datetime``, ``money``, ``math``...) live in the
    script's ``__builtins__``, so task data may shadow them like any Python builtin and a
    form field called ``date`` does not break every script. `environment_globals` keep
    SpiffWorkflow's semantics: task data may not overwrite them and they are removed again.
    """

    def __init__(
        self,
        environment_globals: Mapping[str, Any] | None = None,
        *,
        limits: SandboxLimits | None = None,
    ) -> None:
        super().__init__(dict(environment_globals or {}))
        self.limits = limits or SandboxLimits()
        self._builtins = _build_builtins(self.limits)
        self._reserved = _reserved_names(self.limits)

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Value of `expression` over a copy of the task data (as SpiffWorkflow does)."""
        code = compile_sandboxed("eval", expression.strip())
        self._prepare_context(context)
        namespace = copy.copy(self.globals)
        namespace.update(external_context or {})
        namespace.update(context)
        self._refuse_reserved(namespace)
        namespace["__builtins__"] = self._builtins
        return self._run(code, namespace)

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        """Run `script` with the task data as its namespace; new variables go back into it.

        Unlike SpiffWorkflow's default, the script runs on a shallow copy that replaces the
        task data only on success, so a refused or failing script leaves no half-written
        variables behind (objects it mutated in place stay mutated).
        """
        self.check_for_overwrite(context, external_context or {})
        code = compile_sandboxed("exec", script)
        self._refuse_reserved(context)
        self._prepare_context(context)
        namespace = dict(context)
        namespace.update(self.globals)
        namespace.update(external_context or {})
        namespace["__builtins__"] = self._builtins
        try:
            self._run(code, namespace)
        finally:
            self._remove_globals_and_functions_from_context(namespace, external_context)
        self._check_data_size(namespace)
        context.clear()
        context.update(namespace)
        return True

    def _check_data_size(self, namespace: dict[str, Any]) -> None:
        """Refuse task data that would be huge once stored, e.g. ``[s] * 10**6``."""
        limit = self.limits.max_task_data_chars
        if _rendered_size(namespace, limit) > limit:
            raise ScriptLimitExceeded(
                f"task data would have over {limit} characters when stored; "
                "the script's changes were not kept"
            )

    def _refuse_reserved(self, namespace: Mapping[str, Any]) -> None:
        """Refuse data that would shadow a sandbox hook such as `_getattr_`."""
        # dict_keys.isdisjoint walks the smaller side, so this stays cheap for big task data.
        if not namespace.keys().isdisjoint(self._reserved):
            clash = sorted(self._reserved.intersection(namespace))
            raise ScriptForbidden(f"task data may not use the reserved name(s) {clash}")

    def _run(self, code: types.CodeType, namespace: dict[str, Any]) -> Any:
        """Evaluate `code` under the CPU budget, turning a timeout into ScriptLimitExceeded."""
        deadline = _WATCHDOG.arm(self.limits.cpu_seconds, self.limits.max_memory_mb << 20)
        try:
            try:
                return eval(code, namespace)
            finally:
                _WATCHDOG.disarm(deadline)
        except _ScriptTimeout as stop:
            # The one timeout may have landed inside the disarm above, before it finished.
            _WATCHDOG.disarm(deadline)
            raise ScriptLimitExceeded(
                self._stop_message(deadline.reason), line_number=_script_line(stop.__traceback__)
            ) from None
        except Exception as error:
            # Whoever logs the error would render a huge message outside the sandbox.
            if _rendered_size(error.args, _MAX_MESSAGE_CHARS) > _MAX_MESSAGE_CHARS:
                raise ScriptLimitExceeded(
                    f"the script raised {type(error).__name__} with a message too long to show",
                    line_number=_script_line(error.__traceback__),
                ) from None
            raise

    def _stop_message(self, reason: str) -> str:
        """Why the watchdog stopped a script."""
        if reason == "memory":
            return f"script used more than {self.limits.max_memory_mb} MB of memory"
        return f"script exceeded its CPU time budget of {self.limits.cpu_seconds} s"

    def _remove_globals_and_functions_from_context(
        self, context: dict[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> None:
        """SpiffWorkflow's clean-up, plus the sandbox's own non-serializable leftovers."""
        printer = context.get("_print")
        if isinstance(printer, PrintCollector) and printer.txt:
            log.info("script printed: %s", printer()[:_MAX_MESSAGE_CHARS].rstrip("\n"))
        super()._remove_globals_and_functions_from_context(context, external_context)
        for name in [
            name for name, value in context.items() if isinstance(value, _TRANSIENT_TYPES)
        ]:
            del context[name]


def _describe(error: BaseException) -> str:
    """``TypeName: message`` for any exception, whatever its args are."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class SandboxedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine on a `SandboxedEnvironment`; errors name the problem."""

    environment: SandboxedEnvironment

    def __init__(
        self,
        cpu_seconds: float = DEFAULT_CPU_SECONDS,
        max_sequence: int = DEFAULT_MAX_SEQUENCE,
        environment_globals: Mapping[str, Any] | None = None,
        *,
        max_int_digits: int = DEFAULT_MAX_INT_DIGITS,
        max_regex_subject: int = DEFAULT_MAX_REGEX_SUBJECT,
        max_task_data_chars: int = DEFAULT_MAX_TASK_DATA_CHARS,
        max_memory_mb: int = DEFAULT_MAX_MEMORY_MB,
    ) -> None:
        limits = SandboxLimits(
            cpu_seconds,
            max_sequence,
            max_int_digits,
            max_regex_subject,
            max_task_data_chars,
            max_memory_mb,
        )
        super().__init__(environment=SandboxedEnvironment(environment_globals, limits=limits))

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        """Like SpiffWorkflow's, but the message says what went wrong, not just where."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as error:
            error.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as error:
            message = f"Error evaluating expression '{expression}': {_describe(error)}"
            raise WorkflowTaskException(message, task=task, exception=error) from error

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        """Like SpiffWorkflow's, whose error path refers to an undefined `script`."""
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as error:
            raise self.create_task_exec_exception(task, "", error) from error

    def create_task_exec_exception(
        self, task: Any, script: str, err: Exception
    ) -> WorkflowTaskException | SpiffWorkflowException:
        """Like SpiffWorkflow's, which fails with TypeError when err.args[0] is not a str."""
        if isinstance(err, SpiffWorkflowException):
            return super().create_task_exec_exception(task, script, err)
        line_number, error_line = self.get_error_line_number_and_content(script, err)
        return WorkflowTaskException(
            _describe(err),
            task=task,
            exception=err,
            line_number=line_number,
            error_line=error_line,
        )

    def get_error_line_number_and_content(self, script: str, err: Exception) -> tuple[int, str]:
        """Use the line a sandbox refusal knows; otherwise SpiffWorkflow's traceback search."""
        line_number = err.line_number if isinstance(err, _SandboxError) else None
        if not line_number:
            return super().get_error_line_number_and_content(script, err)  # type: ignore[no-any-return]
        lines = script.splitlines()
        return line_number, lines[line_number - 1] if line_number <= len(lines) else ""
