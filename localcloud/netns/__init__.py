"""Real VMs for the local cloud on one Linux host (root): network namespaces on a bridge,
private mount/UTS/IPC/PID namespaces over a copy-on-write root, sshd, cgroup caps, latency
between regions. `choose.choose_backend` picks this or the phantom backend at start-up."""
