#!/usr/bin/env bash
# Real servers for the connection tests, each on 127.0.0.1 only, installed when missing:
#   PostgreSQL :55432, MariaDB :53306, FTP (pyftpdlib) :2121, OpenSSH :2222,
#   S3 with request signing enforced (moto) :4567, oidc-provider (OAuth 2.0 / OIDC) :4800.
# Credentials and fingerprints the tests need are written to .local/servers/.
#   servers.sh start | stop
set -euo pipefail
cd "$(dirname "$0")/../.."
state=$PWD/.local/servers
mkdir -p "$state"
run=/tmp/latchkey-servers
PG_PORT=55432 MY_PORT=53306 FTP_PORT=2121 SSH_PORT=2222 S3_PORT=4567 OIDC_PORT=4800

need_apt() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Already serving (a previous start in this checkout): leave it be.
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 120); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.5
  done
  echo "nothing listens on 127.0.0.1:$1 ($2)" >&2
  return 1
}

# A CA made here and a server certificate for "localhost" (a name that resolves to 127.0.0.1),
# so the database testers' TLS modes meet real handshakes: the CA is what a credential's
# ca_certificate names, and verify-full checks the host name against the certificate.
make_tls() {
  [ -f "$state/tls/server.crt" ] && return 0
  need_apt openssl
  local dir="$state/tls"
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Latchkey test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=DNS:localhost" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" > "$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 3650 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
}

start_postgres() {
  up "$PG_PORT" && return 0
  make_tls
  # PostgreSQL wants its key owned by its user and private.
  mkdir -p "$run/pg-tls"
  cp "$state/tls/server.crt" "$state/tls/server.key" "$run/pg-tls/"
  chown postgres "$run/pg-tls" "$run/pg-tls/"*
  chmod 600 "$run/pg-tls/server.key"
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  if [ ! -f "$run/pg/PG_VERSION" ]; then
    mkdir -p "$run/pg"
    chown postgres "$run/pg"
    echo postgres-admin > "$run/pg.pw"
    chown postgres "$run/pg.pw"
    runuser -u postgres -- "$bin/initdb" -D "$run/pg" -A scram-sha-256 --pwfile="$run/pg.pw" -U postgres >/dev/null
  fi
  runuser -u postgres -- "$bin/pg_ctl" -D "$run/pg" -l "$run/pg/server.log" -w \
    -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=$run/pg-tls/server.crt -c ssl_key_file=$run/pg-tls/server.key" start >/dev/null
  PGPASSWORD=postgres-admin psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qtA -c \
    "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'latchkey') THEN CREATE ROLE latchkey LOGIN PASSWORD 'pg-right-password'; END IF; END \$\$;" >/dev/null
  PGPASSWORD=postgres-admin psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qtA -c "SELECT 1 FROM pg_database WHERE datname = 'sales'" | grep -q 1 ||
    PGPASSWORD=postgres-admin psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE sales OWNER latchkey" >/dev/null
}

start_mariadb() {
  up "$MY_PORT" && return 0
  need_apt mariadb-server
  if [ ! -d "$run/my/mysql" ]; then
    mkdir -p "$run/my"
    mariadb-install-db --user=root --datadir="$run/my" --auth-root-authentication-method=socket >/dev/null
  fi
  make_tls
  nohup mariadbd --user=root --datadir="$run/my" --port="$MY_PORT" --bind-address=127.0.0.1 \
    --socket="$run/my.sock" --pid-file="$run/my.pid" --skip-log-bin \
    --ssl-ca="$state/tls/ca.crt" --ssl-cert="$state/tls/server.crt" --ssl-key="$state/tls/server.key" \
    > "$run/my.log" 2>&1 &
  wait_port "$MY_PORT" mariadb
  for _ in $(seq 1 60); do [ -S "$run/my.sock" ] && break; sleep 0.5; done
  mariadb -S "$run/my.sock" -u root -e "CREATE DATABASE IF NOT EXISTS sales;
    CREATE USER IF NOT EXISTS 'latchkey'@'127.0.0.1' IDENTIFIED BY 'my-right-password';
    CREATE USER IF NOT EXISTS 'latchkey'@'localhost' IDENTIFIED BY 'my-right-password';
    GRANT ALL ON sales.* TO 'latchkey'@'127.0.0.1'; GRANT ALL ON sales.* TO 'latchkey'@'localhost';"
}

start_ftp() {
  up "$FTP_PORT" && return 0
  mkdir -p "$run/ftp-home"
  nohup .venv/bin/python tests/stack/ftp_server.py "$FTP_PORT" latchkey ftp-right-password "$run/ftp-home" > "$run/ftp.log" 2>&1 &
  echo $! > "$run/ftp.pid"
}

start_ssh() {
  up "$SSH_PORT" && return 0
  need_apt openssh-server
  id latchkey-sftp >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin latchkey-sftp
  echo 'latchkey-sftp:ssh-right-password' | chpasswd
  mkdir -p "$run/ssh" /run/sshd
  [ -f "$run/ssh/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$run/ssh/host_ed25519"
  [ -f "$state/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C latchkey-test -f "$state/client_ed25519"
  cp "$state/client_ed25519.pub" "$run/ssh/authorized_keys"
  chmod 644 "$run/ssh/authorized_keys"
  ssh-keygen -lf "$run/ssh/host_ed25519.pub" -E sha256 | awk '{print $2}' > "$state/ssh_host_fingerprint"
  cat > "$run/ssh/sshd_config" <<CONF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $run/ssh/host_ed25519
PidFile $run/ssh/sshd.pid
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $run/ssh/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin no
AllowUsers latchkey-sftp
CONF
  /usr/sbin/sshd -f "$run/ssh/sshd_config" -E "$run/ssh.log"
}

start_s3() {
  up "$S3_PORT" && return 0
  # Its own emulator: signing is enforced for every call after the set-up's first four.
  INITIAL_NO_AUTH_ACTION_COUNT=4 nohup .venv/bin/python tests/stack/moto_serial.py 127.0.0.1 "$S3_PORT" > "$run/s3.log" 2>&1 &
  echo $! > "$run/s3.pid"
  wait_port "$S3_PORT" s3
  .venv/bin/python tests/stack/s3_setup.py "http://127.0.0.1:$S3_PORT" "$state/s3.json"
}

# The browser the console's tests drive (Playwright's own download cannot reach the internet).
install_browser() {
  command -v chromium >/dev/null || need_apt chromium fonts-dejavu-core
}

start_oidc() {
  up "$OIDC_PORT" && return 0
  # Pinned by tests/stack/oidc/package-lock.json; installed once per checkout.
  [ -d tests/stack/oidc/node_modules/oidc-provider ] || npm ci --prefix tests/stack/oidc --no-audit --no-fund >/dev/null
  nohup node tests/stack/oidc/provider.mjs "$OIDC_PORT" http://127.0.0.1:9/oauth/callback > "$run/oidc.log" 2>&1 &
  echo $! > "$run/oidc.pid"
}

case "${1:-start}" in
start)
  mkdir -p "$run"
  tests/stack/venv.sh
  start_postgres
  start_mariadb
  start_ftp
  start_ssh
  start_s3
  start_oidc
  install_browser
  wait_port "$OIDC_PORT" oidc-provider
  wait_port "$FTP_PORT" ftp
  wait_port "$SSH_PORT" ssh
  echo "test servers ready"
  ;;
stop)
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -f "$run/pg/postmaster.pid" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$run/pg" -m fast stop >/dev/null || true
  for pidfile in "$run/my.pid" "$run/ftp.pid" "$run/ssh/sshd.pid" "$run/s3.pid" "$run/oidc.pid"; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
