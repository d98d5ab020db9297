"""The BPMN runtime around SpiffWorkflow: deploy, persist, run, project. No HTTP here."""
