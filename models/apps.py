"""Apps mcis deploys on every VM of an MCIS with one command (the seed's demo: nginx): their
install scripts, plain data that policies name and remote commands run. Scripts read the VM's
identity from the MCIS_* variables every remote command gets."""

from __future__ import annotations

WWW = "/tmp/mcis-www"
NGINX_PREFIX = "/tmp/mcis-nginx"

NGINX = f"""set -e
mkdir -p {WWW} {NGINX_PREFIX}/logs
cat > {WWW}/index.html <<PAGE
<!doctype html><title>$MCIS_VM</title>
<h1>mcis web server on $MCIS_VM</h1>
<p>cloud $MCIS_PROVIDER, region $MCIS_REGION, MCIS $MCIS_NAMESPACE/$MCIS_NAME</p>
PAGE
if command -v nginx >/dev/null 2>&1; then
  cat > {NGINX_PREFIX}/nginx.conf <<CONF
pid {NGINX_PREFIX}/nginx.pid;
error_log {NGINX_PREFIX}/logs/error.log;
events {{ worker_connections 256; }}
http {{ access_log off; server {{ listen 80; root {WWW}; }} }}
CONF
  nginx -p {NGINX_PREFIX} -c {NGINX_PREFIX}/nginx.conf -s stop >/dev/null 2>&1 || true
  nginx -p {NGINX_PREFIX} -c {NGINX_PREFIX}/nginx.conf </dev/null >/dev/null 2>&1
  server=nginx
else
  setsid -f python3 -m http.server 80 --directory {WWW} </dev/null >{WWW}.log 2>&1
  server=python3-http.server
fi
for _ in $(seq 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/80) 2>/dev/null; then echo "ready: $server"; exit 0; fi
  sleep 0.1
done
echo "web server did not start listening on port 80" >&2
exit 1
"""

APPS: dict[str, str] = {"nginx": NGINX}
"""App name -> the script that deploys and starts it (idempotent: run again, it restarts)."""
