"""The HTTP face of mcis: the native REST API (`/v1`), the CB-Tumblebug 0.3 compatible API
(`/tumblebug`), the CB-Spider connection endpoints (their own port) and the dashboard (`/`).
Every route calls the same code as the CLI (`starter/`), through one `Context` per server."""
