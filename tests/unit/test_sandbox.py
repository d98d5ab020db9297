"""The script sandbox, driven through real BPMN workflows where it matters."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.sandbox import (
    SandboxedEnvironment,
    SandboxedScriptEngine,
    SandboxLimits,
    ScriptForbidden,
    ScriptLimitExceeded,
    compile_sandboxed,
)

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiff="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="defs" targetNamespace="http://potok.example/bpmn">\n'
    '<bpmn:process id="proc" isExecutable="true">\n'
)
FOOTER = "</bpmn:process>\n</bpmn:definitions>\n"


def script_process(script: str | None, pre: str | None = None, post: str | None = None) -> str:
    """start -> task 'script' -> end; a script task, or a plain task with spiff pre/post scripts.

    SpiffWorkflow's parser ignores pre/post scripts on script tasks, so those go on a plain
    task, which waits until it is run by hand.
    """
    extensions = ""
    if pre is not None or post is not None:
        parts = [f"<spiff:preScript>{escape(pre)}</spiff:preScript>" if pre else ""]
        parts.append(f"<spiff:postScript>{escape(post)}</spiff:postScript>" if post else "")
        extensions = f"<bpmn:extensionElements>{''.join(parts)}</bpmn:extensionElements>"
    flows = "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>"
    if script is None:
        task = f'<bpmn:task id="script" name="Task">{extensions}{flows}</bpmn:task>'
    else:
        task = (
            f'<bpmn:scriptTask id="script" name="Script">{flows}'
            f"<bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>"
        )
    return (
        HEADER
        + '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
        + '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="script" />'
        + task
        + '<bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="end" />'
        + '<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>'
        + FOOTER
    )


def gateway_process(condition: str) -> str:
    """start -> exclusive gateway; `condition` routes to 'big', the default to 'small'."""
    branches = ""
    for name in ("big", "small"):
        branches += (
            f'<bpmn:scriptTask id="{name}"><bpmn:incoming>to_{name}</bpmn:incoming>'
            f"<bpmn:outgoing>{name}_end</bpmn:outgoing>"
            f"<bpmn:script>route = '{name}'</bpmn:script></bpmn:scriptTask>"
            f'<bpmn:sequenceFlow id="{name}_end" sourceRef="{name}" targetRef="end_{name}" />'
            f'<bpmn:endEvent id="end_{name}"><bpmn:incoming>{name}_end</bpmn:incoming>'
            "</bpmn:endEvent>"
        )
    return (
        HEADER
        + '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
        + '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw" />'
        + '<bpmn:exclusiveGateway id="gw" default="to_small"><bpmn:incoming>f1</bpmn:incoming>'
        + "<bpmn:outgoing>to_big</bpmn:outgoing><bpmn:outgoing>to_small</bpmn:outgoing>"
        + "</bpmn:exclusiveGateway>"
        + '<bpmn:sequenceFlow id="to_big" sourceRef="gw" targetRef="big">'
        + f"<bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>"
        + "</bpmn:sequenceFlow>"
        + '<bpmn:sequenceFlow id="to_small" sourceRef="gw" targetRef="small" />'
        + branches
        + FOOTER
    )


def start_workflow(xml: str, data: dict[str, Any] | None = None, **limits: Any) -> BpmnWorkflow:
    """A workflow of process 'proc' on a sandboxed engine, seeded with `data`."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(xml.encode())
    workflow = BpmnWorkflow(parser.get_spec("proc"), script_engine=SandboxedScriptEngine(**limits))
    first = workflow.get_next_task(state=TaskState.READY)
    assert first is not None
    first.set_data(**(data or {}))
    return workflow


def task_data(workflow: BpmnWorkflow, spec_name: str = "script") -> dict[str, Any]:
    """The data of the (first) task of `spec_name`."""
    task = workflow.get_next_task(spec_name=spec_name)
    assert task is not None
    return task.data


def run_script(script: str, data: dict[str, Any] | None = None, **limits: Any) -> dict[str, Any]:
    """Run one script task to completion and return its data."""
    workflow = start_workflow(script_process(script), data, **limits)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    return task_data(workflow)


def failing_script(
    script: str, data: dict[str, Any] | None = None, **limits: Any
) -> tuple[WorkflowTaskException, BpmnWorkflow]:
    """Run one script task that must fail; return the error and the workflow."""
    workflow = start_workflow(script_process(script), data, **limits)
    with pytest.raises(WorkflowTaskException) as caught:
        workflow.do_engine_steps()
    return caught.value, workflow


# --- scripts that should work -------------------------------------------------------------


def test_script_variables_land_in_task_data_and_functions_can_recurse() -> None:
    data = run_script(
        "def fact(n):\n"
        "    return 1 if n <= 1 else n * fact(n - 1)\n"
        "result = fact(10)\n"
        "squares = [i * i for i in range(base)]\n"
        "a, b = divmod(17, 5)\n",
        {"base": 4},
    )
    assert data == {"base": 4, "result": 3628800, "squares": [0, 1, 4, 9], "a": 3, "b": 2}


def test_date_money_math_json_and_regex_helpers() -> None:
    data = run_script(
        "total = money(19.999) + money('0.005')\n"
        "due = date(2024, 1, 31) + timedelta(days=1)\n"
        "aware = now().tzinfo is not None and today() == now().date()\n"
        "stamp = datetime(2024, 5, 1, 12, tzinfo=timezone.utc).isoformat()\n"
        "root = math.sqrt(16) + math.floor(2.7)\n"
        "price = Decimal('1.10') * 3\n"
        "text = json_dumps({'total': total})\n"
        "second = json_loads('[1, 2]')[1]\n"
        "part = re_match(r'(\\d+)-(\\d+)', '12-34').group(2)\n"
        "clean = re_sub(r'\\s+', ' ', 'a   b\\tc')\n"
        "label = f'{price:.1f} EUR'\n"
        "parsed = datetime.strptime('2024-03-05', '%Y-%m-%d').strftime('%d.%m.%Y')\n"
        "recent = date.today() > date(2020, 1, 1)\n"
    )
    assert data["total"] == Decimal("20.01")
    assert str(data["due"]) == "2024-02-01"
    assert data["aware"] is True
    assert data["stamp"] == "2024-05-01T12:00:00+00:00"
    assert data["root"] == 6.0
    assert data["price"] == Decimal("3.30")
    assert data["text"] == '{"total": "20.01"}'
    assert (data["second"], data["part"], data["clean"], data["label"]) == (
        2,
        "34",
        "a b c",
        "3.3 EUR",
    )
    assert (data["parsed"], data["recent"]) == ("05.03.2024", True)


def test_int_and_str_stand_ins_behave_like_the_types() -> None:
    data = run_script(
        "checks = [isinstance(5, int), isinstance(True, int), isinstance('a', str),\n"
        "          isinstance(5, (str, float)), issubclass(bool, int)]\n"
        "values = [int('42'), int('ff', 16), int(Decimal('12.7')), str(5), str(), repr([1])]\n"
        "joined = str.join('-', ['a', 'b']) + str.upper('x')\n"
        "big = int.from_bytes(b'\\x01\\x00', 'big')\n"
        "text = f'{int}|{[1, 2]}|{3!r:>4}'\n"
    )
    assert data["checks"] == [True, True, True, False, True]
    assert data["values"] == [42, 255, 12, "5", "", "[1]"]
    assert (data["joined"], data["big"]) == ("a-bX", 256)
    assert data["text"] == "<class 'int'>|[1, 2]|   3"


def test_augmented_assignment_of_names_and_items() -> None:
    script = "n += 1\ntotals['eur'] += 5\nwords = ['a']\nwords *= 3"
    data = run_script(script, {"n": 1, "totals": {"eur": 10}})
    assert (data["n"], data["totals"], data["words"]) == (2, {"eur": 15}, ["a", "a", "a"])


def test_pre_and_post_scripts_run_in_the_sandbox() -> None:
    workflow = start_workflow(script_process(None, pre="base = 20", post="done = base * 2"))
    workflow.do_engine_steps()
    task = workflow.get_next_task(spec_name="script")
    assert task is not None
    assert task.data == {"base": 20}
    task.run()
    assert task.data == {"base": 20, "done": 40}

    workflow = start_workflow(script_process(None, post="import os"))
    workflow.do_engine_steps()
    task = workflow.get_next_task(spec_name="script")
    assert task is not None
    with pytest.raises(WorkflowTaskException) as caught:
        task.run()
    assert "imports are not allowed in scripts" in str(caught.value)
    assert "Error occurred in the Post-Script" in str(caught.value)


def test_functions_print_output_and_non_serializable_values_do_not_stay_in_task_data() -> None:
    data = run_script(
        "def helper():\n    return 1\n"
        "print('hello', helper())\n"
        "numbers = range(3)\nkeys = {'a': 1}.keys()\nlazy = (i for i in numbers)\n"
        "found = re_match('a', 'a')\nm = math\nkeep = helper()\n"
    )
    assert data == {"keep": 1}


def test_environment_globals_are_callable_and_not_left_in_task_data() -> None:
    engine = SandboxedScriptEngine(environment_globals={"double": lambda value: value * 2})
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(script_process("answer = double(21)").encode())
    workflow = BpmnWorkflow(parser.get_spec("proc"), script_engine=engine)
    workflow.do_engine_steps()
    assert task_data(workflow) == {"answer": 42}


# --- gateways -----------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "route"), [(250, "big"), (50, "small")])
def test_gateway_condition_chooses_the_branch(amount: int, route: str) -> None:
    workflow = start_workflow(
        gateway_process("amount > 100 and money(amount) > 0"), {"amount": amount}
    )
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert task_data(workflow, route)["route"] == route


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("__import__('os').system('true')", "access to '__import__' is not allowed"),
        ("amount / 0 > 1", "ZeroDivisionError: division by zero"),
        ("amount > 'x' * 10**10", "result would have 10000000000 characters"),
    ],
)
def test_gateway_condition_errors_name_the_problem(condition: str, message: str) -> None:
    workflow = start_workflow(gateway_process(condition), {"amount": 5})
    with pytest.raises(WorkflowTaskException) as caught:
        workflow.do_engine_steps()
    assert message in str(caught.value)
    assert f"Error evaluating expression '{condition}'" in str(caught.value)


# --- the escape corpus --------------------------------------------------------------------

ESCAPES = [
    ("import os", "imports are not allowed in scripts"),
    ("from os import path", "imports are not allowed in scripts"),
    ("y = open('/etc/passwd').read()", "open() is not allowed in scripts"),
    ("y = __import__('os')", "access to '__import__' is not allowed"),
    ("y = ().__class__.__mro__[1].__subclasses__()", "access to '__class__' is not allowed"),
    ("def f():\n    pass\ny = getattr(f, '__globals__')", "access to '__globals__' is not allowed"),
    ("y = '{0.__class__.__mro__}'.format(1)", "str.format() is not allowed in scripts"),
    ("y = Exception.mro()", "access to 'mro' is not allowed"),
    ("y = type(1)", "type() is not allowed in scripts"),
    ("class A:\n    pass", "class definitions are not allowed in scripts"),
    ("try:\n    y = 1\nexcept:\n    pass", "a bare 'except:' is not allowed"),
    ("try:\n    y = 1\nfinally:\n    pass", "'finally' blocks are not allowed in scripts"),
    ("raise SystemExit", "NameError: name 'SystemExit' is not defined"),
    ("y = 'x' * 10**10", "result would have 10000000000 characters; the limit is 1000000"),
    ("y = [0] * 10**9", "result would have 1000000000 items; the limit is 1000000"),
    ("y = 2 ** 10**8", "result would have about 30103000 digits; the limit is 10000"),
    ("y = 'a'\ny *= 10**10", "result would have 10000000000 characters; the limit is 1000000"),
    ("y = pow(2, 10**8)", "result would have about 30103000 digits"),
    ("y = 1 << 10**9", "result would have about 301029996 digits"),
    ("y = list(range(10**9))", "result would have 1000000000 items"),
    ("y = ', '.join(['a' * 1000] * 10000)", "result would have 10019998 characters"),
    ("y = 'ab'.ljust(10**8)", "result would have 100000000 characters"),
    ("y = '%2000000000d' % 1", "format width 2000000000 is larger than the limit of 1000000"),
    ("y = f'{1:>2000000000}'", "format width 2000000000 is larger than the limit of 1000000"),
    ("y = re_match('(a+)+$', 'aaaa')", "nested repetition such as '(a+)+' is not allowed"),
    ("y = re_match('a', 'a' * 20000)", "regular expressions may search at most 10000 characters"),
    # Decimal -> int is quadratic C code: int(Decimal('1e1000000')) alone takes ~30 s.
    ("y = int(Decimal('1e1000000'))", "result would have about 1000001 digits; the limit is 10000"),
    ("y = math.floor(Decimal('1e100000'))", "result would have about 100001 digits"),
    ("y = round(Decimal('1e100000'))", "result would have about 100001 digits"),
    ("y = '%d' % Decimal('1e100000')", "result would have about 100001 digits"),
    ("y = f\"{Decimal('1e-100000'):f}\"", "result would have about 100000 digits"),
    ("y = Decimal('1e100000').as_integer_ratio()", "result would have about 100001 digits"),
    # Shared references: small in memory, 10**12 characters as text.
    ("s = 'a' * 1000000\ny = str([s] * 1000000)", "would have over 1000000 characters"),
    ("s = 'a' * 1000000\ny = f'{[s, s]}'", "would have over 1000000 characters"),
    ("s = 'a' * 600000\ny = f'{s}{s}'", "result would have 1200000 characters"),
    ("s = 'a' * 1000000\nprint([s] * 1000)", "would have over 1000000 characters"),
    ("s = 'a' * 1000000\ny = json_dumps([s] * 1000)", "would have over 1000000 characters"),
    ("s = 'a' * 1000000\ny = '%s' * 100 % ((s,) * 100)", "result would have 100000600 characters"),
    ("s = 'a' * 1000000\nraise ValueError([s] * 1000000)", "message too long to show"),
    ("s = 'a' * 1000000\nkept = [s] * 1000000", "task data would have over 20000000 characters"),
]


@pytest.mark.parametrize(("script", "message"), ESCAPES, ids=[s for s, _ in ESCAPES])
def test_escape_attempt_fails_with_a_clear_error_and_no_side_effect(
    script: str, message: str
) -> None:
    error, workflow = failing_script(script, {"x": 1})
    assert message in str(error)
    task = workflow.get_next_task(spec_name="script")
    assert task is not None
    assert task.state == TaskState.ERROR
    assert task.data == {"x": 1}


def test_compile_time_refusal_reports_the_line() -> None:
    error, _ = failing_script("a = 1\nb = 2\nimport os\n")
    assert error.line_number == 3
    assert error.error_line == "import os"
    assert error.error_type == "ScriptForbidden"


@pytest.mark.parametrize(
    ("script", "message", "line"),
    [
        ("a = 1\nb = a / 0", "ZeroDivisionError: division by zero", 2),
        ("a = missing_name", "NameError: name 'missing_name' is not defined", 1),
        ("a = {}\nb = a[5]", "KeyError: 5", 2),  # SpiffWorkflow itself crashes on non-str args
        ("a = (", "SyntaxError", 1),
    ],
)
def test_runtime_and_syntax_errors_keep_message_and_line(
    script: str, message: str, line: int
) -> None:
    error, _ = failing_script(script)
    assert message in str(error)
    assert error.line_number == line


# --- the CPU budget -----------------------------------------------------------------------


def test_infinite_loop_stops_within_the_budget() -> None:
    # The budget is CPU time, so measure CPU time: wall time also counts other processes.
    cpu_started, wall_started = time.thread_time(), time.perf_counter()
    error, _ = failing_script("n = 0\nwhile True:\n    n += 1", cpu_seconds=0.3)
    cpu_spent = time.thread_time() - cpu_started
    assert "script exceeded its CPU time budget of 0.3 s" in str(error)
    assert error.error_type == "ScriptLimitExceeded"
    assert error.line_number in (2, 3)
    assert 0.29 <= cpu_spent < 0.45
    assert time.perf_counter() - wall_started < 3.0


def test_allocation_loop_stops_at_the_memory_allowance() -> None:
    started = time.perf_counter()
    error, workflow = failing_script(
        "parts = [('a' * 900000) + str(i) for i in range(5000)]",
        cpu_seconds=10,
        max_memory_mb=100,
    )
    assert "script used more than 100 MB of memory" in str(error)
    assert time.perf_counter() - started < 3.0  # 5000 parts would be 4.5 GB
    assert task_data(workflow) == {}


def test_the_same_thread_runs_scripts_normally_after_a_timeout() -> None:
    error, _ = failing_script("while True:\n    pass", cpu_seconds=0.3)
    assert "CPU time budget" in str(error)
    # Keep this thread busy past the old deadline: a stray async exception would land here.
    spin_until = time.perf_counter() + 0.5
    spins = 0
    while time.perf_counter() < spin_until:
        spins += 1
    assert spins > 0
    assert run_script("total = sum(range(1000))", cpu_seconds=0.3) == {"total": 499500}


def test_timeouts_at_the_edge_of_the_budget_never_leak_into_later_code() -> None:
    env = SandboxedEnvironment(limits=SandboxLimits(cpu_seconds=0.01))
    outcomes = {"finished": 0, "stopped": 0}
    for rounds in range(60):
        data = {"limit": 2_000 * rounds}
        try:
            env.execute("n = 0\nwhile n < limit:\n    n += 1", data)
            outcomes["finished"] += 1
        except ScriptLimitExceeded as error:
            assert str(error) == "script exceeded its CPU time budget of 0.01 s"
            outcomes["stopped"] += 1
        spin_until = time.perf_counter() + 0.015  # past any deadline of the evaluation above
        while time.perf_counter() < spin_until:
            pass
    assert outcomes["finished"] + outcomes["stopped"] == 60
    assert outcomes["finished"] > 0 and outcomes["stopped"] > 0


def test_budgets_are_per_thread() -> None:
    env = SandboxedEnvironment(limits=SandboxLimits(cpu_seconds=0.3))
    errors: list[BaseException] = []

    def spin_forever() -> None:
        try:
            env.execute("while True:\n    pass", {})
        except ScriptLimitExceeded as error:
            errors.append(error)

    looping = threading.Thread(target=spin_forever)
    looping.start()
    answers = [env.evaluate("n * 2", {"n": n}) for n in range(2000)]
    looping.join(timeout=5)
    assert not looping.is_alive()
    assert answers[-1] == 3998
    assert [str(e) for e in errors] == ["script exceeded its CPU time budget of 0.3 s"]


# --- the hot path -------------------------------------------------------------------------


def test_cached_trivial_expression_costs_well_under_50_microseconds() -> None:
    env = SandboxedEnvironment()
    context = {"n": 7, "customer": {"name": "Ada"}}
    assert env.evaluate("n < 100", context) is True
    hits_before = compile_sandboxed.cache_info().hits
    rounds = 5000
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            env.evaluate("n < 100", context)
        best = min(best, (time.perf_counter() - started) / rounds)
    assert compile_sandboxed.cache_info().hits - hits_before >= 3 * rounds
    assert best < 50e-6, f"{best * 1e6:.1f} µs per evaluation"


# --- direct environment checks ------------------------------------------------------------


def test_task_data_may_not_shadow_sandbox_hooks() -> None:
    env = SandboxedEnvironment()
    with pytest.raises(ScriptForbidden, match="reserved name"):
        env.evaluate("1", {"_getattr_": "x"})


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="cpu_seconds must be positive"):
        SandboxLimits(cpu_seconds=0)
    assert SandboxLimits(max_int_digits=100).max_int_bits == 333
