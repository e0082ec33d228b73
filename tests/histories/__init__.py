"""Recorded workflow histories: what every release must still replay.

An MCIS workflow lives for years, so a worker of release N meets histories written by every
release before it. Each folder here is one release's recording (`0.1.0/`, ...): the history of
every workflow type and operation, as JSON (`WorkflowHistory.to_json()`, the format of
`temporal workflow show -o json`), named `<WorkflowType>-<scenario>[-<n>].json` (`-<n>` when a
scenario leaves several runs: continue-as-new, several workflows), and `workflow-ids.json`, the
workflow id of each (a workflow may name its children after its own id).

- Record at a release: `make histories RELEASE=x.y.z` (`python -m tests.histories.record
  --release x.y.z`; default: the pyproject version). It rewrites that folder only; commit it
  next to the folders of earlier releases and never edit or delete theirs.
- `tests/workflows/test_replay.py` (in `make test`) replays every file on today's code, one test
  per file, and fails on any nondeterminism; it also checks every workflow type has histories
  and none holds key material.
- A workflow change that would fail them goes behind `workflow.patched("<id>")` (the old path
  stays for old histories; `workflow.deprecate_patch` once no workflow that could take the old
  path still runs), never a re-recording of a released folder.

Scenarios (`record.py`): McisWorkflow create (also with the refine and rollback policies),
suspend/resume/reboot/terminate, refine, scale out/in/out, add-group and remove-vm,
reconcile and refresh, delete, and a continue-as-new (both runs); ResourceWorkflow ensure of a
vNet, a security group and an SSH key, and a delete; PolicyWorkflow over twelve simulated hours
(a scale-out and scale-ins, pause, resume, delete) and a continue-as-new; RemoteWorkflow command,
put and an unknown scope; BenchmarkWorkflow with four actions; SweepWorkflow report and delete.
"""
