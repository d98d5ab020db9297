"""engine.parsing: uploaded files → specs or element-level issues; the spec cache."""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

import pytest
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec

from engine import parsing
from engine.errors import DeploymentError
from engine.parsing import DeployIssue, ParsedProcess, SpecCache, parse_bundle, parse_resources

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
OPERATOR = "warehouse.create_order"


def definitions(body: str, *, extra_ns: str = "") -> str:
    """A BPMN document around `body` (process elements and friends), one element per line."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:spiffworkflow="{SPIFF_NS}"{extra_ns}\n'
        '    id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">\n'
        f"{body}\n"
        "</bpmn:definitions>\n"
    )


def process(body: str, process_id: str = "order", name: str = "Order") -> str:
    head = f'<bpmn:process id="{process_id}" name="{name}" isExecutable="true">'
    return f"{head}\n{body}\n</bpmn:process>"


def start_end(prefix: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """Start and end events with ids unique to one process of a multi-process file."""
    start = (f"{prefix}_start", f'<bpmn:startEvent id="{prefix}_start" />')
    return start, (f"{prefix}_end", f'<bpmn:endEvent id="{prefix}_end" />')


def flow(flow_id: str, source: str, target: str) -> str:
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />'


def chain(*nodes: tuple[str, str]) -> str:
    """Elements `(id, xml)` joined by sequence flows in the given order."""
    parts = [xml for _id, xml in nodes]
    ids = [node_id for node_id, _xml in nodes]
    parts += [flow(f"f_{a}_{b}", a, b) for a, b in itertools.pairwise(ids)]
    return "\n".join(parts)


START = ("start", '<bpmn:startEvent id="start" />')
END = ("end", '<bpmn:endEvent id="end" />')
USER_TASK = (
    "approve",
    """<bpmn:userTask id="approve" name="Approve">
  <bpmn:extensionElements>
    <spiffworkflow:properties>
      <spiffworkflow:property name="formJsonSchemaFilename" value="approve-schema.json" />
      <spiffworkflow:property name="formUiSchemaFilename" value="approve-uischema.json" />
    </spiffworkflow:properties>
  </bpmn:extensionElements>
</bpmn:userTask>""",
)


def service_task(task_id: str = "create_order", operator: str = OPERATOR) -> tuple[str, str]:
    return (
        task_id,
        f"""<bpmn:serviceTask id="{task_id}">
  <bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="order">
      <spiffworkflow:parameters />
    </spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements>
</bpmn:serviceTask>""",
    )


SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
UI_SCHEMA = {"ok": {"ui:widget": "radio"}}


def happy_files(schema: dict[str, Any] | None = None) -> list[tuple[str, bytes]]:
    bpmn = definitions(process(chain(START, USER_TASK, service_task(), END)))
    return [
        ("order.bpmn", bpmn.encode()),
        ("approve-schema.json", json.dumps(schema or SCHEMA).encode()),
        ("approve-uischema.json", json.dumps(UI_SCHEMA).encode()),
    ]


def bpmn_file(body: str, name: str = "p.bpmn") -> list[tuple[str, bytes]]:
    return [(name, definitions(body).encode())]


def only_error(result: parsing.ParseResult) -> DeployIssue:
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


def line_of(files: list[tuple[str, bytes]], needle: str) -> int:
    text = files[0][1].decode()
    return text[: text.index(needle)].count("\n") + 1


# --- happy path ---------------------------------------------------------------------------


def test_spiff_process_with_forms_parses() -> None:
    result = parse_bundle(happy_files(), known_operators={OPERATOR})
    assert result.ok, result.errors
    assert result.warnings == []
    (parsed,) = result.processes
    assert (parsed.key, parsed.name, parsed.dialect) == ("order", "Order", "spiff")
    assert isinstance(parsed.spec, BpmnProcessSpec)
    assert {"approve", "create_order"} <= set(parsed.spec.task_specs)
    assert parsed.forms == {"approve-schema.json": SCHEMA, "approve-uischema.json": UI_SCHEMA}
    assert sorted(parsed.resources) == [
        "approve-schema.json",
        "approve-uischema.json",
        "order.bpmn",
    ]
    assert parsed.bpmn_xml == parsed.resources["order.bpmn"]
    assert len(parsed.content_hash) == 64
    assert parsed.subprocess_specs == {}


def test_content_hash_is_stable_and_follows_content() -> None:
    first = parse_bundle(happy_files()).processes[0]
    again = parse_bundle(list(reversed(happy_files()))).processes[0]
    changed_schema = {**SCHEMA, "title": "Approve the order"}
    changed = parse_bundle(happy_files(changed_schema)).processes[0]
    assert again.content_hash == first.content_hash
    assert changed.content_hash != first.content_hash
    assert first.content_hash == parsing.content_hash(first.resources)


def test_parse_resources_round_trip() -> None:
    parsed = parse_bundle(happy_files()).processes[0]
    again = parse_resources(parsed.resources, "order")
    assert again.content_hash == parsed.content_hash
    assert again.forms == parsed.forms
    assert again.spec is not parsed.spec
    assert set(again.spec.task_specs) == set(parsed.spec.task_specs)


def test_parse_resources_raises_deployment_error_with_details() -> None:
    parsed = parse_bundle(happy_files()).processes[0]
    broken = {**parsed.resources, "order.bpmn": "<bpmn:definitions"}
    with pytest.raises(DeploymentError) as info:
        parse_resources(broken, "order")
    assert info.value.details[0]["file"] == "order.bpmn"
    assert "not well-formed XML" in info.value.details[0]["msg"]
    with pytest.raises(DeploymentError, match="does not parse"):
        parse_resources(parsed.resources, "no_such_process")


def test_every_executable_process_becomes_a_parsed_process() -> None:
    body = "\n".join(
        [
            process(chain(*start_end("a")), "first", "First"),
            process(chain(*start_end("b")), "second", "Second").replace('"true"', '"false"'),
            process(chain(*start_end("c")), "third", "Third").replace(' isExecutable="true"', ""),
        ]
    )
    result = parse_bundle(bpmn_file(body))
    assert result.ok, result.errors
    assert [p.key for p in result.processes] == ["first", "third"]


def test_called_process_in_another_file_is_a_resource() -> None:
    caller = process(
        chain(START, ("call", '<bpmn:callActivity id="call" calledElement="child" />'), END),
        "parent",
    )
    files = bpmn_file(caller, "parent.bpmn") + bpmn_file(
        process(chain(START, END), "child"), "child.bpmn"
    )
    result = parse_bundle(files)
    assert result.ok, result.errors
    parent = next(p for p in result.processes if p.key == "parent")
    assert sorted(parent.resources) == ["child.bpmn", "parent.bpmn"]
    assert list(parent.subprocess_specs) == ["child"]
    assert parse_resources(parent.resources, "parent").content_hash == parent.content_hash


def test_missing_called_process_is_a_warning() -> None:
    call = '<bpmn:callActivity id="call" calledElement="elsewhere" />'
    files = bpmn_file(process(chain(START, ("call", call), END)))
    result = parse_bundle(files)
    assert result.ok, result.errors
    (warning,) = result.warnings
    assert (warning.file, warning.element_id) == ("p.bpmn", "call")
    assert warning.line == line_of(files, "<bpmn:callActivity")
    assert "'elsewhere' is not in the uploaded files" in warning.msg


def test_camunda_namespace_selects_the_camunda_parser() -> None:
    task = '<bpmn:userTask id="review" camunda:assignee="demo" />'
    camunda_ns = f' xmlns:camunda="{CAMUNDA_NS}"'
    text = definitions(process(chain(START, ("review", task), END)), extra_ns=camunda_ns)
    result = parse_bundle([("c.bpmn", text.encode())])
    assert result.ok, result.errors
    assert result.processes[0].dialect == "camunda"


def test_dmn_is_a_resource_of_the_process_that_uses_it() -> None:
    rule_task = """<bpmn:businessRuleTask id="decide">
  <bpmn:extensionElements>
    <spiffworkflow:calledDecisionId>discount</spiffworkflow:calledDecisionId>
  </bpmn:extensionElements>
</bpmn:businessRuleTask>"""
    files = bpmn_file(process(chain(START, ("decide", rule_task), END)))
    files += [("discount.dmn", DMN.encode()), ("unused.dmn", DMN.replace("discount", "x").encode())]
    result = parse_bundle(files)
    assert result.ok, result.errors
    assert sorted(result.processes[0].resources) == ["discount.dmn", "p.bpmn"]
    assert [w.file for w in result.warnings] == ["unused.dmn"]


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="D"
    namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="discount" name="Discount">
    <decisionTable id="table">
      <input id="in" label="Total">
        <inputExpression id="in_expr" typeRef="integer"><text>total</text></inputExpression>
      </input>
      <output id="out" name="discount" typeRef="integer" />
      <rule id="r1">
        <inputEntry id="r1_in"><text>&gt; 100</text></inputEntry>
        <outputEntry id="r1_out"><text>10</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_xsd_problems_are_warnings() -> None:
    # SpiffWorkflow parses this, while the XSD wants an xs:ID for the task id.
    files = bpmn_file(process(chain(START, ("1st", '<bpmn:task id="1st" />'), END)))
    result = parse_bundle(files)
    assert result.ok, result.errors
    assert result.warnings and all(w.msg.startswith("XSD: ") for w in result.warnings)
    assert result.warnings[0].line == line_of(files, '<bpmn:task id="1st"')


# --- bad input: files ---------------------------------------------------------------------


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("empty.bpmn", b"", "file is empty"),
        ("blank.bpmn", b"  \n\t ", "file is empty"),
        ("image.bpmn", PNG, "not UTF-8 text (byte 0x89 at offset 0); it looks like a binary file"),
        ("image.png", PNG, "unsupported file type '.png'"),
        ("notes.txt", b"this is no xml", "unsupported file type '.txt'"),
        ("README", b"hello", "unsupported file type '(none)'"),
        ("text.bpmn", b"this is no xml", "not well-formed XML: Start tag expected"),
        ("form.json", b"{'a': 1}", "not valid JSON: Expecting property name"),
        ("form.json", b"[1, 2]", "a form file must hold a JSON object"),
        ("deep.json", b"[" * 100_000, "not usable JSON: nested too deeply"),
        ("deep.bpmn", b"<a>" * 5_000, "not well-formed XML: Excessive depth in document"),
        ("utf16.bpmn", "<a/>".encode("utf-16"), "(byte 0xff at offset 0); it is UTF-16"),
    ],
)
def test_bad_files_give_file_errors(name: str, data: bytes, expected: str) -> None:
    result = parse_bundle([(name, data)])
    error = result.errors[0]
    assert error.file == name
    assert expected in error.msg
    assert result.processes == []


def test_non_utf8_names_the_line() -> None:
    text = definitions(process(chain(START, END), name="Caf\xe9"))
    data = text.encode("latin-1")
    error = only_error(parse_bundle([("latin.bpmn", data)]))
    assert "not UTF-8 text (byte 0xe9" in error.msg
    assert error.line == text[: text.index("Caf")].count("\n") + 1


def test_declared_encoding_is_ignored_for_utf8_text() -> None:
    text = definitions(process(chain(START, END), name="Заказ"))
    text = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    result = parse_bundle([("ru.bpmn", text.encode("utf-8"))])
    assert result.ok, result.errors
    assert result.processes[0].name == "Заказ"


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&lol9;"><bpmn:startEvent id="s" /></bpmn:process>
</bpmn:definitions>
"""
XXE = """<?xml version="1.0"?>
<!-- a comment first -->
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>
"""


@pytest.mark.parametrize(("text", "line"), [(BILLION_LAUGHS, 2), (XXE, 3)])
def test_dtd_and_entities_are_refused(text: str, line: int) -> None:
    started = time.monotonic()
    error = only_error(parse_bundle([("bomb.bpmn", text.encode())]))
    assert time.monotonic() - started < 2
    assert (error.file, error.line) == ("bomb.bpmn", line)
    assert error.msg == "DTD/<!DOCTYPE> declarations are not allowed (no entities)"


def test_file_over_the_size_limit() -> None:
    data = happy_files()[0][1]
    error = only_error(parse_bundle([("big.bpmn", data)], max_file_bytes=100))
    assert error.file == "big.bpmn"
    assert error.msg == f"file is {len(data)} bytes; the limit is 100 bytes"


def test_huge_file_with_default_limit() -> None:
    data = b"<a>" + b" " * (5 * 1024 * 1024) + b"</a>"
    error = only_error(parse_bundle([("huge.bpmn", data)]))
    assert "the limit is 5242880 bytes" in error.msg


def test_missing_namespace() -> None:
    text = '<?xml version="1.0"?>\n<definitions id="d"><process id="p" /></definitions>'
    error = only_error(parse_bundle([("plain.bpmn", text.encode())]))
    assert (error.file, error.element_id, error.line) == ("plain.bpmn", "d", 2)
    assert error.msg.startswith("root element <definitions> has no namespace")


def test_foreign_root_element() -> None:
    error = only_error(parse_bundle([("svg.bpmn", b'<svg xmlns="http://www.w3.org/2000/svg"/>')]))
    assert (
        error.msg
        == "not a BPMN or DMN document: the root element is <{http://www.w3.org/2000/svg}svg>"
    )


def test_no_process() -> None:
    result = parse_bundle(bpmn_file(""))
    error = only_error(result)
    # lxml gives a multi-line start tag the line of its closing ">"
    assert (error.file, error.line) == ("p.bpmn", line_of(bpmn_file(""), "targetNamespace"))
    assert error.msg == "the file defines no process; nothing to deploy"


def test_collaboration_without_executable_process() -> None:
    participant = '<bpmn:participant id="pa" processRef="p1" />'
    body = f'<bpmn:collaboration id="c">{participant}</bpmn:collaboration>\n'
    body += process(chain(START, END), "p1").replace('"true"', '"false"')
    files = bpmn_file(body)
    error = only_error(parse_bundle(files))
    assert (error.element_id, error.line) == ("p1", line_of(files, '<bpmn:process id="p1"'))
    assert error.msg == 'no executable process: every process has isExecutable="false"'
    only = only_error(parse_bundle(bpmn_file(body.split("\n")[0])))
    assert only.msg == "the file defines a collaboration but no process; nothing to deploy"


def test_duplicate_ids() -> None:
    body = process(chain(START, ("t", '<bpmn:task id="t" />'), END) + '\n<bpmn:task id="t" />')
    files = bpmn_file(body)
    error = only_error(parse_bundle(files))
    text = files[0][1].decode()
    second = text.index('<bpmn:task id="t"', text.index('<bpmn:task id="t"') + 1)
    assert (error.element_id, error.line) == ("t", text[:second].count("\n") + 1)
    assert error.msg == "duplicate id 't'"


def test_duplicate_process_id_across_files() -> None:
    body = process(chain(START, END))
    result = parse_bundle(bpmn_file(body, "a.bpmn") + bpmn_file(body, "b.bpmn"))
    error = only_error(result)
    assert (error.file, error.element_id) == ("b.bpmn", "order")
    assert error.msg == "process id 'order' is also defined in a.bpmn"


def test_empty_upload_and_upload_without_bpmn() -> None:
    assert only_error(parse_bundle([])).msg == "no files were uploaded"
    form_only = parse_bundle([("f.json", b'{"type": "object"}')])
    assert only_error(form_only).msg.startswith("the upload has no BPMN file")


def test_same_file_name_twice() -> None:
    files = happy_files()
    result = parse_bundle(files + files[:1])
    assert only_error(result).msg == "a file with this name was uploaded twice"


def test_invalid_json_schema_and_json_line() -> None:
    files = happy_files({"type": "object", "properties": {"ok": {"type": "yes-no"}}})
    result = parse_bundle(files)
    error = only_error(result)
    assert error.file == "approve-schema.json"
    assert error.msg.startswith("not a valid JSON Schema at $.properties.ok.type:")
    broken = parse_bundle([("x.json", b'{\n  "a": 1,\n}')])
    assert only_error(broken).line == 3


def test_ui_schema_is_not_checked_as_json_schema() -> None:
    files = happy_files()
    files[2] = ("approve-uischema.json", b'{"type": "not-a-json-schema-type"}')
    assert parse_bundle(files).ok


# --- bad input: SpiffWorkflow's own errors ------------------------------------------------


def test_spiffworkflow_validation_error_has_element_and_line() -> None:
    task = '<bpmn:serviceTask id="charge" />'
    files = bpmn_file(process(chain(START, ("charge", task), END)))
    error = only_error(parse_bundle(files))
    assert (error.file, error.element_id) == ("p.bpmn", "charge")
    assert error.line == line_of(files, task)
    assert error.msg == "A Service Task must have an operator"


def test_exclusive_gateway_condition_error_points_at_the_flow() -> None:
    body = chain(START, ("gw", '<bpmn:exclusiveGateway id="gw" />'), END)
    body += "\n" + flow("f_gw_other", "gw", "other") + '\n<bpmn:endEvent id="other" />'
    files = bpmn_file(process(body))
    error = only_error(parse_bundle(files))
    assert error.element_id in {"f_gw_end", "f_gw_other"}
    assert error.msg == "Non-default exclusive outgoing sequence flow without condition"
    assert error.line == line_of(files, f'<bpmn:sequenceFlow id="{error.element_id}"')


def test_messages_carry_no_memory_addresses() -> None:
    task = '<bpmn:task id="t"><bpmn:dataInputAssociation id="a"><bpmn:sourceRef>nowhere'
    task += "</bpmn:sourceRef></bpmn:dataInputAssociation></bpmn:task>"
    error = only_error(parse_bundle(bpmn_file(process(chain(START, ("t", task), END)))))
    assert (error.element_id, error.msg) == ("t", "Cannot resolve dataInputAssociation <sourceRef>")


def test_camunda_business_rule_task_without_decision_ref() -> None:
    camunda_ns = f' xmlns:camunda="{CAMUNDA_NS}"'
    task = '<bpmn:businessRuleTask id="rule" camunda:class="org.Example" />'
    text = definitions(process(chain(START, ("rule", task), END)), extra_ns=camunda_ns)
    error = only_error(parse_bundle([("c.bpmn", text.encode())]))
    assert error.element_id == "rule"
    assert error.msg.startswith("business rule task has no camunda:decisionRef")


def test_dmn_with_two_decisions() -> None:
    two = DMN.replace("</definitions>", '<decision id="other" /></definitions>')
    files = [*bpmn_file(process(chain(START, END))), ("two.dmn", two.encode())]
    error = only_error(parse_bundle(files))
    assert error.file == "two.dmn"
    assert (
        error.msg
        == "SpiffWorkflow runs exactly one decision per DMN file; this one has 2 decisions"
    )


# --- potok's semantic checks --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["exclusiveGateway", "inclusiveGateway", "eventBasedGateway"])
def test_gateway_without_outgoing_flow(kind: str) -> None:
    gateway = f'<bpmn:{kind} id="decide" />'
    files = bpmn_file(process(chain(START, ("decide", gateway))))
    error = only_error(parse_bundle(files))
    assert (error.file, error.element_id) == ("p.bpmn", "decide")
    assert error.line == line_of(files, gateway)
    assert "gateway has no outgoing sequence flow" in error.msg


def test_unknown_operator_names_the_service_task() -> None:
    files = happy_files()
    error = only_error(parse_bundle(files, known_operators={"sms.send"}))
    assert (error.file, error.element_id) == ("order.bpmn", "create_order")
    assert error.line == line_of(files, '<bpmn:serviceTask id="create_order"')
    assert error.msg == f"unknown service task operator '{OPERATOR}'"
    assert parse_bundle(files, known_operators=None).ok


def test_missing_form_file_is_an_error_on_the_user_task() -> None:
    files = happy_files()[:2]
    error = only_error(parse_bundle(files))
    assert (error.file, error.element_id) == ("order.bpmn", "approve")
    assert error.line == line_of(files, '<bpmn:userTask id="approve"')
    assert (
        error.msg
        == "form file 'approve-uischema.json' (formUiSchemaFilename) is not in the uploaded files"
    )


def test_unused_form_is_a_warning() -> None:
    files = [*happy_files(), ("spare.json", b'{"type": "object"}')]
    result = parse_bundle(files)
    assert result.ok
    assert [(w.file, w.msg) for w in result.warnings] == [
        ("spare.json", "this file is not used by any process in the upload")
    ]


def test_timer_with_empty_expression() -> None:
    timer = (
        '<bpmn:intermediateCatchEvent id="wait">'
        "<bpmn:timerEventDefinition><bpmn:timeDuration>  </bpmn:timeDuration>"
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    files = bpmn_file(process(chain(START, ("wait", timer), END)))
    error = only_error(parse_bundle(files))
    assert (error.element_id, error.line) == ("wait", line_of(files, timer))
    assert error.msg.startswith("timer has an empty expression")


def test_message_catch_without_a_message_name() -> None:
    catch = (
        '<bpmn:intermediateCatchEvent id="paid">'
        '<bpmn:messageEventDefinition messageRef="m" /></bpmn:intermediateCatchEvent>'
    )
    body = process(chain(START, ("paid", catch), END)) + '\n<bpmn:message id="m" />'
    files = bpmn_file(body)
    error = only_error(parse_bundle(files))
    assert (error.element_id, error.line) == ("paid", line_of(files, catch))
    assert error.msg.startswith("message catch has no message name")
    named = parse_bundle(bpmn_file(body.replace('id="m"', 'id="m" name="payment"')))
    assert named.ok, named.errors


def test_receive_task_without_message() -> None:
    files = bpmn_file(process(chain(START, ("wait", '<bpmn:receiveTask id="wait" />'), END)))
    assert only_error(parse_bundle(files)).element_id == "wait"


def subprocess(inner: str) -> tuple[str, str]:
    return ("sub", f'<bpmn:subProcess id="sub">\n{inner}\n</bpmn:subProcess>')


INNER_START = ("s2", '<bpmn:startEvent id="s2" />')
INNER_END = ("e2", '<bpmn:endEvent id="e2" />')


def test_dead_end_inside_a_subprocess_is_an_error() -> None:
    inner = chain(INNER_START, ("stuck", '<bpmn:manualTask id="stuck" />')) + "\n" + INNER_END[1]
    files = bpmn_file(process(chain(START, subprocess(inner), END)))
    error = only_error(parse_bundle(files))
    assert (error.element_id, error.line) == ("stuck", line_of(files, 'id="stuck"'))
    assert "never reach its end event" in error.msg


def test_dead_end_at_top_level_is_an_implicit_end() -> None:
    files = bpmn_file(process(chain(START, ("last", '<bpmn:manualTask id="last" />'))))
    result = parse_bundle(files)
    assert result.ok, result.errors


def test_dead_end_in_a_parallel_branch_of_a_subprocess_is_fine() -> None:
    # Another token reaches the end event; SpiffWorkflow's end join then waits for both.
    inner = chain(
        INNER_START,
        ("fork", '<bpmn:parallelGateway id="fork" />'),
        ("a", '<bpmn:task id="a" />'),
        INNER_END,
    )
    inner += "\n" + flow("f_fork_b", "fork", "b") + '\n<bpmn:task id="b" />'
    result = parse_bundle(bpmn_file(process(chain(START, subprocess(inner), END))))
    assert result.ok, result.errors


def test_dead_end_in_a_called_process_is_an_error() -> None:
    call = ("call", '<bpmn:callActivity id="call" calledElement="child" />')
    child_start, _ = start_end("child")
    body = process(chain(START, call, END), "parent") + "\n"
    body += process(chain(child_start, ("half", '<bpmn:task id="half" />')), "child")
    result = parse_bundle(bpmn_file(body))
    error = only_error(result)
    assert error.element_id == "half"
    assert [p.key for p in result.processes] == ["child"]  # on its own, child is fine


# --- robustness ---------------------------------------------------------------------------


def test_unexpected_exception_while_loading_is_a_generic_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*_args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(parsing, "_load_xml", explode)
    result = parse_bundle(happy_files())
    assert [(e.file, e.msg) for e in result.errors] == [
        ("order.bpmn", "internal error while reading this file")
    ]


def test_unexpected_exception_anywhere_is_a_generic_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(parsing, "_parse_docs", explode)
    error = only_error(parse_bundle(happy_files()))
    assert error.msg == "internal error while parsing the files; nothing was deployed"


def test_unexpected_spiffworkflow_exception_is_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: Any, **_kwargs: Any) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(parsing.PotokBpmnParser, "get_spec", explode)
    error = only_error(parse_bundle(happy_files()))
    assert error.file == "order.bpmn"
    assert (
        error.msg == "SpiffWorkflow could not parse this file (ZeroDivisionError: division by zero)"
    )


def test_issue_as_dict_and_result_ok() -> None:
    issue = DeployIssue("a.bpmn", "Task_1", 7, "broken")
    assert issue.as_dict() == {"file": "a.bpmn", "element_id": "Task_1", "line": 7, "msg": "broken"}
    assert parsing.ParseResult([], [], [issue]).ok
    assert not parsing.ParseResult([], [issue], []).ok


# --- the spec cache -----------------------------------------------------------------------


@pytest.fixture()
def stored() -> ParsedProcess:
    return parse_bundle(happy_files()).processes[0]


def test_cache_returns_the_same_object(stored: ParsedProcess) -> None:
    cache = SpecCache()
    first = cache.get_or_parse(stored.content_hash, stored.resources, stored.key)
    second = cache.get_or_parse(stored.content_hash, stored.resources, stored.key)
    assert first is second
    assert first is not stored
    assert cache.get(stored.content_hash, stored.key) is first


def test_cache_parses_once_for_concurrent_gets(
    stored: ParsedProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = parsing.parse_resources

    def slow_parse(resources: dict[str, str], key: str) -> ParsedProcess:
        calls.append(key)
        time.sleep(0.05)  # keep the other threads waiting on the same miss
        return real(resources, key)

    monkeypatch.setattr(parsing, "parse_resources", slow_parse)
    cache = SpecCache()
    barrier = threading.Barrier(8)
    results: list[ParsedProcess] = []

    def worker() -> None:
        barrier.wait()
        results.append(cache.get_or_parse(stored.content_hash, stored.resources, stored.key))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [stored.key]
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_cache_put_and_lru_bound(stored: ParsedProcess) -> None:
    cache = SpecCache(maxsize=2)
    cache.put(stored)
    assert cache.get_or_parse(stored.content_hash, {}, stored.key) is stored
    cache.put(ParsedProcess(**{**stored.__dict__, "key": "b"}))
    cache.get(stored.content_hash, stored.key)  # touch: "b" is now the oldest
    cache.put(ParsedProcess(**{**stored.__dict__, "key": "c"}))
    assert len(cache) == 2
    assert cache.get(stored.content_hash, "b") is None
    assert cache.get(stored.content_hash, stored.key) is stored


def test_cache_keys_by_process_too() -> None:
    body = (
        process(chain(*start_end("one")), "one") + "\n" + process(chain(*start_end("two")), "two")
    )
    one, two = parse_bundle(bpmn_file(body)).processes
    assert one.content_hash == two.content_hash  # same file, same content
    cache = SpecCache()
    assert cache.get_or_parse(one.content_hash, one.resources, "one").key == "one"
    assert cache.get_or_parse(two.content_hash, two.resources, "two").key == "two"


def test_cache_miss_that_fails_raises(stored: ParsedProcess) -> None:
    cache = SpecCache()
    with pytest.raises(DeploymentError):
        cache.get_or_parse("0" * 64, {"x.bpmn": "not xml"}, "order")
    assert len(cache) == 0
