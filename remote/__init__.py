"""SSH to VMs with fabric: run commands, put files, trust host keys on first use. Plain code
with no Temporal import, used by the remote activities."""
