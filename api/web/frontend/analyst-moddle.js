// The SpiffWorkflow extension elements potok executes, as a bpmn-moddle package, so the
// modeler reads and writes them as typed objects (and keeps them intact on save).
// XML names are the type names with a lower-case first letter (tagAlias "lowerCase").

const body = (name) => ({
  name,
  superClass: ["Element"],
  properties: [{ name: "value", isBody: true, type: "String" }],
});

export default {
  name: "SpiffWorkflow",
  uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
  prefix: "spiffworkflow",
  xml: { tagAlias: "lowerCase" },
  associations: [],
  types: [
    {
      name: "ServiceTaskOperator",
      superClass: ["Element"],
      properties: [
        { name: "id", isAttr: true, type: "String" },
        { name: "resultVariable", isAttr: true, type: "String" },
        { name: "parameters", type: "Parameters" },
        { name: "retry", type: "Retry" },
      ],
    },
    {
      name: "Parameters",
      superClass: ["Element"],
      properties: [{ name: "parameter", type: "Parameter", isMany: true }],
    },
    {
      name: "Parameter",
      superClass: ["Element"],
      properties: [
        { name: "id", isAttr: true, type: "String" },
        { name: "type", isAttr: true, type: "String" },
        { name: "value", isAttr: true, type: "String" },
      ],
    },
    {
      name: "Retry",
      superClass: ["Element"],
      properties: [
        { name: "retries", isAttr: true, type: "String" },
        { name: "backoff_base", isAttr: true, type: "String" },
      ],
    },
    {
      name: "Properties",
      superClass: ["Element"],
      properties: [{ name: "property", type: "Property", isMany: true }],
    },
    {
      name: "Property",
      superClass: ["Element"],
      properties: [
        { name: "name", isAttr: true, type: "String" },
        { name: "value", isAttr: true, type: "String" },
      ],
    },
    body("InstructionsForEndUser"),
    body("PreScript"),
    body("PostScript"),
    body("MessageVariable"),
    body("MessagePayload"),
    body("CalledDecisionId"),
  ],
};

// bpmn-moddle writes a few FormalExpression-typed properties under the type's name
// (<bpmn:formalExpression>) instead of the property's (<bpmn:messagePath>), which silently
// drops correlation keys from any diagram saved by bpmn-js. Serialize them by property.
const BY_PROPERTY = [
  ["bpmn:CorrelationPropertyRetrievalExpression", "messagePath"],
  ["bpmn:CorrelationPropertyBinding", "dataPath"],
  ["bpmn:ComplexBehaviorDefinition", "condition"],
];

export function serializeExpressionsByProperty(moddle) {
  for (const [type, name] of BY_PROPERTY) {
    const descriptor = moddle.getElementDescriptor(moddle.getType(type));
    const property = descriptor && descriptor.propertiesByName[name];
    if (property && !property.xml) property.xml = { serialize: "property" };
  }
}
